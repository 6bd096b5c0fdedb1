"""Scheduled jobs of the ledger: receipts, Stripe reconciliation and fees, pending gifts."""

from __future__ import annotations

from campaigns.model_types import utcnow
from campaigns.unit_of_work import transaction


def reconcile_stripe() -> dict | None:
    """Record what Stripe says was paid, refunded or disputed in the last three
    days (its webhook retry window) and the webhooks missed; skipped without
    STRIPE_SECRET_KEY."""
    from datetime import timedelta

    from flask import current_app

    from campaigns.giving.reconcile import reconcile

    if not current_app.config.get("STRIPE_SECRET_KEY"):
        return None
    return reconcile(utcnow() - timedelta(days=3))


def record_fees() -> dict | None:
    """Book Stripe's fee of each card gift (and of its refunds) not known yet;
    skipped without STRIPE_SECRET_KEY (the demo books fees with its payments)."""
    from flask import current_app

    from campaigns.giving.fee_lookup import record_fees as record

    if not current_app.config.get("STRIPE_SECRET_KEY"):
        return None
    return dict(record())


def issue_receipts() -> int:
    """Give waiting gifts their receipt numbers and queue their receipt mail."""
    from campaigns.giving import receipts

    issued = 0
    while True:
        with transaction():  # each batch is its own writing unit
            count = receipts.issue_pending()
        issued += count
        if count < 500:
            return issued


def expire_pending_gifts() -> int:
    """Mark expired the pending gifts whose Checkout Session has outlived
    PENDING_GIFT_HOURS unpaid; returns how many."""
    from datetime import timedelta

    from flask import current_app

    from campaigns.giving.services import expire_pending_gifts as expire

    hours = float(current_app.config.get("PENDING_GIFT_HOURS", 24))
    return expire(utcnow() - timedelta(hours=hours))
