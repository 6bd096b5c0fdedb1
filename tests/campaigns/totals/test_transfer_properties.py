"""Property: an unattributed gift moved to a page by staff — before or after
its refunds, failed refunds and fee arrive (some before the gift itself),
moved again, every event replayed — keeps every total equal to the ledger;
the cause counts the gift and its donor once, the page and its event count
them once after the move, and hold all the gift still holds and cost."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns.errors import Conflict
from campaigns.giving import fees, transfers
from campaigns.giving.follow_ups import remaining
from campaigns.giving.models import COST_KINDS, Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from campaigns.totals.rebuild import rebuild
from tests import stripe_objects as so
from tests.factories import CauseFactory, EventPageFactory, OrganisationFactory, PageFactory

AMOUNT, FEE = 4000, 85
operation = st.one_of(
    st.just(("move", 0)),
    st.just(("move_elsewhere", 0)),
    st.tuples(st.just("refund"), st.integers(0, 2)),
    st.tuples(st.just("fail"), st.integers(0, 2)),
    st.just(("fee", 0)),
    st.tuples(st.just("replay"), st.integers(0, 40)),
)


def gift_rows(cause_id: int) -> list[tuple]:
    from extensions import db

    return sorted(
        db.session.execute(
            select(Donation.id, Donation.kind, Donation.amount_minor, Donation.page_id).where(
                Donation.cause_id == cause_id
            )
        ).all()
    )


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=12), arrival=st.integers(0, 12))
def test_moving_unattributed_money_in_any_order_keeps_every_count_exact(db, operations, arrival):
    cause = CauseFactory(organisation=OrganisationFactory())
    event_page = EventPageFactory(cause=cause)
    page = PageFactory(cause=cause, parent=event_page)
    other = PageFactory(cause=cause)
    # Names a page that does not exist: the gift lands on the cause, unattributed.
    session = so.checkout_session(amount=AMOUNT, page="gone", cause=cause.slug)
    pi = session["payment_intent"]
    operations.insert(min(arrival, len(operations)), ("gift", 0))
    refund_ids = [so.stripe_id("re") for _ in range(3)]
    made: dict[int, int] = {}
    sent: list[dict] = []
    moved_to = None
    clock = int(time.time())
    for kind, i in operations:
        clock += 1
        gift = db.session.scalars(
            select(Donation).where(Donation.stripe_payment_intent_id == pi)
        ).first()
        if kind in ("move", "move_elsewhere"):
            target = page if kind == "move" else other
            if gift is None:
                continue  # staff move a gift they can see
            try:
                done = transfers.move_to_page(None, gift, target)
            except Conflict:
                assert moved_to is not None and moved_to != target.id
            else:
                assert moved_to in (None, target.id) and done.is_repeat == (moved_to is not None)
                moved_to = target.id
            assert totals.drift() == []
            continue
        if kind == "replay":
            if not sent:
                continue
            event = sent[i % len(sent)]
        elif kind == "gift":
            event = so.event(session, "checkout.session.completed", created=clock)
        elif kind == "fee":
            txn = so.balance_transaction(amount=AMOUNT, fee=FEE)
            txn["id"] = f"txn_{pi}"  # one charge, one balance transaction
            event = fees.fee_event(txn, payment_intent=pi, account=None)
        elif kind == "refund":
            made.setdefault(i, AMOUNT // 4)
            charge = so.charge(
                payment_intent_id=pi,
                amount=AMOUNT,
                amount_refunded=sum(made.values()),
                charge_id="ch_moved",
            )
            event = so.event(charge, "charge.refunded", created=clock)
        elif i not in made:
            continue
        else:
            obj = so.refund("ch_moved", pi, AMOUNT // 4, refund_id=refund_ids[i])
            obj["status"] = "failed"
            made.pop(i, None)
            event = so.event(obj, "refund.failed", created=clock)
        process_event(event)
        sent.append(event)
        assert totals.drift() == []

    gift = db.session.scalars(select(Donation).where(Donation.stripe_payment_intent_id == pi)).one()
    held = remaining(gift)
    cost = -db.session.scalar(
        select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
            Donation.original_id == gift.id, Donation.kind.in_(COST_KINDS)
        )
    )
    assert totals.figures_one(TotalScope.CAUSE, cause.id) == totals.Figures(held, 1, 1, cost)
    for scope, scope_id, there in (
        (TotalScope.PAGE, page.id, moved_to == page.id),
        (TotalScope.EVENT, event_page.id, moved_to == page.id),
        (TotalScope.PAGE, other.id, moved_to == other.id),
    ):
        expected = totals.Figures(held, 1, 1, cost) if there else totals.Figures()
        assert totals.figures_one(scope, scope_id) == expected
    unattributed = db.session.scalar(
        select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
            Donation.cause_id == cause.id,
            Donation.is_unattributed.is_(True),
            Donation.kind.not_in(COST_KINDS),
        )
    )
    assert unattributed == (0 if moved_to else held)
    transfers_in = db.session.scalar(
        select(func.count()).where(
            Donation.original_id == gift.id, Donation.kind == DonationKind.TRANSFER_IN
        )
    )
    assert transfers_in == (1 if moved_to else 0)

    before = gift_rows(cause.id)
    for event in sent:  # everything delivered again changes nothing
        process_event(event)
    if moved_to:
        again = transfers.move_to_page(None, gift, db.session.get(type(page), moved_to))
        assert again.is_repeat
    assert gift_rows(cause.id) == before
    assert totals.drift() == []
    rebuild()
    assert totals.figures_one(TotalScope.CAUSE, cause.id) == totals.Figures(held, 1, 1, cost)
    assert totals.drift() == []
