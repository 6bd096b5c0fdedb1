"""Scheduled jobs of broadcasts."""

from __future__ import annotations

from messaging.broadcasts.services import expand_due


def expand_due_job() -> int:
    """Scheduled job: expand the broadcasts whose time has come."""
    return expand_due()
