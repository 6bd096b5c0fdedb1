"""Many threads posting a monthly gift's signed events at once — sessions,
invoices under both event types, some without metadata, replays, all shuffled
— to a live server with real commits, on SQLite and on PostgreSQL: each
invoice is one gift row (and one cover row), each subscription one monthly
gift, and ``relais totals check`` finds no drift."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from campaigns.giving.models import Donation, DonationKind, StripeEvent
from campaigns.monthly.models import MonthlyGift
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db
from tests import stripe_objects as so
from tests.conftest import BACKENDS, drop_app, make_migrated_app, serving
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

pytestmark = pytest.mark.slow

SECRET = "whsec_monthly_concurrency"
THREADS = 8
GIFT, COVER = 1500, 48


@pytest.fixture(params=BACKENDS)
def live(request, tmp_path):
    name = f"relais_monthly_{os.getpid()}_{request.param}"
    app = make_migrated_app(request.param, tmp_path, name, STRIPE_WEBHOOK_SECRET=SECRET)
    try:
        with serving(app) as base:
            yield app, f"{base}/webhooks/stripe"
    finally:
        drop_app(app, request.param, name)


def build_events(page, rng: random.Random):
    """20 subscriptions of 3 paid months each, every event delivered once or
    more (the same event, or the invoice under Stripe's other event type)."""
    meta = {"page": page.slug, "cause": page.cause.slug, "pending": "", "cover": str(COVER)}
    deliveries, invoices, subs = [], [], []
    for n in range(20):
        sub = so.stripe_id("sub")
        subs.append(sub)
        session = so.subscription_session(
            subscription_id=sub, metadata=meta, amount=GIFT + COVER, email=f"d{n}@example.org"
        )
        deliveries.append(so.event(session, "checkout.session.completed"))
        for _month in range(3):
            invoice = so.invoice(
                subscription_id=sub,
                amount=GIFT + COVER,
                metadata=meta if rng.random() < 0.7 else {},
                email=f"d{n}@example.org",
            )
            invoices.append(invoice["id"])
            deliveries.append(so.event(invoice, "invoice.paid"))
            if rng.random() < 0.5:
                deliveries.append(so.event(invoice, "invoice.payment_succeeded"))
    for original in rng.sample(deliveries, len(deliveries) // 3):
        deliveries.append(original)
    rng.shuffle(deliveries)
    return subs, invoices, deliveries


def test_concurrent_monthly_events_book_each_invoice_once(live):
    app, url = live
    with app.app_context():
        page = PageFactory(cause=CauseFactory(organisation=OrganisationFactory()))
        db.session.commit()
        subs, invoices, deliveries = build_events(page, random.Random(16))
        page_id, cause_id = page.id, page.cause_id
        db.session.remove()

    def deliver(event: dict) -> str:
        body, headers = so.signed(event, SECRET)
        with requests.Session() as http:
            response = http.post(url, data=body, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["outcome"]

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(deliver, deliveries))
    assert outcomes.count("duplicate") >= len(deliveries) // 4

    with app.app_context():
        booked = db.session.scalars(
            select(Donation.stripe_invoice_id).where(Donation.kind == DonationKind.GIFT)
        ).all()
        assert sorted(booked) == sorted(invoices)
        assert db.session.scalar(
            select(func.count(Donation.id)).where(Donation.kind == DonationKind.COVER)
        ) == len(invoices)
        assert sorted(db.session.scalars(select(MonthlyGift.stripe_subscription_id))) == sorted(
            subs
        )
        # Every invoice parked before its session was applied when it came.
        assert (
            db.session.scalar(
                select(func.count(StripeEvent.id)).where(
                    StripeEvent.outcome == "anomaly", StripeEvent.resolved_at.is_(None)
                )
            )
            == 0
        )
        figures = totals.figures_one(TotalScope.PAGE, page_id)
        assert figures.raised_minor == GIFT * len(invoices)
        assert figures.covers_minor == COVER * len(invoices)
        assert figures.donation_count == len(invoices) and figures.donor_count == len(subs)
        assert totals.figures_one(TotalScope.CAUSE, cause_id).net_minor == (
            (GIFT + COVER) * len(invoices)
        )
        assert totals.drift() == []
        db.session.remove()

    result = app.test_cli_runner().invoke(args=["totals", "check"])
    assert result.exit_code == 0, result.output
    assert "Totals match the ledger." in result.output
