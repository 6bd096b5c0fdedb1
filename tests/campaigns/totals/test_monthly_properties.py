"""Property: a monthly gift's events — its Checkout Session, paid invoices
(under either of Stripe's two event types, some without the subscription's
metadata), status changes, a refund of one month, the page closing — in any
order, replayed and under new event ids, book each invoice exactly once with
its fee cover, and keep every total equal to the ledger."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.monthly.models import MonthlyGift
from campaigns.pages.models import PageStatus
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from tests import stripe_objects as so
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

GIFT, COVER, MONTHS = 2000, 56, 4
operation = st.one_of(
    st.just(("session", 0)),
    st.tuples(st.just("invoice"), st.integers(0, MONTHS - 1)),
    st.tuples(st.just("succeeded"), st.integers(0, MONTHS - 1)),
    st.tuples(st.just("bare"), st.integers(0, MONTHS - 1)),  # no metadata on it
    st.tuples(st.just("refund"), st.integers(0, MONTHS - 1)),
    st.just(("past_due", 0)),
    st.just(("deleted", 0)),
    st.just(("close", 0)),
    st.tuples(st.just("replay"), st.integers(0, 40)),
    st.tuples(st.just("again"), st.integers(0, 40)),  # the same object, a new event id
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=14))
def test_monthly_events_in_any_order_book_each_invoice_once(db, operations):
    cause = CauseFactory(organisation=OrganisationFactory())
    page = PageFactory(cause=cause)
    db.session.flush()
    sub = so.stripe_id("sub")
    meta = {"page": page.slug, "cause": cause.slug, "pending": "", "cover": str(COVER)}
    invoices = [
        so.invoice(subscription_id=sub, amount=GIFT + COVER, metadata=meta) for _ in range(MONTHS)
    ]
    session = so.subscription_session(subscription_id=sub, metadata=meta, amount=GIFT + COVER)
    sent: list[dict] = []
    seen_session = False
    paid: set[str] = set()  # invoices Stripe reported (with or without metadata)
    known: set[str] = set()  # those that can be placed (metadata, or a session seen)
    refunded: set[str] = set()
    clock = int(time.time())
    for kind, i in operations:
        clock += 1
        invoice = invoices[i % MONTHS]
        if kind in ("replay", "again"):
            if not sent:
                continue
            event = sent[i % len(sent)]
            if kind == "again":
                event = {**event, "id": so.stripe_id("evt"), "created": clock}
        elif kind == "session":
            event = so.event(session, "checkout.session.completed", created=clock)
            seen_session = True
        elif kind in ("invoice", "succeeded"):
            kind_name = "invoice.paid" if kind == "invoice" else "invoice.payment_succeeded"
            event = so.event(invoice, kind_name, created=clock)
            paid.add(invoice["id"])
            known.add(invoice["id"])
        elif kind == "bare":
            bare = {**invoice, "subscription_details": {"metadata": {}}}
            event = so.event(bare, "invoice.paid", created=clock)
            paid.add(invoice["id"])
        elif kind == "refund":
            charge = so.charge(
                payment_intent_id=invoice["payment_intent"],
                amount=GIFT + COVER,
                amount_refunded=GIFT + COVER,
                charge_id=invoice["charge"],
            )
            event = so.event(charge, "charge.refunded", created=clock)
            refunded.add(invoice["id"])
        elif kind in ("past_due", "deleted"):
            status = "past_due" if kind == "past_due" else "canceled"
            obj = so.subscription(subscription_id=sub, status=status)
            name = (
                "customer.subscription.updated"
                if kind == "past_due"
                else ("customer.subscription.deleted")
            )
            event = so.event(obj, name, created=clock)
        else:
            page.status = PageStatus.CLOSED
            db.session.flush()
            continue
        process_event(event)
        sent.append(event)
        assert totals.drift() == []

    # Once the monthly gift exists (any placed invoice or the session made it),
    # every invoice reported, bare or not, is booked once.
    exists = seen_session or bool(known)
    expected = paid if exists else set()
    gifts = db.session.execute(
        select(Donation.stripe_invoice_id, Donation.amount_minor).where(
            Donation.kind == DonationKind.GIFT, Donation.cause_id == cause.id
        )
    ).all()
    assert sorted(g[0] for g in gifts) == sorted(expected)
    assert all(amount == GIFT for _invoice, amount in gifts)
    assert db.session.scalar(
        select(func.count(MonthlyGift.id)).where(MonthlyGift.stripe_subscription_id == sub)
    ) == (1 if exists else 0)
    # A month refunded after it was booked gives back its gift and its cover.
    back = len(expected & refunded)
    figures = totals.figures_one(TotalScope.CAUSE, cause.id)
    assert figures.raised_minor == GIFT * (len(expected) - back)
    assert figures.covers_minor == COVER * (len(expected) - back)
    assert figures.donation_count == len(expected)

    def ledger():
        return sorted(
            db.session.execute(
                select(Donation.kind, Donation.amount_minor, Donation.id).where(
                    Donation.cause_id == cause.id
                )
            ).all()
        )

    before = ledger()
    for event in sent:  # everything delivered again changes nothing
        process_event(event)
    assert ledger() == before
    assert totals.drift() == []
