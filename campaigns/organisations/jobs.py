"""Scheduled jobs of organisations and causes."""

from __future__ import annotations

from sqlalchemy import update

from campaigns.model_types import utcnow
from campaigns.organisations.models import Cause, CauseStatus
from extensions import db


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
    return result.rowcount or 0
