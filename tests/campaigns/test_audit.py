"""The audit log: every staff action on money or visibility writes exactly one
entry, in the same transaction as the change; a refused or rolled-back action
writes none; commands and jobs (no actor) are logged too."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from agents.models import MembershipRole
from campaigns import audit
from campaigns.audit import AuditEntry
from campaigns.errors import Conflict, NotFound, PermissionDenied, ValidationError
from campaigns.giving.staff_views import describe
from campaigns.offline import services as offline
from campaigns.offline.models import OfflineGift, OfflineGiftStatus
from campaigns.organisations import services as org_services
from campaigns.organisations.models import CauseStatus
from campaigns.pages import services as page_services
from campaigns.pages.models import Page, PageStatus
from messaging.outbox import services as outbox
from messaging.outbox.models import OutboxMessage, OutboxStatus
from messaging.outbox.queue import enqueue
from tests.factories import (
    AgentFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)


@pytest.fixture
def staffer(db, org):
    return MembershipFactory(organisation=org, role=MembershipRole.STAFF, agent__name="Inès").agent


def entries(db, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def count(db) -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


def only(db, action: str) -> AuditEntry:
    found = entries(db)
    assert [e.action for e in found] == [action]
    return found[0]


def pending_gift(db, page, amount_minor=2500) -> OfflineGift:
    gift = OfflineGift(
        page_id=page.id,
        recorded_by_id=page.owner_id,
        amount_minor=amount_minor,
        currency="EUR",
        method="cheque",
    )
    db.session.add(gift)
    db.session.flush()
    return gift


def stuck_message(org, agent, status=OutboxStatus.DEAD, key="dead-1") -> OutboxMessage:
    enqueue(
        [{"dedupe_key": key, "organisation_id": org.id, "agent_id": agent.id, "channel": "email"}]
    )
    message = outbox.db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    message.status = status
    message.last_error = "550 mailbox unavailable"
    return message


# --- pages ----------------------------------------------------------------------


def test_hiding_a_page_through_the_staff_screen_logs_who_and_why(
    db, client, as_agent, staffer, page
):
    as_agent(staffer)
    refused = client.post("/staff/eau-vive/pages/lyon-runs/hide", data={"reason": "  "})
    assert "Tell the owner why the page is hidden." in refused.text
    assert count(db) == 0

    reason = "The story names a person without consent."
    assert (
        client.post("/staff/eau-vive/pages/lyon-runs/hide", data={"reason": reason}).status_code
        == 302
    )
    entry = only(db, "page.hide")
    assert (entry.organisation_id, entry.actor_id, entry.actor_name) == (
        page.cause.organisation_id,
        staffer.id,
        "Inès",
    )
    assert (entry.subject_type, entry.subject_id) == ("pages", page.id)
    assert entry.details["reason"] == reason and entry.details["from"] == "published"
    assert entry.amount_minor is None
    assert reason in entry.summary
    assert describe(entry) == f"Hid the page “Lyon runs”: {reason}"

    # Unhiding writes one entry; unhiding a visible page changes nothing and logs nothing.
    assert client.post("/staff/eau-vive/pages/lyon-runs/unhide").status_code == 302
    assert client.post("/staff/eau-vive/pages/lyon-runs/unhide").status_code == 302
    assert [e.action for e in entries(db)] == ["page.hide", "page.unhide"]
    unhide = entries(db, "page.unhide")[0]
    assert (unhide.actor_id, unhide.subject_id, unhide.details["to"]) == (
        staffer.id,
        page.id,
        "published",
    )
    assert describe(unhide) == "Made the page “Lyon runs” visible again (published)"


def test_hiding_again_for_the_same_reason_logs_once_and_a_new_reason_logs_again(db, staffer, page):
    page_services.hide_page(staffer, page, "Spam")
    page_services.hide_page(staffer, page, "Spam")
    assert len(entries(db, "page.hide")) == 1
    page_services.hide_page(staffer, page, "Spam links in the story")
    assert [e.details["reason"] for e in entries(db)] == ["Spam", "Spam links in the story"]
    assert entries(db)[1].details["from"] == "hidden"


def test_refused_page_actions_write_nothing(db, page, staffer):
    stranger = AgentFactory()
    with pytest.raises(ValidationError):
        page_services.hide_page(staffer, page, "   ")
    with pytest.raises(PermissionDenied):
        page_services.hide_page(stranger, page, "Spam")
    with pytest.raises(PermissionDenied):
        page_services.unhide_page(stranger, page)
    assert count(db) == 0
    assert db.session.get(Page, page.id).status == PageStatus.PUBLISHED


def test_a_rolled_back_change_leaves_no_entry(db, page, staffer):
    db.session.commit()
    page_services.hide_page(staffer, page, "Spam")
    assert count(db) == 1  # flushed with the change, in its transaction
    db.session.rollback()
    assert count(db) == 0
    assert db.session.get(Page, page.id).status == PageStatus.PUBLISHED


# --- causes -----------------------------------------------------------------------


def test_cause_status_changes_are_logged_and_other_edits_are_not(db, org, staffer):
    cause = org_services.save_cause(staffer, org, None, {"title": "Wells 2027"})
    assert cause.status == CauseStatus.DRAFT
    assert count(db) == 0  # a new draft changed no visibility

    org_services.save_cause(staffer, org, cause, {"summary": "Ten villages."})
    org_services.save_cause(staffer, org, cause, {"status": "draft"})
    assert count(db) == 0

    org_services.save_cause(staffer, org, cause, {"status": "published"})
    org_services.save_cause(staffer, org, cause, {"status": "closed"})
    changes = entries(db, "cause.status")
    assert [(e.details["from"], e.details["to"]) for e in changes] == [
        ("draft", "published"),
        ("published", "closed"),
    ]
    assert {(e.actor_id, e.subject_type, e.subject_id) for e in changes} == {
        (staffer.id, "causes", cause.id)
    }
    with force_locale("en"):
        assert describe(changes[1]) == "Changed the cause “Wells 2027” from published to closed"

    with pytest.raises(ValidationError):
        org_services.save_cause(staffer, org, cause, {"status": "deleted"})
    assert count(db) == 2


def test_the_staff_screen_logs_a_published_cause(db, client, as_agent, staffer, cause):
    cause.status = CauseStatus.DRAFT
    as_agent(staffer)
    response = client.post(
        "/staff/eau-vive/causes/twestival",
        data={"title": "Twestival", "slug": "twestival", "goal": "1000", "status": "published"},
    )
    assert response.status_code == 302
    entry = only(db, "cause.status")
    assert (entry.actor_id, entry.details["to"]) == (staffer.id, "published")


def test_a_command_without_an_actor_is_logged_as_nobody(db, org):
    cause = org_services.save_cause(None, org, None, {"title": "Seeded", "status": "published"})
    entry = only(db, "cause.status")
    assert (entry.actor_id, entry.actor_name) == (None, "")
    assert (entry.subject_id, entry.details["from"], entry.details["to"]) == (
        cause.id,
        "draft",
        "published",
    )


# --- offline gifts ------------------------------------------------------------------


def test_confirming_an_offline_gift_logs_its_amount_once(db, client, as_agent, staffer, page):
    gift = pending_gift(db, page, amount_minor=4000)
    as_agent(staffer)
    assert client.post(f"/staff/eau-vive/offline/{gift.id}/confirm").status_code == 302
    # A second confirmation (double click) is answered with the same ledger row: no entry.
    assert client.post(f"/staff/eau-vive/offline/{gift.id}/confirm").status_code == 302
    entry = only(db, "offline.confirm")
    assert (entry.actor_id, entry.subject_type, entry.subject_id) == (
        staffer.id,
        "offline_gifts",
        gift.id,
    )
    assert (entry.amount_minor, entry.currency) == (4000, "EUR")
    assert entry.details["method"] == "cheque" and entry.details["donation_id"]
    assert describe(entry) == "Confirmed €40 collected for “Lyon runs”"


def test_rejecting_an_offline_gift_logs_the_reason(db, client, as_agent, staffer, page):
    gift = pending_gift(db, page, amount_minor=1250)
    as_agent(staffer)
    refused = client.post(f"/staff/eau-vive/offline/{gift.id}/reject", data={"reason": " "})
    assert refused.status_code == 422
    assert count(db) == 0

    reason = "The cheque bounced."
    client.post(f"/staff/eau-vive/offline/{gift.id}/reject", data={"reason": reason})
    entry = only(db, "offline.reject")
    assert (entry.actor_id, entry.subject_id, entry.amount_minor, entry.currency) == (
        staffer.id,
        gift.id,
        1250,
        "EUR",
    )
    assert entry.details["reason"] == reason
    assert describe(entry) == f"Rejected €12.50 collected for “Lyon runs”: {reason}"


def test_refused_offline_reviews_write_nothing(db, staffer, page):
    confirmed = pending_gift(db, page)
    offline.confirm_offline_gift(staffer, confirmed)
    rejected = pending_gift(db, page)
    offline.reject_offline_gift(staffer, rejected, "Empty envelope")
    before = count(db)
    with pytest.raises(Conflict):
        offline.reject_offline_gift(staffer, confirmed, "Too late")
    with pytest.raises(Conflict):
        offline.confirm_offline_gift(staffer, rejected)
    with pytest.raises(ValidationError):
        offline.reject_offline_gift(staffer, pending_gift(db, page), "")
    with pytest.raises(PermissionDenied):
        offline.confirm_offline_gift(AgentFactory(), pending_gift(db, page))
    assert offline.confirm_offline_gift(staffer, confirmed)  # again: the same row, no entry
    offline.reject_offline_gift(staffer, rejected, "Empty envelope")  # nothing changes
    assert count(db) == before == 2
    assert db.session.get(OfflineGift, confirmed.id).status == OfflineGiftStatus.CONFIRMED


# --- outbox -------------------------------------------------------------------------


def test_outbox_decisions_are_logged_on_the_rows_organisation(db, client, as_agent, staffer, org):
    agent = AgentFactory()
    dead = stuck_message(org, agent, OutboxStatus.DEAD, "dead-1")
    review = stuck_message(org, agent, OutboxStatus.REVIEW, "review-1")
    as_agent(staffer)
    client.post(f"/staff/eau-vive/outbox/{dead.id}", data={"action": "retry"})
    client.post(f"/staff/eau-vive/outbox/{review.id}", data={"action": "cancel"})
    # Decided already: refused, and logged nowhere.
    client.post(f"/staff/eau-vive/outbox/{review.id}", data={"action": "retry"})
    client.post(f"/staff/eau-vive/outbox/{dead.id}", data={"action": "explode"})
    retry, cancel = entries(db)
    assert (retry.action, retry.subject_type, retry.subject_id) == (
        "outbox.retry",
        "outbox_messages",
        dead.id,
    )
    assert (cancel.action, cancel.subject_id) == ("outbox.cancel", review.id)
    for entry in (retry, cancel):
        assert (entry.organisation_id, entry.actor_id) == (org.id, staffer.id)
    assert retry.details["from"] == "dead" and cancel.details["from"] == "review"
    assert retry.details["last_error"] == "550 mailbox unavailable"
    assert describe(retry) == f"Sent message #{dead.id} again"


def test_outbox_refusals_write_nothing_and_a_job_decides_as_nobody(db, org):
    other = OrganisationFactory()
    agent = AgentFactory()
    dead = stuck_message(org, agent)
    with pytest.raises(NotFound):
        outbox.staff_decide(other.id, dead.id, "retry", actor=None)
    with pytest.raises(ValidationError):
        outbox.staff_decide(org.id, dead.id, "explode", actor=None)
    assert count(db) == 0
    outbox.staff_decide(org.id, dead.id, "cancel", actor=None)
    entry = only(db, "outbox.cancel")
    assert (entry.actor_id, entry.actor_name, entry.organisation_id) == (None, "", org.id)


# --- reading --------------------------------------------------------------------------


def test_latest_pages_newest_first_per_organisation(db, org, staffer, cause):
    pages = [PageFactory(cause=cause) for _ in range(3)]
    for p in pages:
        page_services.hide_page(staffer, p, "Spam")
    elsewhere = PageFactory()
    page_services.hide_page(
        MembershipFactory(organisation=elsewhere.cause.organisation).agent, elsewhere, "Spam"
    )
    newest = audit.latest(org.id, limit=2)
    assert [e.subject_id for e in newest] == [pages[2].id, pages[1].id]
    assert [e.subject_id for e in audit.latest(org.id, before_id=newest[-1].id)] == [pages[0].id]
    assert audit.latest(OrganisationFactory().id) == []


def test_an_unknown_action_is_shown_with_its_stored_summary(db, org):
    entry = audit.record(org.id, None, "expense.publish", "Expense #3 published")
    assert describe(entry) == "Expense #3 published"
    broken = audit.record(org.id, None, "page.hide", "Page x hidden: spam", details={})
    assert describe(broken) == "Page x hidden: spam"
