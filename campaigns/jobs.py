"""Scheduled work for campaigns; jobs take ids, not ORM objects, and commit once."""

from __future__ import annotations

from sqlalchemy import update

from campaigns.models import Cause, CauseStatus, utcnow
from extensions import begin_write, db


def close_ended_causes() -> int:
    """Close published causes whose end date has passed; returns how many."""
    result = db.session.execute(
        update(Cause)
        .where(
            Cause.status == CauseStatus.PUBLISHED,
            Cause.ends_at.is_not(None),
            Cause.ends_at < utcnow(),
        )
        .values(status=CauseStatus.CLOSED)
    )
    db.session.commit()
    return result.rowcount or 0


def reconcile_stripe() -> dict | None:
    """Record what Stripe says was paid, refunded or disputed in the last three
    days (its webhook retry window) and the webhooks missed; skipped without
    STRIPE_SECRET_KEY."""
    from datetime import timedelta

    from flask import current_app

    from campaigns.reconcile import reconcile

    key = current_app.config.get("STRIPE_SECRET_KEY")
    if not key:
        return None
    return reconcile(utcnow() - timedelta(days=3), key)


def issue_receipts() -> int:
    """Give waiting gifts their receipt numbers and queue their receipt mail."""
    from campaigns import receipts

    issued = 0
    while True:
        db.session.commit()  # each batch is its own writing unit
        begin_write()
        count = receipts.issue_pending()
        db.session.commit()
        issued += count
        if count < 500:
            return issued
