"""Leaderboards from Redis sorted sets give SQL's answers: after each committed
change (gifts, ties, a refund, a closed, a hidden and a moved page) and after a
rebuild, on SQLite and on PostgreSQL, with real commits on their own database.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import select

from campaigns.giving import ledger
from campaigns.giving.payments import process_event
from campaigns.pages import services as page_services
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.standings import boards as standings_boards
from campaigns.standings import leaderboards as standings_leaderboards
from campaigns.standings import rank_reads, ranks
from campaigns.unit_of_work import run_transaction
from extensions import db
from tests import stripe_objects as so
from tests.conftest import BACKENDS, drop_app, drop_redis_keys, make_migrated_app
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="needs a Redis server: set REDIS_URL (CI does, .ci/services starts one)"
)


def make_app(backend, tmp_path, name, **config):
    """An app on its own database with real commits; Redis keys under a private prefix."""
    prefix = f"relais-test:{os.getpid()}:{uuid.uuid4().hex}:"
    database = f"relais_{name}_{os.getpid()}_{backend}"
    app = make_migrated_app(backend, tmp_path, database, REDIS_PREFIX=prefix, **config)
    return app, database, prefix


@pytest.fixture(params=BACKENDS)
def redis_app(request, tmp_path):
    app, database, prefix = make_app(request.param, tmp_path, "ranks", REDIS_URL=REDIS_URL)
    try:
        with app.app_context():
            yield app
            db.session.remove()
    finally:
        drop_redis_keys(REDIS_URL, prefix)
        drop_app(app, request.param, database)


def give(page: Page, amount: int, email: str) -> dict:
    """A paid Checkout Session for the page, recorded as its webhook would."""
    session = so.checkout_session(amount=amount, page=page.slug, cause=page.cause.slug, email=email)
    event = so.event(session, "checkout.session.completed")
    assert run_transaction(lambda: process_event(event)) == "recorded"
    return session


def refund(session: dict, cumulative: int) -> None:
    charge = so.charge(
        payment_intent_id=session["payment_intent"],
        amount=session["amount_total"],
        amount_refunded=cumulative,
        refund_amounts=[cumulative],
    )
    event = so.event(charge, "charge.refunded")
    assert run_transaction(lambda: process_event(event)) == "recorded"


def dump(cause_id: int) -> dict:
    """Every Redis key of a cause and its contents (the lock aside)."""
    r, keys = ranks.client(), ranks.Keys(cause_id)
    out = {}
    for key in r.scan_iter(match=keys.base + "*"):
        kind = r.type(key)
        if key == keys.lock:
            continue
        if kind == "zset":
            out[key] = r.zrange(key, 0, -1, withscores=True)
        elif kind == "hash":
            out[key] = r.hgetall(key)
        else:
            out[key] = r.get(key)
    return out


def as_tuples(entries) -> list[tuple]:
    return [(e.page_id, e.raised_minor, e.donor_count, e.rank) for e in entries]


def assert_same(cause_id: int) -> None:
    """Redis (read straight from the sets) answers exactly like SQL, for every
    board, slice and page."""
    pages = list(db.session.scalars(select(Page).where(Page.cause_id == cause_id)))
    events = [p for p in pages if p.kind != PageKind.PERSONAL]
    boards = [("pages", None), ("events", None)] + [("pages", e.id) for e in events]
    for name, parent in boards:
        for offset, limit in ((0, 1000), (0, 1), (1, 2), (2, 3), (3, 2), (5, 10)):
            sql = standings_leaderboards.sql_board(
                cause_id, name, limit=limit, offset=offset, parent_id=parent
            )
            from_redis = rank_reads.board(
                cause_id, name, limit=limit, offset=offset, parent_id=parent
            )
            assert from_redis == as_tuples(sql), (name, parent, offset, limit)
            # The public function uses Redis here and gives the same entries.
            assert (
                standings_leaderboards.board(
                    cause_id, name, limit=limit, offset=offset, parent_id=parent
                )
                == sql
            )
    for page in pages:
        board = "events" if page.kind != PageKind.PERSONAL else "pages"
        sql = standings_leaderboards.sql_rank_of(page)
        expected = (sql.rank, sql.raised_minor, sql.donor_count) if sql else None
        if page.status in standings_boards.RANKED_STATUSES:
            assert rank_reads.rank(cause_id, board, page.id) == expected, page.slug
        else:
            assert expected is None
        assert standings_leaderboards.rank_of(page) == sql, page.slug
        assert standings_leaderboards.neighbour_above(
            page
        ) == standings_leaderboards.sql_neighbour_above(page)


def ranks_by_slug(cause_id: int, board: str, parent_id: int | None = None) -> dict[str, int]:
    return {
        e.slug: e.rank
        for e in standings_leaderboards.sql_board(cause_id, board, limit=1000, parent_id=parent_id)
    }


@needs_redis
def test_redis_and_sql_give_the_same_leaderboards_through_changes_and_rebuilds(redis_app):
    org = OrganisationFactory()
    cause = CauseFactory(organisation=org)
    lyon = EventPageFactory(cause=cause, city="Lyon", slug="lyon")
    marseille = EventPageFactory(cause=cause, city="Marseille", slug="marseille")
    paris = EventPageFactory(cause=cause, city="Paris", slug="paris")
    a, b, c, d, e, f, g, h = (PageFactory(cause=cause, slug=s) for s in "abcdefgh")
    a.parent = b.parent = lyon
    c.parent = marseille
    h.parent = paris
    draft = PageFactory(cause=cause, slug="draft", status=PageStatus.DRAFT)
    staff = MembershipFactory(organisation=org).agent
    db.session.commit()
    cause_id = cause.id
    keys, r = ranks.Keys(cause_id), ranks.client()

    # No sets yet: the first read builds them from the database.
    assert r.get(keys.ready) is None
    assert_same(cause_id)
    assert r.get(keys.ready) == "ok"

    give(a, 5000, "x@example.org")
    gift_b = give(b, 3000, "y@example.org")
    give(c, 2000, "z1@example.org")
    give(d, 2000, "z2@example.org")
    give(e, 1000, "e1@example.org")
    give(e, 1000, "e2@example.org")  # 2,000 too, but two donors: above c, d and f
    give(f, 2000, "f@example.org")
    give(h, 1500, "h@example.org")
    give(marseille, 4000, "m@example.org")
    give(draft, 9000, "d@example.org")  # a draft takes no gift: unattributed, on the cause
    assert ranks_by_slug(cause_id, "pages") == {
        "a": 1, "b": 2, "e": 3, "c": 4, "d": 4, "f": 4, "h": 7, "g": 8
    }  # fmt: skip
    assert ranks_by_slug(cause_id, "events") == {"lyon": 1, "marseille": 2, "paris": 3}
    # Kept in step by the commits themselves (read straight from the set).
    assert r.zscore(keys.pages, ranks.member(e.id)) == ranks.score(2000, 2)
    assert r.zscore(keys.members(lyon.id), ranks.member(b.id)) == ranks.score(3000, 1)
    assert_same(cause_id)

    refund(gift_b, 2500)  # b drops to 500, and Lyon below Marseille
    assert ranks_by_slug(cause_id, "pages")["b"] == 7
    assert ranks_by_slug(cause_id, "events") == {"marseille": 1, "lyon": 2, "paris": 3}
    assert_same(cause_id)

    page_services.close_page(c.owner, c)  # closed: keeps its place
    db.session.commit()
    page_services.hide_page(staff, f, "Spam")  # hidden: leaves every board
    db.session.commit()
    assert ranks_by_slug(cause_id, "pages") == {
        "a": 1, "e": 2, "c": 3, "d": 3, "h": 5, "b": 6, "g": 7
    }  # fmt: skip
    assert_same(cause_id)

    page_services.leave_event(h.owner, h)
    page_services.join_event(g.owner, g, lyon)
    db.session.commit()
    give(g, 700, "g@example.org")
    page_services.hide_page(staff, paris, "Cancelled")
    db.session.commit()
    assert ranks_by_slug(cause_id, "events") == {"lyon": 1, "marseille": 2}
    assert set(ranks_by_slug(cause_id, "pages", parent_id=lyon.id)) == {"a", "b", "g"}
    assert_same(cause_id)

    # A transaction that rolls back leaves Redis as it was.
    before = dump(cause_id)
    ledger.record_gift(page=d, cause=d.cause, amount_minor=100_000, donor_email="n@x.org")
    # Until the commit, this session reads the cause from SQL: it sees its own gift.
    assert standings_leaderboards.board(cause_id, "pages", limit=1)[0].slug == "d"
    assert rank_reads.board(cause_id, "pages", limit=1)[0][0] == a.id
    db.session.rollback()
    assert dump(cause_id) == before

    # Kept in step incrementally = rebuilt from the database.
    assert ranks.rebuild(cause_id) == 9
    assert dump(cause_id) == before
    assert_same(cause_id)


@needs_redis
def test_a_missing_marker_rebuilds_and_the_cli_rebuilds_and_checks(redis_app):
    cause = CauseFactory()
    page = PageFactory(cause=cause)
    db.session.commit()
    give(page, 2500, "a@example.org")
    r, keys = ranks.client(), ranks.Keys(cause.id)
    assert standings_leaderboards.board(cause.id)[0].raised_minor == 2500
    r.delete(keys.pages, keys.ready)  # as an eviction or a flush would
    assert rank_reads.board(cause.id, "pages", limit=5) == [(page.id, 2500, 1, 1)]

    runner = redis_app.test_cli_runner()
    result = runner.invoke(args=["ranks", "rebuild", "--cause", cause.slug])
    assert result.exit_code == 0, result.output
    assert "Rebuilt the leaderboards of 1 causes in Redis (1 ranked pages)" in result.output
    assert runner.invoke(args=["ranks", "check"]).exit_code == 0

    r.zadd(keys.pages, {ranks.member(page.id): ranks.score(1, 1)})  # drift
    result = runner.invoke(args=["ranks", "check"])
    assert result.exit_code == 1
    assert cause.slug in result.output and "relais ranks rebuild" in result.output
    assert runner.invoke(args=["ranks", "rebuild"]).exit_code == 0
    assert runner.invoke(args=["ranks", "check"]).exit_code == 0

    result = runner.invoke(args=["ranks", "rebuild", "--cause", "no-such-cause"])
    assert result.exit_code == 1
    assert "There is no cause no-such-cause" in result.output


@needs_redis
def test_figures_beyond_an_exact_score_are_answered_from_sql(redis_app):
    cause = CauseFactory()
    big, small = PageFactory(cause=cause), PageFactory(cause=cause)
    db.session.commit()
    assert standings_leaderboards.board(cause.id) == standings_leaderboards.sql_board(
        cause.id
    )  # builds the sets
    ledger.record_gift(page=big, cause=cause, amount_minor=2**33, donor_email="rich@x.org")
    ledger.record_gift(page=small, cause=cause, amount_minor=100, donor_email="a@x.org")
    db.session.commit()
    assert ranks.client().get(ranks.Keys(cause.id).ready) == "sql"
    with pytest.raises(ranks.Unavailable):
        rank_reads.board(cause.id, "pages", limit=5)
    assert [e.raised_minor for e in standings_leaderboards.board(cause.id)] == [2**33, 100]


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_redis_reachable_leaderboards_come_from_sql_and_commits_stand(backend, tmp_path):
    app, database, _prefix = make_app(
        backend, tmp_path, "ranks_down", REDIS_URL="redis://127.0.0.1:1/0"
    )
    try:
        with app.app_context():
            cause = CauseFactory()
            page = PageFactory(cause=cause)
            db.session.commit()
            give(page, 1200, "a@example.org")  # the sync fails after the commit: logged
            assert [e.raised_minor for e in standings_leaderboards.board(cause.id)] == [1200]
            assert standings_leaderboards.rank_of(page).rank == 1
            # Remembered: the cause's sets are rebuilt once Redis answers again.
            assert cause.id in app.extensions["relais.ranks"]["stale"]
            db.session.remove()
    finally:
        drop_app(app, backend, database)


def test_ranks_commands_without_redis_say_what_to_do(runner):
    result = runner.invoke(args=["ranks", "rebuild"])
    assert result.exit_code == 1
    assert "Set REDIS_URL" in result.output


@pytest.mark.parametrize(
    ("raised", "donors"),
    [(0, 0), (1, 0), (0, 1), (2**33 - 1, 2**20 - 1), (-(2**33) + 1, 0), (-5, 7), (123456, 99)],
)
def test_scores_hold_raised_and_donors_exactly_and_order_them(raised, donors):
    assert ranks.unscore(float(ranks.score(raised, donors))) == (raised, donors)
    # More raised, or as much with more donors, is a smaller (earlier) score.
    if raised + 1 < 2**33:
        assert ranks.score(raised + 1, 0) < ranks.score(raised, donors)
    if donors + 1 < 2**20:
        assert ranks.score(raised, donors + 1) < ranks.score(raised, donors)


@pytest.mark.parametrize(("raised", "donors"), [(2**33, 0), (-(2**33), 0), (0, 2**20), (0, -1)])
def test_figures_beyond_the_bound_refuse_to_be_scored(raised, donors):
    with pytest.raises(ranks.Overflow):
        ranks.score(raised, donors)


def test_members_sort_by_page_id_like_sql():
    ids = [3, 10, 9, 100, 2**31 - 1]
    assert sorted(ranks.member(i) for i in ids) == [ranks.member(i) for i in sorted(ids)]


@needs_redis
def test_hidden_and_draft_pages_are_never_in_the_sets(redis_app):
    cause = CauseFactory()
    shown = PageFactory(cause=cause)
    hidden = PageFactory(cause=cause, status=PageStatus.HIDDEN)
    draft = PageFactory(cause=cause, status=PageStatus.DRAFT)
    event = EventPageFactory(cause=cause, status=PageStatus.HIDDEN)
    db.session.commit()
    assert [e.page_id for e in standings_leaderboards.board(cause.id)] == [shown.id]
    assert standings_leaderboards.board(cause.id, "events") == []
    members = ranks.client().zrange(ranks.Keys(cause.id).pages, 0, -1)
    assert members == [ranks.member(shown.id)]
    assert (
        standings_leaderboards.rank_of(hidden) is None
        and standings_leaderboards.rank_of(draft) is None
    )
    assert standings_leaderboards.rank_of(event) is None
