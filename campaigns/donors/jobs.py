"""Scheduled work on donors' data."""

from __future__ import annotations

from flask import current_app

from campaigns.donors.services import purge_old_addresses
from campaigns.model_types import utcnow


def purge_donor_addresses() -> int:
    """Blank donors' postal addresses older than DONOR_ADDRESS_RETENTION_DAYS, and
    those on issued receipts once RECEIPT_KEEPING_YEARS have passed too."""
    return purge_old_addresses(
        now=utcnow(),
        retention_days=float(current_app.config.get("DONOR_ADDRESS_RETENTION_DAYS", 400)),
        keeping_years=int(current_app.config.get("RECEIPT_KEEPING_YEARS", 6)),
    )
