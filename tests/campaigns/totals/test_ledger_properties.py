"""Property: any sequence of gifts, replays, cumulative refunds and disputes,
delivered in any order, leaves every level's totals equal to the ledger and
never refunds a gift beyond its amount."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.pages.models import PageStatus
from campaigns.totals import services as totals
from tests import stripe_objects as so
from tests.factories import CauseFactory, EventPageFactory, OrganisationFactory, PageFactory

GIFTS = 2
AMOUNTS = (100, 1000, 2500)
PAGES = ("personal", "in-event", "closed", "unknown")

refund = st.tuples(st.just("refund"), st.integers(0, GIFTS - 1), st.integers(1, 4))
operation = st.one_of(
    st.tuples(st.just("gift"), st.integers(0, GIFTS - 1)),
    st.tuples(st.just("replay"), st.integers(0, 40)),
    refund,
    refund,
    st.tuples(st.just("dispute"), st.integers(0, GIFTS - 1)),
    st.tuples(st.just("closed"), st.integers(0, GIFTS - 1), st.sampled_from(["won", "lost"])),
)


def world(db):
    cause = CauseFactory(organisation=OrganisationFactory())
    event_page = EventPageFactory(cause=cause)
    return cause, {
        "personal": PageFactory(cause=cause).slug,
        "in-event": PageFactory(cause=cause, parent=event_page).slug,
        "closed": PageFactory(cause=cause, status=PageStatus.CLOSED).slug,
        "unknown": "no-such-page",
    }


@settings(
    max_examples=40,
    deadline=None,
    database=None,  # no .hypothesis directory in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    amounts=st.lists(st.sampled_from(AMOUNTS), min_size=GIFTS, max_size=GIFTS),
    places=st.lists(st.sampled_from(PAGES), min_size=GIFTS, max_size=GIFTS),
    operations=st.lists(operation, min_size=1, max_size=14),
    arrivals=st.lists(st.integers(0, 14), min_size=GIFTS, max_size=GIFTS),
)
@example(
    amounts=[1000, 2500],
    places=["in-event", "unknown"],
    operations=[
        ("refund", 0, 1),
        ("refund", 0, 3),
        ("dispute", 1),
        ("closed", 1, "won"),
        ("replay", 1),
        ("refund", 0, 2),
    ],
    arrivals=[3, 0],
)
def test_any_delivery_order_keeps_totals_equal_to_the_ledger(
    db, amounts, places, operations, arrivals
):
    # Every gift's own event arrives somewhere in the sequence, often after its
    # refunds and disputes; "gift" operations add further deliveries of it.
    for i, position in sorted(enumerate(arrivals), key=lambda p: -p[1]):
        operations.insert(min(position, len(operations)), ("gift", i))
    cause, slugs = world(db)
    sessions = [
        so.checkout_session(amount=a, page=slugs[p], cause=cause.slug)
        for a, p in zip(amounts, places, strict=True)
    ]
    dispute_ids = [so.stripe_id("dp") for _ in sessions]
    sent: list[dict] = []
    most_refunded = [0] * GIFTS
    disputed = [False] * GIFTS
    clock = int(time.time())
    for op in operations:
        clock += 1
        kind, i = op[0], op[1]
        if kind == "replay":
            if not sent:
                continue
            event = sent[i % len(sent)]
        elif kind == "gift":
            event = so.event(sessions[i], "checkout.session.completed", created=clock)
        elif kind == "refund":
            amount = sessions[i]["amount_total"]
            cumulative = amount * op[2] // 4
            charge = so.charge(
                payment_intent_id=sessions[i]["payment_intent"],
                amount=amount,
                amount_refunded=cumulative,
            )
            event = so.event(charge, "charge.refunded", created=clock)
            most_refunded[i] = max(most_refunded[i], cumulative)
        else:
            disputed[i] = True
            status = "needs_response" if kind == "dispute" else op[2]
            obj = so.dispute(
                charge_id=so.stripe_id("ch"),
                payment_intent_id=sessions[i]["payment_intent"],
                amount=sessions[i]["amount_total"],
                status=status,
                dispute_id=dispute_ids[i],
            )
            event_type = "charge.dispute.created" if kind == "dispute" else "charge.dispute.closed"
            event = so.event(obj, event_type, created=clock)
        process_event(event)
        sent.append(event)
        assert totals.drift() == []

    for i, session in enumerate(sessions):
        gift = db.session.scalars(
            select(Donation).where(
                Donation.stripe_checkout_session_id == session["id"],
                Donation.kind == DonationKind.GIFT,
            )
        ).one_or_none()
        if gift is None:
            continue
        children = dict(
            db.session.execute(
                select(Donation.kind, func.sum(Donation.amount_minor))
                .where(Donation.original_id == gift.id)
                .group_by(Donation.kind)
            ).all()
        )
        refunded = -children.get(DonationKind.REFUND, 0)
        assert 0 <= refunded <= gift.amount_minor
        assert gift.amount_minor + sum(children.values()) >= 0
        if not disputed[i]:
            # Parked refunds are applied once the gift arrives: the largest
            # cumulative figure Stripe sent is what the ledger holds.
            assert refunded == most_refunded[i]
    gifts_sent = {e["data"]["object"]["id"] for e in sent if e["type"].startswith("checkout.")}
    assert db.session.scalar(
        select(func.count())
        .select_from(Donation)
        .where(Donation.kind == DonationKind.GIFT, Donation.cause_id == cause.id)
    ) == len(gifts_sent)
