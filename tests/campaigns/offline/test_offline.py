"""Offline gifts: agents record cash and cheques, staff confirm or reject them.

Fixture data is committed before the first request (a savepoint inside the
test's outer transaction), so a refused form's rollback cannot hide it and the
tests can check that a refusal saved nothing.
"""

from __future__ import annotations

import html as html_lib
import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from agents.models import Agent
from campaigns.errors import Conflict, PermissionDenied, ValidationError
from campaigns.giving import receipts
from campaigns.giving.models import Donation, DonationKind
from campaigns.offline import services as offline
from campaigns.offline.models import OfflineGift, OfflineGiftStatus
from campaigns.pages.models import PageHost
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db as _db
from tests.conftest import own_database, race
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)


@pytest.fixture
def event(db, cause):
    return EventPageFactory(cause=cause, slug="lyon-night", title="Lyon night")


@pytest.fixture
def page(db, cause, event):
    """A personal page that is part of the Lyon event."""
    return PageFactory(cause=cause, parent=event, slug="lyon-runs", title="Lyon runs")


@pytest.fixture
def agent(db, page):
    return page.owner


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def png_bytes(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


FORM = {
    "amount": "25",
    "method": "cash",
    "donor_name": "Camille",
    "donor_email": "camille@example.org",
    "collected_on": "",
    "note": "Bucket at the bar",
}


def post_gift(client, slug: str, **changes):
    data = {**FORM, **changes}
    return client.post(f"/p/{slug}/offline", data=data, content_type="multipart/form-data")


def count_gifts(db) -> int:
    return db.session.scalar(select(func.count(OfflineGift.id)))


def every_level(page) -> dict[str, totals.Figures]:
    return {
        "page": totals.figures_one(TotalScope.PAGE, page.id),
        "event": totals.figures_one(TotalScope.EVENT, page.parent_id),
        "cause": totals.figures_one(TotalScope.CAUSE, page.cause_id),
        "organisation": totals.figures_one(TotalScope.ORGANISATION, page.cause.organisation_id),
    }


def pending_gift(db, page, agent, amount_minor=2500, **fields) -> OfflineGift:
    gift = OfflineGift(
        page_id=page.id,
        recorded_by_id=agent.id,
        amount_minor=amount_minor,
        currency="EUR",
        method=fields.pop("method", "cash"),
        **fields,
    )
    db.session.add(gift)
    db.session.flush()
    return gift


# --- recording ----------------------------------------------------------------


def test_recorded_gift_is_pending_shown_and_not_counted(client, db, page, agent, as_agent):
    as_agent(agent)
    response = post_gift(client, page.slug, amount="25,50", method="cheque")
    assert response.status_code == 302

    gift = db.session.scalar(select(OfflineGift))
    assert (gift.amount_minor, gift.currency, gift.method) == (2550, "EUR", "cheque")
    assert gift.status == OfflineGiftStatus.PENDING
    assert gift.recorded_by_id == agent.id
    assert gift.collected_on is not None
    assert db.session.scalar(select(func.count(Donation.id))) == 0
    assert all(f == totals.Figures() for f in every_level(page).values())

    shown = text(client.get(f"/p/{page.slug}"))
    assert "Pending confirmation" in shown
    assert "1 cash or cheque gift of €25.50" in shown
    # The event page shows its members' pending gifts too, still outside its total.
    assert "€25.50" in text(client.get(f"/p/{page.parent.slug}"))
    client.post("/account/logout")
    public = text(client.get(f"/p/{page.slug}"))
    assert "Pending confirmation" in public
    assert "Record cash or a cheque" not in public

    as_agent(agent)
    listing = text(client.get(f"/p/{page.slug}/offline"))
    assert "Pending confirmation" in listing
    assert "Camille" in listing


def test_pending_gifts_stay_out_of_the_cause_ranking(client, db, page, agent, as_agent):
    from campaigns.giving import ledger

    other = PageFactory(cause=page.cause, slug="paris-runs", title="Paris runs")
    ledger.record_gift(page=other, cause=other.cause, amount_minor=10_00)
    pending_gift(db, page, agent, amount_minor=900_00)
    db.session.commit()
    shown = text(client.get(f"/c/{page.cause.slug}"))
    # Paris's 10 € outranks Lyon's 900 € that staff have not confirmed yet.
    assert shown.index("Paris runs") < shown.index("Lyon runs")
    assert "€900" not in shown


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": ""}, "amount", "Enter the amount collected"),
        ({"amount": "abc"}, "amount", "Enter the amount collected"),
        ({"amount": "-5"}, "amount", "Enter the amount collected"),
        ({"amount": "0"}, "amount", "Enter the amount collected"),
        ({"amount": "12.345"}, "amount", "Enter the amount collected"),
        ({"amount": "NaN"}, "amount", "Enter the amount collected"),
        ({"amount": "20000"}, "amount", "The largest amount you can record is €10,000"),
        ({"method": "bitcoin"}, "method", "Choose cash or cheque."),
        ({"donor_email": "not-an-email"}, "donor_email", "Enter a valid email address"),
        ({"donor_name": "x" * 201}, "donor_name", "Keep this under 200 characters."),
        ({"note": "x" * 501}, "note", "Keep this under 500 characters."),
        ({"collected_on": "yesterday"}, "collected_on", "Enter the day you collected it"),
        ({"collected_on": "2999-01-01"}, "collected_on", "cannot be in the future"),
        ({"collected_on": "2001-01-01"}, "collected_on", "more than a year ago"),
    ],
)
def test_bad_input_is_refused_and_nothing_saved(
    client, db, page, agent, as_agent, changes, field, message
):
    as_agent(agent)
    response = post_gift(client, page.slug, **changes)
    assert response.status_code == 422
    body = text(response)
    assert message in body
    assert f'href="#{field}"' in body
    assert count_gifts(db) == 0


