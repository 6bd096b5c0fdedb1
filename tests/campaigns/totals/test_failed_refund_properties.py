"""Property: refunds and their failures, replayed and delivered in any order
(before the gift too), keep every total equal to the ledger, give each failed
refund back at most once, never refund below zero or beyond the gift, and, in
Stripe's order, leave exactly the refunds that did not fail."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.totals import services as totals
from tests import stripe_objects as so
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

AMOUNT = 2000
REFUNDS = 3
operation = st.one_of(
    st.tuples(st.just("refund"), st.integers(0, REFUNDS - 1)),
    st.tuples(st.just("fail"), st.integers(0, REFUNDS - 1)),
    st.tuples(st.just("replay"), st.integers(0, 40)),
)


def children(db, gift_id: int) -> dict:
    """The gift's further rows, summed per kind."""
    return dict(
        db.session.execute(
            select(Donation.kind, func.sum(Donation.amount_minor))
            .where(Donation.original_id == gift_id)
            .group_by(Donation.kind)
        ).all()
    )


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=12), arrival=st.integers(0, 12))
def test_failed_refunds_in_any_order_keep_totals_equal_to_the_ledger(db, operations, arrival):
    cause = CauseFactory(organisation=OrganisationFactory())
    page = PageFactory(cause=cause)
    session = so.checkout_session(amount=AMOUNT, page=page.slug, cause=cause.slug)
    operations.insert(min(arrival, len(operations)), ("gift", 0))
    refund_ids = [so.stripe_id("re") for _ in range(REFUNDS)]
    made: dict[int, int] = {}  # refund index -> amount, while it has not failed
    sent: list[dict] = []
    clock = int(time.time())
    for kind, i in operations:
        clock += 1
        if kind == "replay":
            if not sent:
                continue
            event = sent[i % len(sent)]
        elif kind == "gift":
            event = so.event(session, "checkout.session.completed", created=clock)
        elif kind == "refund":
            made.setdefault(i, AMOUNT // 4)
            charge = so.charge(
                payment_intent_id=session["payment_intent"],
                amount=AMOUNT,
                amount_refunded=sum(made.values()),
                charge_id="ch_one",
            )
            event = so.event(charge, "charge.refunded", created=clock)
        elif i not in made:
            continue  # Stripe reports failures of refunds it made only
        else:
            obj = so.refund(
                "ch_one", session["payment_intent"], AMOUNT // 4, refund_id=refund_ids[i]
            )
            obj["status"] = "failed"
            made.pop(i, None)
            event = so.event(obj, "refund.failed", created=clock)
        process_event(event)
        sent.append(event)
        assert totals.drift() == []

    gift = db.session.scalars(
        select(Donation).where(Donation.stripe_checkout_session_id == session["id"])
    ).one()
    before = children(db, gift.id)
    net_refunded = -(
        before.get(DonationKind.REFUND, 0) + before.get(DonationKind.REFUND_REVERSAL, 0)
    )
    assert 0 <= net_refunded <= AMOUNT
    reversed_ids = list(
        db.session.scalars(
            select(Donation.stripe_refund_id).where(Donation.kind == DonationKind.REFUND_REVERSAL)
        )
    )
    assert len(reversed_ids) == len(set(reversed_ids))
    if not any(kind == "replay" for kind, _ in operations):
        # Delivered in the order Stripe sent them (the gift anywhere): the
        # ledger holds exactly the refunds that did not fail.
        assert net_refunded == sum(made.values())
    for event in sent:  # everything delivered again changes nothing
        process_event(event)
    assert children(db, gift.id) == before
    assert totals.drift() == []
