"""`relais totals check|rebuild` and `relais stripe reconcile` (Stripe's HTTP API
intercepted with `responses`, so the real stripe library code runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select, update

from campaigns.giving.jobs import reconcile_stripe
from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.giving.reconcile import parse_since
from campaigns.totals import services as totals
from campaigns.totals.models import Total, TotalScope
from tests import stripe_objects as so
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

API = "https://api.stripe.com/v1"
pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


@pytest.fixture
def page(db):
    page = PageFactory(cause=CauseFactory(organisation=OrganisationFactory()))
    db.session.commit()
    return page


def session_for(page, **kw) -> dict:
    return so.checkout_session(page=page.slug, cause=page.cause.slug, **kw)


def record(db, obj: dict, kind: str = "checkout.session.completed") -> str:
    outcome = process_event(so.event(obj, kind))
    db.session.commit()
    return outcome


def gifts(db) -> list[str]:
    return list(
        db.session.scalars(
            select(Donation.stripe_checkout_session_id)
            .where(Donation.kind == DonationKind.GIFT)
            .order_by(Donation.id)
        )
    )


# --- totals ------------------------------------------------------------------------


def test_totals_check_reports_drift_and_rebuild_repairs_it(db, runner, page):
    record(db, session_for(page, amount=4000))
    result = runner.invoke(args=["totals", "check"])
    assert result.exit_code == 0, result.output
    assert "Totals match the ledger." in result.output

    db.session.execute(
        update(Total)
        .where(Total.scope == TotalScope.PAGE, Total.scope_id == page.id)
        .values(raised_minor=Total.raised_minor + 999)
    )
    db.session.commit()
    result = runner.invoke(args=["totals", "check"])
    assert result.exit_code == 1
    assert f"page {page.id}: stored raised 4999, 1 gifts, 1 donors; ledger raised 4000" in (
        result.output
    )
    assert "relais totals rebuild" in result.output

    result = runner.invoke(args=["totals", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt the totals" in result.output
    assert totals.drift() == []
    assert totals.figures_one(TotalScope.PAGE, page.id).raised_minor == 4000
    assert runner.invoke(args=["totals", "check"]).exit_code == 0


# --- reconciliation ----------------------------------------------------------------


def stripe_list(url: str, objects: list[dict], has_more: bool = False) -> dict:
    return {"object": "list", "url": url, "has_more": has_more, "data": objects}


def test_reconcile_records_what_the_webhooks_missed_once(db, runner, page, stripe_api):
    seen = session_for(page, amount=2500)
    missed = session_for(page, amount=1000, email="late@example.org")
    other = session_for(page, amount=700)
    assert record(db, seen) == "recorded"
    charge = so.charge(
        payment_intent_id=seen["payment_intent"],
        amount=2500,
        amount_refunded=500,
        refund_amounts=[500],
    )
    refund = {**charge["refunds"]["data"][0], "charge": charge}
    # Two pages of sessions: the library follows has_more with starting_after.
    stripe_api.get(
        f"{API}/checkout/sessions",
        json=stripe_list("/v1/checkout/sessions", [seen, missed], has_more=True),
    )
    stripe_api.get(f"{API}/checkout/sessions", json=stripe_list("/v1/checkout/sessions", [other]))
    stripe_api.get(f"{API}/refunds", json=stripe_list("/v1/refunds", [refund]))
    stripe_api.get(f"{API}/disputes", json=stripe_list("/v1/disputes", []))

    result = runner.invoke(args=["stripe", "reconcile", "--since", "2d"])
    assert result.exit_code == 0, result.output
    assert "Paid sessions: 3 seen, 2 recorded, 1 already in the ledger" in result.output
    assert "Refunds: 1 seen, 1 recorded" in result.output
    assert sorted(gifts(db)) == sorted([seen["id"], missed["id"], other["id"]])
    refunds = db.session.scalars(
        select(Donation.amount_minor).where(Donation.kind == DonationKind.REFUND)
    ).all()
    assert refunds == [-500]
    assert totals.figures_one(TotalScope.PAGE, page.id).raised_minor == 2500 + 1000 + 700 - 500
    assert totals.drift() == []

    calls = [c.request for c in stripe_api.calls]
    assert calls[0].headers["Authorization"] == "Bearer sk_test_relais"
    first = parse_qs(urlparse(calls[0].url).query)
    assert first["status"] == ["complete"] and first["limit"] == ["100"]
    since = int(first["created[gte]"][0])
    assert abs(since - (datetime.now(UTC) - timedelta(days=2)).timestamp()) < 60
    assert parse_qs(urlparse(calls[1].url).query)["starting_after"] == [missed["id"]]
    assert parse_qs(urlparse(calls[2].url).query)["expand[0]"] == ["data.charge"]

    # A second run finds everything in the ledger already.
    result = runner.invoke(args=["stripe", "reconcile", "--since", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "Paid sessions: 1 seen, 0 recorded, 1 already in the ledger" in result.output
    assert len(gifts(db)) == 3
    assert totals.figures_one(TotalScope.PAGE, page.id).raised_minor == 3700


def test_reconcile_job_asks_stripe_and_skips_without_a_key(app, db, page, stripe_api, monkeypatch):
    missed = session_for(page, amount=1200)
    stripe_api.get(f"{API}/checkout/sessions", json=stripe_list("/v1/sessions", [missed]))
    stripe_api.get(f"{API}/refunds", json=stripe_list("/v1/refunds", []))
    stripe_api.get(f"{API}/disputes", json=stripe_list("/v1/disputes", []))
    report = reconcile_stripe()
    assert report["sessions"]["recorded"] == 1
    assert gifts(db) == [missed["id"]]
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    assert reconcile_stripe() is None


def test_reconcile_refuses_a_bad_since_and_a_missing_key(app, runner, monkeypatch):
    result = runner.invoke(args=["stripe", "reconcile", "--since", "last tuesday"])
    assert result.exit_code == 2
    assert "ISO date" in result.output
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    result = runner.invoke(args=["stripe", "reconcile", "--since", "24h"])
    assert result.exit_code == 1
    assert "STRIPE_SECRET_KEY" in result.output


def test_parse_since_reads_dates_and_spans():
    now = datetime(2026, 11, 10, 12, tzinfo=UTC)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_since("soon", now)