def test_tomorrow_is_refused_today_is_accepted(client, db, page, agent, as_agent):
    as_agent(agent)
    tomorrow = (offline.today() + timedelta(days=1)).isoformat()
    assert post_gift(client, page.slug, collected_on=tomorrow).status_code == 422
    assert count_gifts(db) == 0
    assert post_gift(client, page.slug, collected_on=offline.today().isoformat()).status_code == 302
    assert count_gifts(db) == 1


def test_not_a_photo_is_refused(client, db, page, agent, as_agent):
    as_agent(agent)
    response = post_gift(client, page.slug, photo=(io.BytesIO(b"%PDF-1.4 nope"), "receipt.pdf"))
    assert response.status_code == 422
    assert "not a photo we can read" in text(response)
    assert count_gifts(db) == 0


def test_receipt_photo_is_private(client, db, page, agent, staffer, as_agent, login_as):
    stranger = AgentFactory()
    as_agent(agent)
    response = post_gift(client, page.slug, photo=(io.BytesIO(png_bytes()), "receipt.png"))
    assert response.status_code == 302
    gift = db.session.scalar(select(OfflineGift))
    assert gift.photo
    own = client.get(f"/offline/{gift.id}/photo")
    assert own.status_code == 200
    assert own.mimetype == "image/jpeg"
    assert "no-store" in own.headers["Cache-Control"]
    # Not in the public media folder, whatever the name.
    assert client.get(f"/media/{gift.photo}").status_code == 404

    login_as(stranger)
    assert client.get(f"/offline/{gift.id}/photo").status_code == 403
    login_as(staffer)
    assert client.get(f"/offline/{gift.id}/photo").status_code == 200
    assert "Photo of the receipt" in text(client.get("/staff/eau-vive/offline"))


def test_other_agent_cannot_record_on_someone_elses_page(client, db, page, as_agent):
    as_agent(AgentFactory())
    assert client.get(f"/p/{page.slug}/offline").status_code == 403
    assert post_gift(client, page.slug).status_code == 403
    assert count_gifts(db) == 0
    with pytest.raises(PermissionDenied):
        offline.record_offline_gift(AgentFactory(), page, dict(FORM))


