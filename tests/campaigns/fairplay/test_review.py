"""Staff review flagged gifts: the queue lists them; excluding a self-gift
drops its page on the leaderboard at once (the totals keep the money), and
the page it had passed is told by the next rank snapshot; clearing restores
it. Only the organisation's staff may decide, and bad input changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from campaigns.audit import AuditEntry
from campaigns.fairplay.models import FairPlayFlag, FlagStatus
from campaigns.giving import ledger
from campaigns.standings import leaderboards
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from messaging.automatic import jobs as automatic_jobs
from messaging.outbox.models import OutboxMessage
from messaging.templating.models import Trigger
from tests.factories import AgentFactory, PageFactory
from tests.messaging.broadcasts.test_broadcasts import make_template

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def give(page, amount, email):
    return ledger.record_gift(page=page, cause=page.cause, amount_minor=amount, donor_email=email)


@pytest.fixture
def race(db, org, cause, page):
    """Lyon runs (Léa's page) leads Marseille nage only thanks to Léa's own
    20 €; the rank messages are written in English."""
    page.owner.email = "lea@example.org"
    rival = PageFactory(cause=cause, slug="marseille-nage", title="Marseille nage")
    give(rival, 40_00, "m1@example.org")
    give(page, 30_00, "l1@example.org")
    own = give(page, 20_00, "lea@example.org")
    make_template(
        org,
        trigger=Trigger.RANK_CHANGE,
        locale="en",
        subject="Up",
        body="#{{ page.rank }} (#{{ old_rank }}) passed {{ passed.title }}",
    )
    make_template(
        org,
        trigger=Trigger.RANK_PASSED,
        locale="en",
        subject="Passed",
        body="#{{ page.rank }} (#{{ old_rank }}) passed by {{ passed_by.title }}",
    )
    flag = db.session.scalar(select(FairPlayFlag).where(FairPlayFlag.gift_id == own.id))
    return {"rival": rival, "own": own, "flag": flag}


def rank(page) -> int:
    return leaderboards.rank_of(page).rank


def board_raised(page) -> int:
    return leaderboards.rank_of(page).raised_minor


def told(trigger) -> list[OutboxMessage]:
    from extensions import db

    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.trigger == str(trigger))
            .order_by(OutboxMessage.id)
        )
    )


def audits(db, action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    )


def url(org, flag=None, action=None) -> str:
    base = f"/staff/{org.slug}/fair-play/"
    return base if flag is None else f"{base}{flag if isinstance(flag, int) else flag.id}/{action}"


def test_excluding_a_self_gift_drops_the_page_and_tells_the_page_it_passed(
    db, client, login_as, org, page, staffer, race
):
    rival, flag = race["rival"], race["flag"]
    assert flag is not None and flag.is_self_gift and flag.status == FlagStatus.OPEN
    assert (rank(page), rank(rival)) == (1, 2)
    assert automatic_jobs.rank_snapshots(T0) == 0  # the board as it stood
    db.session.commit()
    login_as(staffer)

    queue = client.get(url(org))
    assert queue.status_code == 200
    assert f'id="flag-{flag.id}"' in queue.text and "Self-gift" in queue.text
    assert "Self-gift (the owner's address)" in queue.text and "Lyon runs" in queue.text

    response = client.post(url(org, flag, "exclude"))
    assert response.status_code == 303 and response.location.endswith(url(org))
    db.session.expire_all()
    assert db.session.get(FairPlayFlag, flag.id).status == FlagStatus.EXCLUDED
    assert db.session.get(FairPlayFlag, flag.id).reviewed_by_id == staffer.id
    # The rank moves at once; the money stays in the totals, equal to the ledger.
    assert (rank(page), rank(rival)) == (2, 1)
    assert board_raised(page) == 30_00
    assert totals.figures_one(TotalScope.PAGE, page.id).raised_minor == 50_00
    assert totals.figures_one(TotalScope.CAUSE, page.cause_id).raised_minor == 90_00
    assert totals.drift() == []
    assert audits(db, "fairplay.exclude") == 1

    # The next rank snapshot tells both pages, as it does after a refund.
    assert automatic_jobs.rank_snapshots(T0 + timedelta(minutes=5)) == 2
    (up,) = told(Trigger.RANK_CHANGE)
    assert (up.page_id, up.agent_id) == (rival.id, rival.owner_id)
    assert up.body_text == "#1 (#2) passed Lyon runs"
    (down,) = told(Trigger.RANK_PASSED)
    assert (down.page_id, down.agent_id) == (page.id, page.owner_id)
    assert down.body_text == "#2 (#1) passed by Marseille nage"

    listed = client.get(url(org))
    assert "Count it again" in listed.text
    assert client.post(url(org, flag, "clear")).status_code == 303
    db.session.expire_all()
    assert db.session.get(FairPlayFlag, flag.id).status == FlagStatus.CLEARED
    assert (rank(page), rank(rival)) == (1, 2)
    assert board_raised(page) == 50_00
    assert audits(db, "fairplay.clear") == 1


def test_excluding_twice_changes_nothing_the_second_time(
    db, client, login_as, org, page, staffer, race
):
    flag = race["flag"]
    db.session.commit()
    login_as(staffer)
    assert client.post(url(org, flag, "exclude")).status_code == 303
    again = client.post(url(org, flag, "exclude"), follow_redirects=True)
    assert again.status_code == 200
    assert "already left out of the leaderboards" in again.text
    db.session.expire_all()
    assert db.session.get(FairPlayFlag, flag.id).status == FlagStatus.EXCLUDED
    assert audits(db, "fairplay.exclude") == 1
    assert board_raised(page) == 30_00 and rank(page) == 2


def test_a_free_agent_or_another_organisations_staff_cannot_decide(
    db, client, login_as, org, page, outsider, race
):
    flag = race["flag"]
    db.session.commit()
    anonymous = client.post(url(org, flag, "exclude"))
    assert anonymous.status_code in (302, 401)
    login_as(page.owner)  # the page's owner is no staff
    assert client.get(url(org)).status_code == 403
    assert client.post(url(org, flag, "exclude")).status_code == 403
    login_as(outsider)  # staff of "autre"
    assert client.get(url(org)).status_code == 403
    # Their own organisation's address with our flag: there is no such flag there.
    wrong_org = client.post(f"/staff/autre/fair-play/{flag.id}/exclude")
    assert wrong_org.status_code == 404
    assert "no flagged gift with this number" in wrong_org.text
    db.session.expire_all()
    assert db.session.get(FairPlayFlag, flag.id).status == FlagStatus.OPEN
    assert audits(db, "fairplay.exclude") == 0
    assert rank(page) == 1


@pytest.mark.parametrize("flag_id", [987654, 2**31 - 1, 2**63])
def test_an_unknown_flag_is_a_404_and_changes_nothing(
    db, client, login_as, org, page, staffer, race, flag_id
):
    db.session.commit()
    login_as(staffer)
    for action in ("exclude", "clear"):
        response = client.post(url(org, flag_id, action))
        assert response.status_code == 404
    assert client.get(f"/staff/{org.slug}/fair-play/abc/exclude").status_code in (404, 405)
    db.session.expire_all()
    assert db.session.get(FairPlayFlag, race["flag"].id).status == FlagStatus.OPEN
    assert audits(db, "fairplay.exclude") == 0


def test_clearing_an_open_flag_keeps_the_ranks_and_clearing_again_is_refused(
    db, client, login_as, org, page, staffer, race
):
    flag = race["flag"]
    db.session.commit()
    login_as(staffer)
    assert client.post(url(org, flag, "clear")).status_code == 303
    again = client.post(url(org, flag, "clear"), follow_redirects=True)
    assert "already counted as fair" in again.text
    assert audits(db, "fairplay.clear") == 1
    assert rank(page) == 1 and board_raised(page) == 50_00


def test_the_queue_is_per_organisation(db, client, login_as, org, outsider, race):
    db.session.commit()
    login_as(outsider)
    theirs = client.get("/staff/autre/fair-play/")
    assert theirs.status_code == 200
    assert f'id="flag-{race["flag"].id}"' not in theirs.text
    assert "Nothing to review." in theirs.text


def test_a_free_agent_sees_no_fair_play_link_and_staff_do(db, client, login_as, org, staffer, race):
    db.session.commit()
    login_as(staffer)
    overview = client.get(f"/staff/{org.slug}/fair-play/")
    assert f'href="/staff/{org.slug}/fair-play/"' in overview.text
    assert AgentFactory  # the nav is the staff's own


def test_the_queue_speaks_french_to_a_french_reader(db, client, login_as, org, staffer, race):
    db.session.commit()
    login_as(staffer)
    response = client.get(url(org), headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    assert "À examiner (1)" in response.text and "Don à soi-même" in response.text
    assert "Écarter des classements" in response.text
