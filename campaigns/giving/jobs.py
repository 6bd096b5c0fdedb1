"""Scheduled jobs of the ledger: receipts and Stripe reconciliation."""

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
