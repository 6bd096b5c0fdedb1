"""Pending gifts whose Checkout Session was never paid expire; a late payment
is still recorded."""

# The fixtures post and place come from test_webhooks.py, imported by name.
# ruff: noqa: F401, F811

from __future__ import annotations

import logging
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import pytest

from campaigns.giving.models import Donation, PendingGift, PendingGiftStatus, StripeEvent
from campaigns.model_types import utcnow
from campaigns.runtime.settings import Settings
from campaigns.totals.models import TotalScope
from messaging.scheduling.scheduler import JOBS
from tests.campaigns.giving.test_webhooks import (
    assert_outcome,
    completed,
    count,
    paid,
    place,
    post,
    raised,
)

pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


def pending(place, reference: str, hours_ago: float, status=PendingGiftStatus.PENDING):
    return PendingGift(
        reference=reference,
        organisation_id=place["org"].id,
        cause_id=place["cause"].id,
        page_id=place["page"].id,
        amount_minor=1000,
        currency="EUR",
        status=status,
        created_at=utcnow() - timedelta(hours=hours_ago),
    )


def run_expiry():
    (job,) = [job for job in JOBS if job.id == "expire-pending-gifts"]
    module, name = job.func.split(":")
    return getattr(import_module(module), name)()


def test_unpaid_gifts_older_than_the_session_lifetime_expire(db, place):
    old, fresh = pending(place, "pg_old", 25), pending(place, "pg_fresh", 23)
    done = pending(place, "pg_done", 48, PendingGiftStatus.PAID)
    db.session.add_all([old, fresh, done])
    db.session.commit()
    assert run_expiry() == 1
    assert [old.status, fresh.status, done.status] == ["expired", "pending", "paid"]
    assert run_expiry() == 0  # nothing left to expire


def test_the_lifetime_is_a_setting(app, db, place, monkeypatch):
    assert (
        Settings(_env_file=None).flask_config(Path(app.instance_path))["PENDING_GIFT_HOURS"] == 24
    )
    assert Settings(_env_file=None, pending_gift_hours=2).pending_gift_hours == 2
    monkeypatch.setitem(app.config, "PENDING_GIFT_HOURS", 2)
    gift = pending(place, "pg_three_hours", 3)
    db.session.add(gift)
    db.session.commit()
    assert run_expiry() == 1
    assert gift.status == PendingGiftStatus.EXPIRED


def test_a_payment_for_an_expired_gift_is_recorded_and_logged(db, post, place, caplog):
    gift = pending(place, "pg_late", 30)
    db.session.add(gift)
    db.session.commit()
    assert run_expiry() == 1
    session = paid(place, amount=1000, reference="pg_late")
    event = completed(session)
    with caplog.at_level(logging.WARNING, logger="campaigns.giving.payments"):
        assert_outcome(post(event), "recorded")
    assert raised(TotalScope.PAGE, place["page"].id) == 1000
    assert count(Donation, Donation.pending_gift_id == gift.id) == 1
    db.session.refresh(gift)
    assert gift.status == PendingGiftStatus.PAID
    assert any("pg_late" in r.getMessage() for r in caplog.records)
    assert "expired" in db.session.get(StripeEvent, event["id"]).detail
