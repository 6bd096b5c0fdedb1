"""What an exclusion leaves out of rankings, and what it keeps: a refund of
an excluded gift moves nothing twice, a donor with one fair gift still counts,
leagues leave the gift out, and the Redis boards follow the commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from campaigns.fairplay import services
from campaigns.fairplay.models import FairPlayFlag
from campaigns.giving import ledger
from campaigns.giving.models import Donation, DonationKind
from campaigns.leagues import services as leagues
from campaigns.model_types import utcnow
from campaigns.standings import board_index, leaderboards, rank_reads, ranks
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from campaigns.unit_of_work import run_transaction
from extensions import db as _db
from tests.campaigns.standings.test_ranks import assert_same, needs_redis, redis_app  # noqa: F401
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)


def give(page, amount, email):
    return ledger.record_gift(page=page, cause=page.cause, amount_minor=amount, donor_email=email)


def flag_of(gift) -> FairPlayFlag:
    return _db.session.scalar(select(FairPlayFlag).where(FairPlayFlag.gift_id == gift.id))


def figures(page) -> tuple[int, int]:
    entry = leaderboards.rank_of(page)
    return entry.raised_minor, entry.donor_count


@pytest.fixture
def scene(db, org, cause, staffer):
    """An event with Léa's page in it; Léa gives to her own page twice."""
    event = EventPageFactory(cause=cause, slug="lyon", title="Lyon")
    mine = PageFactory(cause=cause, parent=event)
    mine.owner.email = "lea@example.org"
    give(mine, 30_00, "friend@example.org")
    own = give(mine, 20_00, "lea@example.org")
    return {"event": event, "mine": mine, "own": own, "staff": staffer}


def test_the_event_board_and_the_donor_counts_leave_the_gift_out(db, scene):
    mine, event, own = scene["mine"], scene["event"], scene["own"]
    assert figures(mine) == (50_00, 2) and figures(event) == (50_00, 2)
    services.exclude(scene["staff"], flag_of(own))
    assert figures(mine) == (30_00, 1) and figures(event) == (30_00, 1)
    give(mine, 5_00, "friend@example.org")  # a fair donor counts once, as before
    assert figures(mine) == (35_00, 1)
    assert totals.figures_one(TotalScope.PAGE, mine.id).donor_count == 2
    assert totals.drift() == []


def test_a_refund_of_an_excluded_gift_is_not_taken_off_twice(db, scene):
    mine, own = scene["mine"], scene["own"]
    services.exclude(scene["staff"], flag_of(own))
    ledger.record_further_row(own, DonationKind.REFUND, -20_00)
    assert totals.figures_one(TotalScope.PAGE, mine.id).raised_minor == 30_00
    assert figures(mine) == (30_00, 1)  # not 10 €: the refund was of money left out
    services.clear(scene["staff"], flag_of(own))
    assert figures(mine) == (30_00, 2)  # counted again: nothing left of it but its donor
    assert totals.drift() == []


def test_excluding_is_idempotent_for_the_rank_index(db, scene):
    from campaigns.errors import Conflict

    services.exclude(scene["staff"], flag_of(scene["own"]))
    before = figures(scene["mine"])
    with pytest.raises(Conflict):
        services.exclude(scene["staff"], flag_of(scene["own"]))
    assert figures(scene["mine"]) == before
    # The index rebuilt from scratch agrees with the one kept up to date.
    board_index.rebuild(scene["mine"].cause_id)
    assert figures(scene["mine"]) == before


def test_a_free_agent_cannot_exclude_through_the_service(db, scene):
    from campaigns.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.exclude(scene["mine"].owner, flag_of(scene["own"]))
    assert figures(scene["mine"]) == (50_00, 2)


def test_a_league_leaves_an_excluded_gift_out(db, org, scene, outsider):
    now = utcnow()
    contest = leagues.create_contest(
        {
            "slug": "nuit",
            "title": "La nuit",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "entrants": [org.slug, "autre"],
        }
    )
    ours = next(s for s in leagues.board(contest) if s.organisation.id == org.id)
    assert (ours.raised_minor, ours.donor_count, ours.gift_count) == (50_00, 2, 2)
    services.exclude(scene["staff"], flag_of(scene["own"]))
    ours = next(s for s in leagues.board(contest) if s.organisation.id == org.id)
    assert (ours.raised_minor, ours.donor_count, ours.gift_count) == (30_00, 1, 1)
    assert totals.figures_one(TotalScope.ORGANISATION, org.id).raised_minor == 50_00


@needs_redis
def test_the_redis_boards_follow_an_exclusion_at_its_commit(redis_app):  # noqa: F811
    org = OrganisationFactory()
    cause = CauseFactory(organisation=org)
    staff = MembershipFactory(organisation=org).agent
    mine = PageFactory(cause=cause, slug="mine")
    rival = PageFactory(cause=cause, slug="rival")
    mine.owner.email = "owner@example.org"
    _db.session.commit()
    cause_id, mine_id = cause.id, mine.id
    assert_same(cause_id)  # builds the sets

    def gifts():
        give(rival, 40_00, "r@example.org")
        give(mine, 30_00, "m@example.org")
        return give(mine, 20_00, "owner@example.org").id

    own_id = run_transaction(gifts)  # the unit of work: after its commit, Redis follows
    assert rank_reads.rank(cause_id, "pages", mine_id) == (1, 50_00, 2)
    run_transaction(lambda: services.exclude(staff, flag_of(_db.session.get(Donation, own_id))))
    keys = ranks.Keys(cause_id)
    assert ranks.client().zscore(keys.pages, ranks.member(mine_id)) == ranks.score(30_00, 1)
    assert rank_reads.rank(cause_id, "pages", mine_id) == (2, 30_00, 1)
    assert_same(cause_id)
    ranks.rebuild(cause_id)  # rebuilt from the database: the same
    assert rank_reads.rank(cause_id, "pages", mine_id) == (2, 30_00, 1)
    assert_same(cause_id)
