"""Monthly gifts: Checkout in subscription mode, one ledger row per paid
invoice whatever the order and however often Stripe delivers, the page while
it is open and the cause after, the donor's stop link (cancelled at Stripe),
the staff list and the yearly reçu fiscal."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import func, select

from campaigns.giving import covers
from campaigns.giving.models import Donation, DonationKind, PendingGift, StripeEvent
from campaigns.monthly import services as monthly_services
from campaigns.monthly.models import MonthlyGift, MonthlyStatus
from campaigns.pages.models import PageStatus
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db as _db
from messaging.outbox.models import OutboxMessage
from tests import stripe_objects as so
from tests.factories import CauseFactory, MembershipFactory, OrganisationFactory, PageFactory

SECRET = "whsec_test_monthly"
API = "https://api.stripe.com/v1"
GIFT, COVER = 1000, 41


@pytest.fixture
def post(app, client, monkeypatch):
    """Sign like Stripe and post; the outcome the webhook answered."""
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)

    def post_event(event: dict) -> str:
        body, headers = so.signed(event, SECRET)
        response = client.post("/webhooks/stripe", data=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.get_json()["outcome"]

    return post_event


@pytest.fixture
def place(db):
    org = OrganisationFactory(locale="en")
    cause = CauseFactory(organisation=org)
    page = PageFactory(cause=cause)
    db.session.commit()
    return page


def metadata(page, *, cover: int = COVER, with_page: bool = True) -> dict:
    return {
        "page": page.slug if with_page else "",
        "cause": page.cause.slug,
        "project": "",
        "share": "",
        "pending": "",
        "cover": str(cover),
        "organisation": page.cause.organisation.slug,
    }


def started(page, sub: str, *, meta: dict | None = None, account: str | None = None) -> dict:
    session = so.subscription_session(
        subscription_id=sub,
        metadata=meta if meta is not None else metadata(page),
        amount=GIFT + COVER,
        email="ada@example.org",
    )
    return so.event(session, "checkout.session.completed", account=account)


def paid(page, sub: str, *, invoice_id: str | None = None, meta: dict | None = None, **kw):
    invoice = so.invoice(
        subscription_id=sub,
        amount=GIFT + COVER,
        metadata=meta if meta is not None else metadata(page),
        invoice_id=invoice_id,
        email="ada@example.org",
        **kw,
    )
    return invoice


def invoice_event(invoice: dict, kind: str = "invoice.paid", account: str | None = None) -> dict:
    return so.event(invoice, kind, account=account)


def ledger(cause_id: int) -> list[tuple[str, int, int | None]]:
    return [
        (str(kind), amount, page_id)
        for kind, amount, page_id in _db.session.execute(
            select(Donation.kind, Donation.amount_minor, Donation.page_id)
            .where(Donation.cause_id == cause_id)
            .order_by(Donation.id)
        )
    ]


# --- the give form ----------------------------------------------------------------


def test_giving_monthly_opens_checkout_in_subscription_mode(db, client, place, stripe_api):
    stripe_api.add(
        responses.POST,
        f"{API}/checkout/sessions",
        json={"id": "cs_test_sub", "object": "checkout.session", "url": "https://s.test/sub"},
    )
    data = {"amount": "other", "other_amount": "10", "frequency": "monthly", "cover_fees": "y"}
    response = client.post(f"/p/{place.slug}/give", data=data)
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == "https://s.test/sub"
    pending = db.session.scalars(select(PendingGift)).one()
    assert pending.is_monthly and pending.cover_minor == covers.cover_for(1000, "EUR")
    body = parse_qs(stripe_api.calls[0].request.body)
    assert body["mode"] == ["subscription"]
    assert "submit_type" not in body and "payment_intent_data[metadata][page]" not in body
    assert body["line_items[0][price_data][recurring][interval]"] == ["month"]
    assert body["line_items[1][price_data][recurring][interval]"] == ["month"]
    assert body["line_items[1][price_data][unit_amount]"] == [str(pending.cover_minor)]
    # Every invoice carries where the gift goes: the subscription's metadata.
    assert body["subscription_data[metadata][page]"] == [place.slug]
    assert body["subscription_data[metadata][pending]"] == [pending.reference]


# --- each paid invoice, once, in any order ----------------------------------------


def test_session_then_invoices_each_month_is_one_gift_with_its_cover(db, post, place):
    sub = so.stripe_id("sub")
    assert post(started(place, sub)) == "recorded"
    first, second = paid(place, sub), paid(place, sub)
    assert post(invoice_event(first)) == "recorded"
    # The same invoice under Stripe's other event type, and a replay: nothing more.
    assert post(invoice_event(first, "invoice.payment_succeeded")) == "duplicate"
    assert post(invoice_event(first)) == "duplicate"
    assert post(invoice_event(second)) == "recorded"
    assert ledger(place.cause_id) == [
        ("gift", GIFT, place.id),
        ("cover", COVER, place.id),
        ("gift", GIFT, place.id),
        ("cover", COVER, place.id),
    ]
    monthly = db.session.scalars(select(MonthlyGift)).one()
    gifts = db.session.scalars(select(Donation).where(Donation.kind == DonationKind.GIFT)).all()
    assert {g.stripe_invoice_id for g in gifts} == {first["id"], second["id"]}
    assert all(g.monthly_gift_id == monthly.id for g in gifts)
    figures = totals.figures_one(TotalScope.PAGE, place.id)
    assert (figures.raised_minor, figures.covers_minor) == (2 * GIFT, 2 * COVER)
    assert (figures.donation_count, figures.donor_count) == (2, 1)
    assert totals.drift() == []


def test_the_first_invoice_before_its_session_makes_the_monthly_gift(db, post, place):
    sub = so.stripe_id("sub")
    invoice = paid(place, sub, billing_reason="subscription_create")
    assert post(invoice_event(invoice)) == "recorded"
    assert post(started(place, sub)) == "recorded"  # the customer id is news
    assert post(started(place, sub)) == "duplicate"
    assert db.session.scalar(select(func.count(MonthlyGift.id))) == 1
    assert ledger(place.cause_id) == [("gift", GIFT, place.id), ("cover", COVER, place.id)]
    assert totals.drift() == []


def test_an_invoice_without_metadata_waits_for_its_session(db, post, place):
    sub = so.stripe_id("sub")
    bare = paid(place, sub, meta={})
    assert post(invoice_event(bare)) == "anomaly"  # parked with its object
    assert ledger(place.cause_id) == []
    assert post(started(place, sub)) == "recorded"
    assert ledger(place.cause_id) == [("gift", GIFT, place.id), ("cover", COVER, place.id)]
    parked = db.session.scalars(select(StripeEvent).where(StripeEvent.type == "invoice.paid")).one()
    assert parked.resolved_at is not None and parked.outcome == "recorded"
    # Delivered again after it was applied: still one row.
    assert post(invoice_event(bare)) == "duplicate"
    assert len(ledger(place.cause_id)) == 2
    assert totals.drift() == []


def test_once_the_page_closes_the_months_go_to_the_cause(db, post, place):
    sub = so.stripe_id("sub")
    assert post(started(place, sub)) == "recorded"
    assert post(invoice_event(paid(place, sub))) == "recorded"
    place.status = PageStatus.CLOSED
    db.session.commit()
    assert post(invoice_event(paid(place, sub))) == "recorded"
    rows = db.session.scalars(
        select(Donation).where(Donation.kind == DonationKind.GIFT).order_by(Donation.id)
    ).all()
    assert [(r.page_id, r.is_unattributed) for r in rows] == [(place.id, False), (None, True)]
    assert totals.figures_one(TotalScope.PAGE, place.id).raised_minor == GIFT
    assert totals.figures_one(TotalScope.CAUSE, place.cause_id).raised_minor == 2 * GIFT
    assert totals.drift() == []


def test_a_gift_to_the_cause_is_the_causes_own_money(db, post, place):
    sub = so.stripe_id("sub")
    meta = metadata(place, with_page=False)
    assert post(started(place, sub, meta=meta)) == "recorded"
    assert post(invoice_event(paid(place, sub, meta=meta))) == "recorded"
    gift = db.session.scalars(select(Donation).where(Donation.kind == DonationKind.GIFT)).one()
    # No page named: the cause's own money, as a one-off gift to the cause,
    # not unattributed money waiting for staff to find it a page.
    assert gift.page_id is None and not gift.is_unattributed
    assert totals.figures_one(TotalScope.CAUSE, place.cause_id).raised_minor == GIFT
    assert totals.drift() == []


def test_an_invoice_naming_no_known_cause_is_kept_not_counted(db, post, place):
    sub = so.stripe_id("sub")
    meta = {**metadata(place), "cause": "no-such-cause", "page": ""}
    assert post(invoice_event(paid(place, sub, meta=meta))) == "anomaly"
    assert db.session.scalar(select(func.count(Donation.id))) == 0
    assert db.session.scalar(select(func.count(MonthlyGift.id))) == 0


def test_a_refund_of_one_month_takes_back_the_gift_then_the_cover(db, post, place):
    sub = so.stripe_id("sub")
    invoice = paid(place, sub)
    assert post(invoice_event(invoice)) == "recorded"
    charge = so.charge(
        payment_intent_id=invoice["payment_intent"],
        amount=GIFT + COVER,
        amount_refunded=GIFT + COVER,
        charge_id=invoice["charge"],
    )
    assert post(so.event(charge, "charge.refunded")) == "recorded"
    assert ledger(place.cause_id)[2:] == [("refund", -GIFT, place.id), ("cover", -COVER, place.id)]
    figures = totals.figures_one(TotalScope.PAGE, place.id)
    assert (figures.raised_minor, figures.covers_minor) == (0, 0)
    assert totals.drift() == []


# --- status -----------------------------------------------------------------------


def test_deleted_is_final_and_updates_follow_stripe(db, post, place):
    sub = so.stripe_id("sub")
    assert post(started(place, sub)) == "recorded"
    monthly = db.session.scalars(select(MonthlyGift)).one()
    past_due = so.subscription(subscription_id=sub, status="past_due")
    assert post(so.event(past_due, "customer.subscription.updated")) == "recorded"
    db.session.refresh(monthly)
    assert monthly.status == MonthlyStatus.PAST_DUE
    ended = so.subscription(subscription_id=sub, status="canceled")
    assert post(so.event(ended, "customer.subscription.deleted")) == "recorded"
    # An older "active" delivered late does not bring it back.
    active = so.subscription(subscription_id=sub, status="active")
    assert post(so.event(active, "customer.subscription.updated")) == "ignored"
    db.session.refresh(monthly)
    assert monthly.status == MonthlyStatus.CANCELED and monthly.canceled_at is not None


def test_a_deletion_before_the_session_is_applied_when_it_arrives(db, post, place):
    sub = so.stripe_id("sub")
    ended = so.subscription(subscription_id=sub, status="canceled")
    assert post(so.event(ended, "customer.subscription.deleted")) == "anomaly"
    assert post(started(place, sub)) == "recorded"
    assert db.session.scalars(select(MonthlyGift)).one().status == MonthlyStatus.CANCELED


# --- Connect ----------------------------------------------------------------------


def test_a_connected_accounts_invoices_stay_on_that_account(db, post, monkeypatch, app):
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", SECRET)
    org = OrganisationFactory(connected_account_id=so.stripe_id("acct"))
    page = PageFactory(cause=CauseFactory(organisation=org))
    db.session.commit()
    account, sub = org.connected_account_id, so.stripe_id("sub")
    assert post(started(page, sub, account=account)) == "recorded"
    invoice = paid(page, sub)
    # The same invoice reported by another (unknown) account is kept, not counted.
    assert post(invoice_event(invoice, account=so.stripe_id("acct"))) == "anomaly"
    assert post(invoice_event(invoice, account=account)) == "recorded"
    gift = db.session.scalars(select(Donation).where(Donation.kind == DonationKind.GIFT)).one()
    assert gift.stripe_account_id == account and gift.organisation_id == org.id
    assert db.session.scalars(select(MonthlyGift)).one().stripe_account_id == account


# --- the donor's stop link --------------------------------------------------------


def test_the_donor_is_mailed_a_link_that_stops_the_gift_at_stripe(
    db, client, post, place, stripe_api
):
    sub = so.stripe_id("sub")
    assert post(started(place, sub)) == "recorded"
    assert post(started(place, sub)) == "duplicate"
    (mail,) = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.trigger == "monthly_gift")
    ).all()
    monthly = db.session.scalars(select(MonthlyGift)).one()
    link = f"/monthly/stop/{monthly_services.stop_token(monthly)}"
    assert link in mail.body_text
    page = client.get(link)
    assert page.status_code == 200 and "Stop my monthly gift" in page.text
    stripe_api.add(
        responses.DELETE,
        f"{API}/subscriptions/{sub}",
        json=so.subscription(subscription_id=sub, status="canceled"),
    )
    response = client.post(link, data={})
    assert response.status_code == 200, response.text
    assert "Your monthly gift is stopped" in response.text
    assert len(stripe_api.calls) == 1
    db.session.refresh(monthly)
    assert monthly.status == MonthlyStatus.CANCELED
    # Again: it is stopped already, and Stripe is not asked twice.
    again = client.post(link, data={})
    assert "stopped already" in again.text and len(stripe_api.calls) == 1


def test_a_stop_that_stripe_fails_changes_nothing(db, client, post, place, stripe_api):
    sub = so.stripe_id("sub")
    assert post(started(place, sub)) == "recorded"
    monthly = db.session.scalars(select(MonthlyGift)).one()
    stripe_api.add(
        responses.DELETE,
        f"{API}/subscriptions/{sub}",
        status=500,
        json={"error": {"type": "api_error", "message": "down"}},
    )
    response = client.post(f"/monthly/stop/{monthly_services.stop_token(monthly)}", data={})
    assert response.status_code == 503
    assert "Nothing changed" in response.text
    db.session.refresh(monthly)
    assert monthly.status == MonthlyStatus.ACTIVE


def test_a_changed_stop_link_is_refused_with_a_sentence(db, client, post, place):
    sub = so.stripe_id("sub")
    assert post(started(place, sub)) == "recorded"
    monthly = db.session.scalars(select(MonthlyGift)).one()
    token = monthly_services.stop_token(monthly)
    for bad in (token[:-3] + "abc", "garbage", "x" * 300):
        response = client.post(f"/monthly/stop/{bad}", data={})
        assert response.status_code == 404
        assert "link to stop a monthly gift is not complete" in response.text
    db.session.refresh(monthly)
    assert monthly.status == MonthlyStatus.ACTIVE


def test_the_stop_link_cancels_on_the_connected_account(
    db, client, post, app, monkeypatch, stripe_api
):
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", SECRET)
    org = OrganisationFactory(connected_account_id=so.stripe_id("acct"))
    page = PageFactory(cause=CauseFactory(organisation=org))
    db.session.commit()
    sub = so.stripe_id("sub")
    assert post(started(page, sub, account=org.connected_account_id)) == "recorded"
    monthly = db.session.scalars(select(MonthlyGift)).one()
    stripe_api.add(
        responses.DELETE,
        f"{API}/subscriptions/{sub}",
        json=so.subscription(subscription_id=sub, status="canceled"),
    )
    client.post(f"/monthly/stop/{monthly_services.stop_token(monthly)}", data={})
    (call,) = stripe_api.calls
    assert call.request.headers["Stripe-Account"] == org.connected_account_id


# --- staff ------------------------------------------------------------------------


def test_staff_see_the_active_monthly_donors(db, client, login_as, post, place, outsider):
    running, stopped = so.stripe_id("sub"), so.stripe_id("sub")
    for sub in (running, stopped):
        assert post(started(place, sub)) == "recorded"
        assert post(invoice_event(paid(place, sub))) == "recorded"
    ended = so.subscription(subscription_id=stopped, status="canceled")
    assert post(so.event(ended, "customer.subscription.deleted")) == "recorded"
    org = place.cause.organisation
    staff = MembershipFactory(organisation=org).agent
    db.session.commit()
    login_as(outsider)
    assert client.get(f"/staff/{org.slug}/monthly/").status_code in (403, 404)
    login_as(staff)
    response = client.get(f"/staff/{org.slug}/monthly/")
    assert response.status_code == 200
    assert response.text.count("data-monthly=") == 1
    assert "1 active monthly gift, €10 a month." in response.text
    assert "ada@example.org" in response.text


def test_the_yearly_receipt_sums_the_months_and_their_covers(db, post, place, runner):
    sub = so.stripe_id("sub")
    for _ in range(3):
        assert post(invoice_event(paid(place, sub))) == "recorded"
    from campaigns.giving.yearly import statement
    from campaigns.model_types import utcnow

    year = utcnow().year
    (row,) = statement(place.cause.organisation_id, year)
    assert (row.gifts, row.monthly_gifts) == (3, 3)
    assert (row.given_minor, row.covers_minor) == (3 * GIFT, 3 * COVER)
    assert row.deductible_minor == 3 * (GIFT + COVER)
    assert statement(place.cause.organisation_id, year - 1) == []
    result = runner.invoke(
        args=["receipts", "yearly", "--year", str(year), "--org", place.cause.organisation.slug]
    )
    assert result.exit_code == 0, result.output
    assert "ada@example.org" in result.output and "3 gifts (3 monthly)" in result.output
    bad = runner.invoke(args=["receipts", "yearly", "--year", "12", "--org", "nope"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output


def test_erasing_the_donor_blanks_their_monthly_gift_and_it_keeps_running(db, post, place):
    from campaigns.donors.services import erase_donor

    sub = so.stripe_id("sub")
    assert post(started(place, sub)) == "recorded"
    assert post(invoice_event(paid(place, sub))) == "recorded"
    erase_donor("ada@example.org")
    db.session.commit()
    monthly = db.session.scalars(select(MonthlyGift)).one()
    assert (monthly.donor_email, monthly.donor_name, monthly.is_anonymous) == ("", "", True)
    assert monthly.status == MonthlyStatus.ACTIVE
    # The next month still lands, nameless.
    assert post(invoice_event(paid(place, sub))) == "recorded"
    names = db.session.scalars(
        select(Donation.donor_email).where(Donation.kind == DonationKind.GIFT)
    ).all()
    assert names == ["", ""]
    assert totals.drift() == []