def test_cohost_can_record_on_the_event(client, db, event, as_agent):
    cohost = AgentFactory()
    db.session.add(PageHost(page=event, agent_id=cohost.id))
    as_agent(cohost)
    assert post_gift(client, event.slug).status_code == 302
    assert db.session.scalar(select(OfflineGift.page_id)) == event.id


def test_recording_needs_an_account(client, db, page):
    db.session.commit()
    response = client.post(f"/p/{page.slug}/offline", data=FORM)
    assert response.status_code in (302, 401)
    assert count_gifts(db) == 0


def test_closed_page_takes_no_offline_gift(db, page, agent):
    page.status = "closed"
    with pytest.raises(Conflict):
        offline.record_offline_gift(agent, page, dict(FORM))


# --- confirming ---------------------------------------------------------------


def test_confirm_counts_once_at_every_level(client, db, page, agent, staffer, as_agent):
    gift = pending_gift(db, page, agent, amount_minor=4000, donor_name="Camille")
    as_agent(staffer)
    queue = text(client.get("/staff/eau-vive/offline"))
    assert "Confirm €40" in queue

    response = client.post(f"/staff/eau-vive/offline/{gift.id}/confirm")
    assert response.status_code == 302
    db.session.expire_all()
    assert gift.status == OfflineGiftStatus.CONFIRMED
    assert gift.reviewed_by_id == staffer.id
    donation = db.session.scalar(select(Donation).where(Donation.offline_gift_id == gift.id))
    assert donation.kind == DonationKind.OFFLINE
    assert donation.payment_method == "cash"
    assert donation.amount_minor == 4000
    assert donation.receipt_number is None  # numbered by the receipts job, after commit
    receipts.issue_pending()
    assert donation.receipt_number
    for level, figures in every_level(page).items():
        assert figures.raised_minor == 4000, level
        assert figures.donation_count == 1, level
    assert totals.drift() == []

    # A second confirmation (double click, back button) adds nothing.
    again = client.post(f"/staff/eau-vive/offline/{gift.id}/confirm")
    assert again.status_code == 302
    assert offline.confirm_offline_gift(staffer, gift).id == donation.id
    assert db.session.scalar(select(func.count(Donation.id))) == 1
    assert every_level(page)["cause"].raised_minor == 4000
    assert totals.drift() == []

    client.post("/account/logout")
    shown = text(client.get(f"/p/{page.slug}"))
    assert "Pending confirmation" not in shown
    assert "€40" in shown
    as_agent(staffer)
    assert "Nothing to confirm" in text(client.get("/staff/eau-vive/offline"))


def test_non_staff_cannot_confirm(client, db, page, agent, as_agent):
    gift = pending_gift(db, page, agent)
    as_agent(agent)
    assert client.get("/staff/eau-vive/offline").status_code == 403
    assert client.post(f"/staff/eau-vive/offline/{gift.id}/confirm").status_code == 403
    assert (
        client.post(f"/staff/eau-vive/offline/{gift.id}/reject", data={"reason": "no"}).status_code
        == 403
    )
    with pytest.raises(PermissionDenied):
        offline.confirm_offline_gift(agent, gift)
    db.session.expire_all()
    assert gift.status == OfflineGiftStatus.PENDING
    assert db.session.scalar(select(func.count(Donation.id))) == 0


def test_staff_of_another_organisation_cannot_confirm(client, db, page, agent, as_agent, outsider):
    gift = pending_gift(db, page, agent)
    as_agent(outsider)
    assert client.post(f"/staff/autre/offline/{gift.id}/confirm").status_code == 404
    assert client.post(f"/staff/eau-vive/offline/{gift.id}/confirm").status_code == 403
    assert db.session.scalar(select(func.count(Donation.id))) == 0


# --- rejecting ----------------------------------------------------------------


