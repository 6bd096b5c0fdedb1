"""Signed Stripe events posted to the real webhook endpoint."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from campaigns.giving import receipts
from campaigns.giving.models import (
    Donation,
    DonationKind,
    PendingGift,
    PendingGiftStatus,
    StripeEvent,
)
from campaigns.pages.models import PageStatus
from campaigns.signals import gift_recorded
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from tests import stripe_objects as so
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    OrganisationFactory,
    PageFactory,
    ProjectFactory,
)

SECRET = "whsec_test_relais"
# The db fixture has opened the test's connection before the view asks for
# BEGIN IMMEDIATE; the warning says so and nothing more.
pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


@pytest.fixture
def post(app, client, monkeypatch):
    """Sign an event like Stripe and post it; returns the response."""
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)

    def post_event(event: dict, *, secret: str = SECRET, timestamp: int | None = None):
        body, headers = so.signed(event, secret, timestamp=timestamp)
        return client.post("/webhooks/stripe", data=body, headers=headers)

    return post_event


@pytest.fixture
def place(db):
    """An organisation, its cause with a project, an event and a page in it."""
    org = OrganisationFactory(currency="EUR")
    cause = CauseFactory(organisation=org)
    project = ProjectFactory(cause=cause)
    event_page = EventPageFactory(cause=cause)
    page = PageFactory(cause=cause, parent=event_page)
    db.session.commit()
    return {"org": org, "cause": cause, "project": project, "event": event_page, "page": page}


def raised(scope: TotalScope, scope_id: int) -> int:
    return totals.figures_one(scope, scope_id).raised_minor


def count(model, *where) -> int:
    from extensions import db

    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def paid(place, **kw) -> dict:
    kw.setdefault("page", place["page"].slug)
    kw.setdefault("cause", place["cause"].slug)
    return so.checkout_session(**kw)


def completed(session: dict, **kw) -> dict:
    return so.event(session, "checkout.session.completed", **kw)


def assert_outcome(response, outcome: str) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"received": True, "outcome": outcome}


# --- signatures ----------------------------------------------------------------


@pytest.mark.parametrize(
    "how", ["wrong secret", "missing header", "stale timestamp", "tampered body", "not json"]
)
def test_unsigned_or_bad_bodies_are_refused_and_write_nothing(client, post, place, how):
    event = completed(paid(place))
    body, headers = so.signed(event, SECRET)
    if how == "wrong secret":
        body, headers = so.signed(event, "whsec_someone_else")
    elif how == "missing header":
        headers.pop("Stripe-Signature")
    elif how == "stale timestamp":
        body, headers = so.signed(event, SECRET, timestamp=int(time.time()) - 3600)
    elif how == "tampered body":
        body = body.replace('"amount_total": 2500', '"amount_total": 250000')
    elif how == "not json":
        body, headers = so.signed("{not json", SECRET)
    response = client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert count(StripeEvent) == 0
    assert count(Donation) == 0
    assert raised(TotalScope.ORGANISATION, place["org"].id) == 0


def test_without_a_webhook_secret_the_endpoint_refuses(app, client, place, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "")
    body, headers = so.signed(completed(paid(place)), SECRET)
    response = client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 400
    assert "not configured" in response.get_json()["error"]
    assert count(Donation) == 0


# --- gifts -------------------------------------------------------------------------


def test_a_paid_session_is_one_gift_counted_at_every_level(db, post, place):
    session = paid(place, amount=2500, project=place["project"].slug, email="ada@example.org")
    assert_outcome(post(completed(session)), "recorded")

    gift = db.session.scalars(select(Donation)).one()
    assert (gift.kind, gift.amount_minor, gift.currency) == (DonationKind.GIFT, 2500, "EUR")
    assert gift.stripe_checkout_session_id == session["id"]
    assert gift.stripe_payment_intent_id == session["payment_intent"]
    assert (gift.donor_email, gift.donor_name) == ("ada@example.org", "Ada Donor")
    assert gift.receipt_number is None  # numbered by the receipts job, after commit
    receipts.issue_pending()
    assert gift.receipt_number
    for scope, key in [
        (TotalScope.PAGE, "page"),
        (TotalScope.EVENT, "event"),
        (TotalScope.CAUSE, "cause"),
        (TotalScope.PROJECT, "project"),
        (TotalScope.ORGANISATION, "org"),
    ]:
        assert totals.figures_one(scope, place[key].id) == totals.Figures(2500, 1, 1), scope
    assert totals.drift() == []


def test_replays_and_payment_intent_succeeded_do_not_double(post, place):
    session = paid(place)
    event = completed(session)
    assert_outcome(post(event), "recorded")
    assert_outcome(post(event), "duplicate")
    # Stripe can send a second event for the same session (another event id).
    assert_outcome(post(completed(session)), "duplicate")
    assert_outcome(post(so.event(session, "checkout.session.async_payment_succeeded")), "duplicate")
    assert_outcome(
        post(so.event(so.payment_intent(session), "payment_intent.succeeded")), "ignored"
    )
    assert count(Donation) == 1
    assert raised(TotalScope.CAUSE, place["cause"].id) == 2500
    assert totals.drift() == []


def test_a_delayed_payment_is_recorded_when_it_succeeds(post, place):
    session = paid(place, payment_status="unpaid")
    assert_outcome(post(completed(session)), "ignored")
    assert count(Donation) == 0
    session["payment_status"] = "paid"
    assert_outcome(post(so.event(session, "checkout.session.async_payment_succeeded")), "recorded")
    assert raised(TotalScope.PAGE, place["page"].id) == 2500


def test_the_pending_gift_gives_name_message_anonymity_and_project(db, post, place):
    pending = PendingGift(
        reference="pg_ref_1",
        organisation_id=place["org"].id,
        cause_id=place["cause"].id,
        page_id=place["page"].id,
        project_id=place["project"].id,
        amount_minor=5000,
        currency="EUR",
        donor_name="Camille",
        message="Bravo !",
        is_anonymous=True,
    )
    db.session.add(pending)
    db.session.commit()
    session = paid(place, amount=5000, reference="pg_ref_1", name="C. Card Holder")
    assert_outcome(post(completed(session)), "recorded")
    gift = db.session.scalars(select(Donation)).one()
    assert (gift.donor_name, gift.message, gift.is_anonymous) == ("Camille", "Bravo !", True)
    assert (gift.project_id, gift.pending_gift_id) == (place["project"].id, pending.id)
    db.session.refresh(pending)
    assert pending.status == PendingGiftStatus.PAID
    assert raised(TotalScope.PROJECT, place["project"].id) == 5000


def test_an_expired_session_expires_its_pending_gift_and_records_nothing(db, post, place):
    pending = PendingGift(
        reference="pg_ref_2",
        organisation_id=place["org"].id,
        cause_id=place["cause"].id,
        page_id=place["page"].id,
        amount_minor=1000,
        currency="EUR",
    )
    db.session.add(pending)
    db.session.commit()
    session = paid(place, amount=1000, reference="pg_ref_2", payment_status="unpaid")
    session["status"] = "expired"
    assert_outcome(post(so.event(session, "checkout.session.expired")), "ignored")
    db.session.refresh(pending)
    assert pending.status == PendingGiftStatus.EXPIRED
    assert count(Donation) == 0


@pytest.mark.parametrize("which", ["unknown page", "closed page"])
def test_money_for_a_missing_or_closed_page_lands_on_the_cause(db, post, place, which):
    page_slug = "no-such-page"
    if which == "closed page":
        place["page"].status = PageStatus.CLOSED
        db.session.commit()
        page_slug = place["page"].slug
    assert_outcome(post(completed(paid(place, page=page_slug, amount=1500))), "recorded")
    gift = db.session.scalars(select(Donation)).one()
    assert gift.is_unattributed and gift.page_id is None and gift.event_id is None
    assert raised(TotalScope.CAUSE, place["cause"].id) == 1500
    assert raised(TotalScope.ORGANISATION, place["org"].id) == 1500
    assert raised(TotalScope.PAGE, place["page"].id) == 0
    assert "unattributed" in db.session.get(StripeEvent, gift.stripe_event_id).detail


def test_money_naming_no_cause_at_all_is_an_anomaly_for_staff(db, post, place):
    event = completed(paid(place, page="nowhere", cause="nothing"))
    assert_outcome(post(event), "anomaly")
    row = db.session.get(StripeEvent, event["id"])
    assert (row.amount_minor, row.currency) == (2500, "EUR")
    assert "no cause" in row.detail
    assert count(Donation) == 0


@pytest.mark.parametrize(
    ("amount", "currency", "words"),
    [
        (0, "eur", "positive"),
        (-500, "eur", "positive"),
        (None, "eur", "positive"),
        (2500, "zzz", "ISO 4217"),
        (2500, None, "ISO 4217"),
        (2500, "usd", "counts in EUR"),
    ],
)
def test_bad_money_is_an_anomaly_and_leaves_totals_alone(db, post, place, amount, currency, words):
    event = completed(paid(place, amount=amount, currency=currency))
    assert_outcome(post(event), "anomaly")
    assert words in db.session.get(StripeEvent, event["id"]).detail
    assert count(Donation) == 0
    assert raised(TotalScope.ORGANISATION, place["org"].id) == 0
    assert totals.drift() == []


def test_unknown_event_types_are_acknowledged_and_ignored(db, post, place):
    event = so.event({"id": "cus_123", "object": "customer"}, "customer.created")
    assert_outcome(post(event), "ignored")
    assert db.session.get(StripeEvent, event["id"]).outcome == "ignored"


# --- refunds and disputes ---------------------------------------------------------


def gift(post, place, amount=2500) -> dict:
    session = paid(place, amount=amount)
    assert_outcome(post(completed(session)), "recorded")
    return session


def refunded(session: dict, cumulative: int, charge_id: str = "ch_same") -> dict:
    obj = so.charge(
        payment_intent_id=session["payment_intent"],
        amount=session["amount_total"],
        amount_refunded=cumulative,
        refund_amounts=[cumulative],
        charge_id=charge_id,
    )
    return so.event(obj, "charge.refunded")


def rows(kind: DonationKind) -> list[int]:
    from extensions import db

    return list(
        db.session.scalars(
            select(Donation.amount_minor).where(Donation.kind == kind).order_by(Donation.id)
        )
    )


def test_partial_then_full_refund_records_the_differences_once(post, place):
    session = gift(post, place)
    first, full = refunded(session, 500), refunded(session, 2500)
    assert_outcome(post(first), "recorded")
    assert_outcome(post(first), "duplicate")
    assert_outcome(post(refunded(session, 1000)), "recorded")
    assert_outcome(post(full), "recorded")
    # An older cumulative figure delivered late, under a new event id, adds nothing.
    assert_outcome(post(refunded(session, 1000)), "duplicate")
    assert_outcome(post(full), "duplicate")
    assert rows(DonationKind.REFUND) == [-500, -500, -1500]
    assert totals.figures_one(TotalScope.PAGE, place["page"].id) == totals.Figures(0, 1, 1)
    assert raised(TotalScope.EVENT, place["event"].id) == 0
    assert totals.drift() == []


def test_refunds_out_of_order_count_only_the_largest(post, place):
    session = gift(post, place)
    assert_outcome(post(refunded(session, 2500)), "recorded")
    assert_outcome(post(refunded(session, 1000)), "duplicate")
    assert rows(DonationKind.REFUND) == [-2500]
    assert raised(TotalScope.CAUSE, place["cause"].id) == 0


def test_a_refund_before_its_gift_is_applied_when_the_gift_arrives(db, post, place):
    session = paid(place)
    early = refunded(session, 1000)
    assert_outcome(post(early), "anomaly")
    assert count(Donation) == 0
    assert_outcome(post(completed(session)), "recorded")
    assert rows(DonationKind.REFUND) == [-1000]
    parked = db.session.get(StripeEvent, early["id"])
    assert parked.outcome == "recorded" and parked.resolved_at is not None
    assert_outcome(post(early), "duplicate")
    assert raised(TotalScope.PAGE, place["page"].id) == 1500
    assert totals.drift() == []


def disputed(session: dict, kind: str, *, status: str, dispute_id: str, amount=None) -> dict:
    obj = so.dispute(
        charge_id="ch_disputed",
        payment_intent_id=session["payment_intent"],
        amount=amount or session["amount_total"],
        status=status,
        dispute_id=dispute_id,
    )
    return so.event(obj, kind)


def test_a_dispute_withdraws_the_money_and_a_won_dispute_gives_it_back(post, place):
    session = gift(post, place)
    created = disputed(
        session, "charge.dispute.created", status="needs_response", dispute_id="dp_1"
    )
    assert_outcome(post(created), "recorded")
    assert_outcome(post(created), "duplicate")
    assert raised(TotalScope.PAGE, place["page"].id) == 0
    won = disputed(session, "charge.dispute.closed", status="won", dispute_id="dp_1")
    assert_outcome(post(won), "recorded")
    assert_outcome(post(won), "duplicate")
    assert rows(DonationKind.DISPUTE) == [-2500]
    assert rows(DonationKind.DISPUTE_REVERSAL) == [2500]
    assert raised(TotalScope.ORGANISATION, place["org"].id) == 2500
    assert totals.drift() == []


def test_a_lost_dispute_keeps_the_money_withdrawn(post, place):
    session = gift(post, place)
    assert_outcome(
        post(
            disputed(session, "charge.dispute.created", status="needs_response", dispute_id="dp_2")
        ),
        "recorded",
    )
    assert_outcome(
        post(disputed(session, "charge.dispute.closed", status="lost", dispute_id="dp_2")),
        "duplicate",
    )
    assert rows(DonationKind.DISPUTE) == [-2500]
    assert rows(DonationKind.DISPUTE_REVERSAL) == []
    assert raised(TotalScope.CAUSE, place["cause"].id) == 0


def test_a_won_dispute_delivered_first_records_both_rows_in_order(post, place):
    session = gift(post, place)
    won = disputed(session, "charge.dispute.closed", status="won", dispute_id="dp_3")
    assert_outcome(post(won), "recorded")
    assert_outcome(
        post(
            disputed(session, "charge.dispute.created", status="needs_response", dispute_id="dp_3")
        ),
        "duplicate",
    )
    assert rows(DonationKind.DISPUTE) == [-2500]
    assert rows(DonationKind.DISPUTE_REVERSAL) == [2500]
    assert raised(TotalScope.PAGE, place["page"].id) == 2500


def test_a_dispute_cannot_withdraw_more_than_the_refunds_left(post, place):
    session = gift(post, place)
    assert_outcome(post(refunded(session, 2000)), "recorded")
    created = disputed(
        session, "charge.dispute.created", status="needs_response", dispute_id="dp_4"
    )
    assert_outcome(post(created), "recorded")
    assert rows(DonationKind.DISPUTE) == [-500]
    assert raised(TotalScope.PAGE, place["page"].id) == 0


def test_an_integrity_error_that_is_no_duplicate_answers_500_so_stripe_retries(db, post, place):
    # A write in the gift's transaction (here a gift_recorded listener) breaks a
    # unique key: that is no duplicate delivery. Answering 200 "duplicate"
    # would make Stripe stop retrying and lose the money; nothing is kept and
    # the 500 makes Stripe send it again.
    first = completed(paid(place))
    assert_outcome(post(first), "recorded")

    def clashing_listener(donation):
        db.session.add(StripeEvent(id=first["id"], type="x", outcome="ignored"))
        db.session.flush()

    event = completed(paid(place))
    with gift_recorded.connected_to(clashing_listener):
        response = post(event)
    assert response.status_code == 500
    assert db.session.get(StripeEvent, event["id"]) is None
    assert count(Donation) == 1
    assert_outcome(post(event), "recorded")
    assert count(Donation) == 2
