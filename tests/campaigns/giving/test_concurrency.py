"""Many threads posting signed webhooks at once to a live server with real
commits, on SQLite and on PostgreSQL: the ledger holds each gift once and the
totals equal it."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select

from campaigns.giving import receipts
from campaigns.giving.jobs import issue_receipts
from campaigns.giving.ledger import donor_key_for
from campaigns.giving.models import Donation, DonationKind, StripeEvent
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db
from tests import stripe_objects as so
from tests.conftest import BACKENDS, drop_app, make_migrated_app, serving
from tests.factories import CauseFactory, EventPageFactory, OrganisationFactory, PageFactory

pytestmark = pytest.mark.slow

SECRET = "whsec_concurrency"
THREADS = 8


@pytest.fixture(params=BACKENDS)
def live(request, tmp_path):
    """An app on its own database, served on loopback by a threaded server."""
    name = f"relais_concurrency_{os.getpid()}_{request.param}"
    app = make_migrated_app(request.param, tmp_path, name, STRIPE_WEBHOOK_SECRET=SECRET)
    try:
        with serving(app) as base:
            yield app, f"{base}/webhooks/stripe"
    finally:
        drop_app(app, request.param, name)


def build_events(pages, cause, rng: random.Random):
    """~200 deliveries: 120 gifts, 25 % of all deliveries duplicated (same event
    or another event for the same session) and refunds, some before their gift."""
    emails = [f"donor{n}@example.org" for n in range(40)]
    sessions, deliveries = [], []
    for _ in range(120):
        page = rng.choice(pages)
        session = so.checkout_session(
            amount=rng.choice([1000, 2500, 5000]),
            page=page.slug,
            cause=cause.slug,
            email=rng.choice(emails),
        )
        sessions.append((session, page.id))
        deliveries.append(so.event(session, "checkout.session.completed"))
    refunds: dict[str, int] = {}
    for session, _page in rng.sample(sessions, 20):
        amount = session["amount_total"]
        steps = sorted({rng.randrange(100, amount, 100), amount if rng.random() < 0.5 else 0})
        for cumulative in [s for s in steps if s]:
            charge = so.charge(
                payment_intent_id=session["payment_intent"],
                amount=amount,
                amount_refunded=cumulative,
                charge_id=f"ch_{session['payment_intent']}",
            )
            deliveries.append(so.event(charge, "charge.refunded"))
            refunds[session["payment_intent"]] = max(
                refunds.get(session["payment_intent"], 0), cumulative
            )
    distinct = len(deliveries)
    for original in rng.sample(deliveries, distinct // 3):
        if original["type"] == "checkout.session.completed" and rng.random() < 0.5:
            deliveries.append(so.event(original["data"]["object"], original["type"]))
        else:
            deliveries.append(original)
    rng.shuffle(deliveries)
    return sessions, refunds, deliveries


def test_concurrent_webhooks_record_every_gift_once_and_totals_stay_exact(live):
    app, url = live
    with app.app_context():
        cause = CauseFactory(organisation=OrganisationFactory())
        event_page = EventPageFactory(cause=cause)
        pages = [event_page] + [
            PageFactory(cause=cause, parent=event_page if n % 2 else None) for n in range(5)
        ]
        db.session.commit()
        sessions, refunds, deliveries = build_events(pages, cause, random.Random(4))
        cause_id, org_id = cause.id, cause.organisation_id
        page_ids = [p.id for p in pages]
        db.session.remove()

    def deliver(event: dict) -> str:
        body, headers = so.signed(event, SECRET)
        with requests.Session() as http:
            response = http.post(url, data=body, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["outcome"]

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(deliver, deliveries))
    assert len(deliveries) >= 190
    assert outcomes.count("duplicate") >= len(deliveries) // 4

    with app.app_context():
        gifts = db.session.execute(
            select(Donation.stripe_payment_intent_id).where(Donation.kind == DonationKind.GIFT)
        ).all()
        assert sorted(g[0] for g in gifts) == sorted(s["payment_intent"] for s, _ in sessions)
        rows = db.session.execute(
            select(Donation.original_id, func.sum(Donation.amount_minor))
            .where(Donation.kind == DonationKind.REFUND)
            .group_by(Donation.original_id)
        ).all()
        by_gift = dict(
            db.session.execute(
                select(Donation.id, Donation.stripe_payment_intent_id).where(
                    Donation.kind == DonationKind.GIFT
                )
            ).all()
        )
        assert {by_gift[gift_id]: -amount for gift_id, amount in rows} == refunds
        assert totals.drift() == []
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(StripeEvent)
                .where(StripeEvent.outcome == "anomaly")
            )
            == 0
        )

        issued = issue_receipts()
        assert issued == len(sessions)
        assert receipts.numbers_are_gap_free(org_id, datetime.now(UTC).year)

        raised = sum(s["amount_total"] for s, _ in sessions) - sum(refunds.values())
        assert totals.figures_one(TotalScope.CAUSE, cause_id).raised_minor == raised
        org = totals.figures_one(TotalScope.ORGANISATION, org_id)
        assert org.raised_minor == raised and org.donation_count == len(sessions)
        donors = {donor_key_for(s["customer_details"]["email"]) for s, _ in sessions}
        assert org.donor_count == len(donors)
        for page_id in page_ids:
            on_page = {
                donor_key_for(s["customer_details"]["email"]) for s, p in sessions if p == page_id
            }
            assert totals.figures_one(TotalScope.PAGE, page_id).donor_count == len(on_page)
        db.session.remove()

    result = app.test_cli_runner().invoke(args=["totals", "check"])
    assert result.exit_code == 0, result.output
    assert "Totals match the ledger." in result.output


def test_moves_racing_refunds_move_the_gift_once_and_totals_stay_exact(live):
    """Staff moving an unattributed gift from several screens at once while its
    refunds arrive: one move, the refunds on either side of it, totals exact."""
    from campaigns.errors import Conflict
    from campaigns.giving import transfers
    from campaigns.unit_of_work import run_transaction

    app, url = live
    with app.app_context():
        cause = CauseFactory(organisation=OrganisationFactory())
        event_page = EventPageFactory(cause=cause)
        page, other = PageFactory(cause=cause, parent=event_page), PageFactory(cause=cause)
        db.session.commit()
        ids = {"cause": cause.id, "page": page.id, "other": other.id, "event": event_page.id}
        db.session.remove()
    session = so.checkout_session(amount=8000, page="gone", cause=cause.slug)
    body, headers = so.signed(so.event(session, "checkout.session.completed"), SECRET)
    assert requests.post(url, data=body, headers=headers, timeout=60).status_code == 200
    with app.app_context():
        gift_id = db.session.scalar(
            select(Donation.id).where(
                Donation.stripe_payment_intent_id == session["payment_intent"]
            )
        )
        db.session.remove()

    refunds = [
        so.event(
            so.charge(
                payment_intent_id=session["payment_intent"],
                amount=8000,
                amount_refunded=cumulative,
                charge_id="ch_race",
            ),
            "charge.refunded",
        )
        for cumulative in (1000, 2000, 3000)
    ]

    def move(target: str) -> str:
        with app.app_context():
            try:
                return run_transaction(
                    lambda: (
                        "repeat"
                        if transfers.move_to_page(
                            None,
                            db.session.get(Donation, gift_id),
                            db.session.get(type(page), ids[target]),
                        ).is_repeat
                        else "moved"
                    )
                )
            except Conflict:
                return "refused"
            finally:
                db.session.remove()

    def refund(event: dict) -> str:
        body, headers = so.signed(event, SECRET)
        response = requests.post(url, data=body, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["outcome"]

    jobs = [("move", "page")] * 4 + [("move", "other")] * 2 + [("refund", e) for e in refunds]
    random.Random(7).shuffle(jobs)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(
            pool.map(lambda job: move(job[1]) if job[0] == "move" else refund(job[1]), jobs)
        )
    moves = [r for r, job in zip(results, jobs, strict=True) if job[0] == "move"]
    assert moves.count("moved") == 1

    with app.app_context():
        moved = db.session.scalars(
            select(Donation).where(
                Donation.original_id == gift_id, Donation.kind == DonationKind.TRANSFER_IN
            )
        ).one()
        target = moved.page_id
        assert totals.drift() == []
        held = totals.figures_one(TotalScope.CAUSE, ids["cause"])
        assert (held.raised_minor, held.donation_count, held.donor_count) == (5000, 1, 1)
        there = totals.figures_one(TotalScope.PAGE, target)
        assert (there.raised_minor, there.donation_count, there.donor_count) == (5000, 1, 1)
        db.session.remove()