def test_reject_needs_a_reason_and_the_agent_sees_it(client, db, page, agent, staffer, as_agent):
    gift = pending_gift(db, page, agent)
    as_agent(staffer)
    response = client.post(f"/staff/eau-vive/offline/{gift.id}/reject", data={"reason": "  "})
    assert response.status_code == 422
    assert "Say why the gift is rejected" in text(response)
    db.session.expire_all()
    assert gift.status == OfflineGiftStatus.PENDING

    reason = "The envelope was empty."
    response = client.post(f"/staff/eau-vive/offline/{gift.id}/reject", data={"reason": reason})
    assert response.status_code == 302
    db.session.expire_all()
    assert gift.status == OfflineGiftStatus.REJECTED
    assert gift.reason == reason
    assert db.session.scalar(select(func.count(Donation.id))) == 0
    assert reason in text(client.get("/staff/eau-vive/offline"))

    with pytest.raises(Conflict):
        offline.confirm_offline_gift(staffer, gift)
    as_agent(agent)
    assert reason in text(client.get(f"/p/{page.slug}/offline"))
    assert "Pending confirmation" not in text(client.get(f"/p/{page.slug}"))


def test_confirmed_gift_cannot_be_rejected(client, db, page, agent, staffer, as_agent):
    gift = pending_gift(db, page, agent)
    offline.confirm_offline_gift(staffer, gift)
    with pytest.raises(ValidationError):
        offline.reject_offline_gift(staffer, gift, "")
    with pytest.raises(Conflict):
        offline.reject_offline_gift(staffer, gift, "Changed my mind")
    as_agent(staffer)
    response = client.post(f"/staff/eau-vive/offline/{gift.id}/reject", data={"reason": "late"})
    assert response.status_code == 302
    assert "cannot be rejected" in text(client.get("/staff/eau-vive/offline"))
    db.session.expire_all()
    assert gift.status == OfflineGiftStatus.CONFIRMED
    assert totals.drift() == []


# --- concurrency (real commits, own database) ---------------------------------


@pytest.mark.slow
def test_concurrent_confirmations_record_once(app, tmp_path, smtp_server):
    with own_database(app, tmp_path, "offline", smtp_server.url) as own:
        with own.app_context():
            org = OrganisationFactory()
            cause = CauseFactory(organisation=org)
            page = PageFactory(cause=cause)
            staff_ids = [MembershipFactory(organisation=org).agent.id for _ in range(6)]
            gift = pending_gift(_db, page, page.owner, amount_minor=1234)
            gift_id, page_id = gift.id, page.id
            _db.session.commit()

        def review(staff_id: int) -> str:
            staff = _db.session.get(Agent, staff_id)
            target = _db.session.get(OfflineGift, gift_id)
            offline.confirm_offline_gift(staff, target)
            return "ok"

        outcomes = race(own.app_context, review, staff_ids)

        with own.app_context():
            rows = _db.session.scalars(
                select(Donation).where(Donation.offline_gift_id == gift_id)
            ).all()
            assert len(rows) == 1, outcomes
            assert totals.figures_one(TotalScope.PAGE, page_id).raised_minor == 1234
            assert totals.drift() == []
            assert "ok" in outcomes


def test_cash_confirmed_after_the_event_closed_stays_on_the_event(db):
    from campaigns.offline import services as offline
    from campaigns.pages import services as page_services
    from campaigns.totals import services as totals
    from campaigns.totals.models import TotalScope
    from tests.factories import EventPageFactory, MembershipFactory

    event = EventPageFactory()
    staff = MembershipFactory(organisation=event.cause.organisation).agent
    gift = offline.record_offline_gift(event.owner, event, {"amount": "40", "method": "cash"})
    page_services.close_page(event.owner, event)
    donation = offline.confirm_offline_gift(staff, gift)
    assert (donation.page_id, donation.is_unattributed) == (event.id, False)
    assert totals.figures_one(TotalScope.EVENT, event.id).raised_minor == 4000
