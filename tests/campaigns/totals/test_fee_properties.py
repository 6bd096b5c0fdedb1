"""Property: Stripe's fees — of the charge and a refund (read by the fee job),
of a dispute and its reinstatement (carried by the dispute's events) —
delivered in any order, before the gift too, replayed and under new event
ids, keep every total equal to the ledger, book each balance transaction
exactly once, and never change what was raised (gross)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns.giving import fees
from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from tests import stripe_objects as so
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

AMOUNT = 4000
CHARGE_FEE, REFUND_FEE, DISPUTE_FEE = 85, 10, 1500
operation = st.one_of(
    st.just(("charge_fee", 0)),
    st.just(("refund", 0)),
    st.just(("refund_fee", 0)),
    st.just(("dispute", 0)),
    st.just(("dispute_won", 0)),
    st.tuples(st.just("replay"), st.integers(0, 40)),
    st.tuples(st.just("again"), st.integers(0, 40)),  # the same object, a new event id
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=12), arrival=st.integers(0, 12))
def test_fees_in_any_order_are_booked_once_and_leave_gross_alone(db, operations, arrival):
    cause = CauseFactory(organisation=OrganisationFactory())
    page = PageFactory(cause=cause)
    session = so.checkout_session(amount=AMOUNT, page=page.slug, cause=cause.slug)
    pi = session["payment_intent"]
    operations.insert(min(arrival, len(operations)), ("gift", 0))
    charge_txn = so.balance_transaction(amount=AMOUNT, fee=CHARGE_FEE)
    refund_txn = so.balance_transaction(amount=-1000, fee=REFUND_FEE, txn_type="refund")
    withdrawal = so.balance_transaction(amount=-AMOUNT, fee=DISPUTE_FEE, txn_type="adjustment")
    reinstated = so.balance_transaction(amount=AMOUNT, fee=-DISPUTE_FEE, txn_type="adjustment")
    dispute = so.dispute(charge_id="ch_one", payment_intent_id=pi, amount=AMOUNT)
    expected: dict[str, int] = {}  # balance transaction -> fee, once each
    sent: list[dict] = []
    clock = int(time.time())
    for kind, i in operations:
        clock += 1
        if kind in ("replay", "again"):
            if not sent:
                continue
            event = sent[i % len(sent)]
            if kind == "again":
                event = {**event, "id": so.stripe_id("evt"), "created": clock}
        elif kind == "gift":
            event = so.event(session, "checkout.session.completed", created=clock)
        elif kind == "charge_fee":
            event = fees.fee_event(charge_txn, payment_intent=pi, account=None)
            expected[charge_txn["id"]] = CHARGE_FEE
        elif kind == "refund":
            charge = so.charge(
                payment_intent_id=pi, amount=AMOUNT, amount_refunded=1000, charge_id="ch_one"
            )
            event = so.event(charge, "charge.refunded", created=clock)
        elif kind == "refund_fee":
            event = fees.fee_event(refund_txn, payment_intent=pi, account=None)
            expected[refund_txn["id"]] = REFUND_FEE
        elif kind == "dispute":
            obj = {**dispute, "status": "needs_response", "balance_transactions": [withdrawal]}
            event = so.event(obj, "charge.dispute.created", created=clock)
            expected[withdrawal["id"]] = DISPUTE_FEE
        else:
            obj = {**dispute, "status": "won", "balance_transactions": [withdrawal, reinstated]}
            event = so.event(obj, "charge.dispute.closed", created=clock)
            expected[withdrawal["id"]] = DISPUTE_FEE
            expected[reinstated["id"]] = -DISPUTE_FEE
        process_event(event)
        sent.append(event)
        assert totals.drift() == []

    booked = dict(
        db.session.execute(
            select(Donation.stripe_balance_transaction_id, -Donation.amount_minor).where(
                Donation.kind == DonationKind.FEE, Donation.cause_id == cause.id
            )
        ).all()
    )
    # Every fee Stripe reported is booked exactly once, whenever it came.
    assert booked == {txn: fee for txn, fee in expected.items() if fee}
    figures = totals.figures_one(TotalScope.PAGE, page.id)
    assert figures.fees_minor == sum(expected.values())
    gross = db.session.scalar(
        select(func.sum(Donation.amount_minor)).where(
            Donation.page_id == page.id, Donation.kind != DonationKind.FEE
        )
    )
    assert figures.raised_minor == gross  # fees never touch what was raised
    assert 0 <= figures.raised_minor <= AMOUNT
    before = sorted(
        db.session.execute(
            select(Donation.kind, Donation.amount_minor, Donation.id).where(
                Donation.cause_id == cause.id
            )
        ).all()
    )
    for event in sent:  # everything delivered again changes nothing
        process_event(event)
    after = sorted(
        db.session.execute(
            select(Donation.kind, Donation.amount_minor, Donation.id).where(
                Donation.cause_id == cause.id
            )
        ).all()
    )
    assert after == before
    assert totals.drift() == []
