"""Property: gifts inside and outside a match's window, partial and full
refunds, failed refunds and replays of every event, in any order around the
cap: the match never holds more than its cap, holds exactly
min(cap, Σ ratio × what each gift of the window still holds), the ledger's
match rows add up to it, and every total equals the ledger."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaigns.giving.follow_ups import remaining
from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.matching import settlement
from campaigns.matching.models import Match, MatchedGift
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from campaigns.totals.rebuild import rebuild
from tests import stripe_objects as so
from tests.campaigns.matching.test_matching import make_match
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

CAP = 5000
operation = st.one_of(
    st.tuples(st.just("gift"), st.sampled_from([700, 1500, 2500, 4000]), st.booleans()),
    st.tuples(st.just("refund"), st.integers(0, 9), st.sampled_from([1, 2, 4])),
    st.tuples(st.just("fail"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("replay"), st.integers(0, 60), st.just(0)),
)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=st.lists(operation, min_size=1, max_size=14),
    ratio=st.sampled_from([(1, 1), (2, 1), (1, 2), (3, 2)]),
)
def test_a_match_holds_min_of_cap_and_ratio_times_eligible_in_any_order(db, operations, ratio):
    org = OrganisationFactory()
    cause = CauseFactory(organisation=org)
    page = PageFactory(cause=cause)
    now = int(time.time())
    match = make_match(org, cause, page=page, ratio=f"{ratio[0]}:{ratio[1]}", cap=CAP)
    sessions: list[dict] = []
    refunds: dict[int, list[tuple[str, int]]] = {}  # gift index -> booked refunds (id, amount)
    sent: list[dict] = []
    clock = now
    for kind, i, arg in operations:
        clock += 1
        if kind == "gift":
            session = so.checkout_session(amount=i, page=page.slug, cause=cause.slug)
            # Outside the window (two hours ago) or inside it.
            at = now - 7200 if arg else clock
            sessions.append(session)
            event = so.event(session, "checkout.session.completed", created=at)
        elif not sessions:
            continue
        elif kind == "replay":
            if not sent:
                continue
            event = sent[i % len(sent)]
        elif kind == "refund":
            session = sessions[i % len(sessions)]
            booked = refunds.setdefault(i % len(sessions), [])
            step = session["amount_total"] // 4 * arg
            cumulative = sum(a for _r, a in booked) + step
            if cumulative > session["amount_total"]:
                continue
            booked.append((so.stripe_id("re"), step))
            charge = so.charge(
                payment_intent_id=session["payment_intent"],
                amount=session["amount_total"],
                amount_refunded=cumulative,
                charge_id=f"ch_{session['payment_intent']}",
            )
            event = so.event(charge, "charge.refunded", created=clock)
        else:  # the last refund of a gift failed: its money comes back
            booked = refunds.get(i % len(sessions))
            if not booked:
                continue
            refund_id, amount = booked.pop()
            session = sessions[i % len(sessions)]
            obj = so.refund(
                f"ch_{session['payment_intent']}",
                session["payment_intent"],
                amount,
                refund_id=refund_id,
            )
            obj["status"] = "failed"
            event = so.event(obj, "refund.failed", created=clock)
        process_event(event)
        sent.append(event)
        check(db, match, ratio, page)

    before = db.session.scalar(select(func.count()).select_from(Donation))
    for event in sent:  # everything delivered again changes nothing
        process_event(event)
    assert db.session.scalar(select(func.count()).select_from(Donation)) == before
    check(db, match, ratio, page)
    rebuild()
    assert totals.drift() == []


def check(db, match: Match, ratio: tuple[int, int], page) -> None:
    db.session.refresh(match)
    start = match.starts_at
    gifts = db.session.scalars(
        select(Donation).where(Donation.kind == DonationKind.GIFT, Donation.page_id == page.id)
    ).all()
    eligible = sum(
        remaining(g) * ratio[0] // ratio[1]
        for g in gifts
        if _aware(g.created_at) >= _aware(start) and _aware(g.created_at) < _aware(match.ends_at)
    )
    assert 0 <= match.matched_minor <= match.cap_minor
    assert match.matched_minor == min(match.cap_minor, eligible)
    assert settlement.ledger_sum(match) == match.matched_minor
    assert (
        db.session.scalar(
            select(func.coalesce(func.sum(MatchedGift.matched_minor), 0)).where(
                MatchedGift.match_id == match.id
            )
        )
        == match.matched_minor
    )
    given_ = sum(remaining(g) for g in gifts)
    assert totals.figures_one(TotalScope.PAGE, page.id).raised_minor == given_ + match.matched_minor
    assert totals.drift() == []


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
