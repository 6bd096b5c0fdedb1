"""Offline gifts: cash or cheques an agent collected at a local event.

An agent records what they collected; it shows on the page as "pending
confirmation" and counts nowhere until organisation staff confirm it. Confirming
appends one ledger row through ``services.record_gift`` (so totals, receipts and
notifications follow the same path as a card gift); rejecting keeps the record
with the reason the agent sees.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Agent
from campaigns import audit, photos
from campaigns.errors import Conflict, ValidationError
from campaigns.giving import ledger
from campaigns.giving import services as giving
from campaigns.giving.models import Donation, DonationKind
from campaigns.inputs import text_field
from campaigns.model_types import utcnow
from campaigns.money import format_money, parse_major
from campaigns.offline.models import OfflineGift, OfflineGiftStatus
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Cause
from campaigns.pages import services as page_services
from campaigns.pages.models import Page
from campaigns.unit_of_work import locked_row
from extensions import db

METHODS = ("cash", "cheque")
# Organisers' wall clock, as services.parse_datetime reads naive times.
WALL_CLOCK = ZoneInfo("Europe/Paris")
# Older collections are for the organisation's own books, not a page's live total.
MAX_AGE = timedelta(days=366)
# Receipt photos may show a cheque (bank details, signature): they are kept out
# of the public /media/ folder and served to the page's editors and staff only.
PRIVATE_FOLDER = "private/offline"


@dataclass(frozen=True)
class Pending:
    """What a page shows as waiting for confirmation."""

    count: int = 0
    amount_minor: int = 0


# --- input -------------------------------------------------------------------


def today() -> date:
    return datetime.now(WALL_CLOCK).date()


def _collected_on(value: Any, errors: dict) -> datetime | None:
    """The collection day as midnight on the organisers' wall clock, in UTC."""
    if value in (None, ""):
        day = today()
    elif isinstance(value, date) and not isinstance(value, datetime):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            errors["collected_on"] = _("Enter the day you collected it, such as 2026-06-21.")
            return None
    if day > today():
        errors["collected_on"] = _("The collection day cannot be in the future.")
        return None
    if day < today() - MAX_AGE:
        errors["collected_on"] = _(
            "This is more than a year ago: send it to the organisation directly."
        )
        return None
    return datetime.combine(day, time(0), WALL_CLOCK).astimezone(UTC)


def _amount(value: Any, page: Page, errors: dict) -> int:
    org = page.cause.organisation
    currency = org.currency
    high = org.max_amount_minor
    try:
        amount = parse_major(str(value or ""), currency)
    except (ValueError, ArithmeticError):
        amount = None
    if amount is None or amount <= 0:
        errors["amount"] = _("Enter the amount collected, for example 25 or 12.50.")
        return 0
    if amount > high:
        errors["amount"] = _(
            "The largest amount you can record is %(high)s: record several gifts "
            "or contact the organisation.",
            high=format_money(high, currency, str(get_locale() or org.locale)),
        )
        return 0
    return amount


def _save_private(jpeg: bytes) -> str:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / PRIVATE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    (folder / name).write_bytes(jpeg)
    return name


def photo_folder() -> str:
    """Where receipt photos are kept (served through permission-checked views)."""
    return str(Path(current_app.config["UPLOAD_FOLDER"]) / PRIVATE_FOLDER)


# --- agents ------------------------------------------------------------------


def record_offline_gift(agent: Agent, page: Page, data: dict) -> OfflineGift:
    """Record cash or a cheque collected for a page (its owner or a co-host); it
    stays pending until staff confirm it.

    ``data``: ``amount`` (major units as typed), ``method`` (cash | cheque),
    ``donor_name``, ``donor_email``, the optional postal address
    (``donor_address_line``, ``donor_postal_code``, ``donor_city``,
    ``donor_country``), ``note``, ``collected_on`` (a date or 'YYYY-MM-DD',
    today when empty) and ``photo`` (an uploaded file, optional).
    """
    page_services.require_editor(agent, page)
    if not page.accepts_gifts:
        raise Conflict(
            _("This page does not take gifts now (it is not published, or the cause is closed).")
        )
    errors: dict[str, str] = {}
    amount = _amount(data.get("amount"), page, errors)
    method = data.get("method") or ""
    if method not in METHODS:
        errors["method"] = _("Choose cash or cheque.")
    donor_name = text_field(data, "donor_name", errors, max_length=200)
    donor_email = text_field(data, "donor_email", errors, max_length=255).lower()
    if donor_email and not giving.EMAIL_RE.match(donor_email) and "donor_email" not in errors:
        errors["donor_email"] = _("Enter a valid email address, or leave it empty.")
    address = giving.read_address({name: data.get(name) for name in giving.ADDRESS_MAX}, errors)
    note = text_field(data, "note", errors, max_length=500)
    collected_on = _collected_on(data.get("collected_on"), errors)
    jpeg = b""
    upload = data.get("photo")
    if upload is not None and getattr(upload, "filename", ""):
        try:
            jpeg = photos.process(upload)
        except photos.PhotoError as exc:
            errors["photo"] = str(exc)
    if errors:
        raise ValidationError(errors)
    gift = OfflineGift(
        page_id=page.id,
        recorded_by_id=agent.id,
        amount_minor=amount,
        currency=page.currency,
        method=method,
        donor_name=donor_name,
        donor_email=donor_email,
        **address,
        note=note,
        collected_on=collected_on,
        status=OfflineGiftStatus.PENDING,
    )
    if jpeg:
        # Written only once everything else is valid; a later rollback leaves an
        # unreferenced file, never a row pointing at a missing one.
        gift.photo = _save_private(jpeg)
    db.session.add(gift)
    db.session.flush()
    return gift


# --- staff -------------------------------------------------------------------


def _log_review(staff: Agent, gift: OfflineGift, action: str, outcome: str, **details) -> None:
    """The audit entry of a review; ``outcome`` ends its English summary."""
    page = gift.page
    audit.record(
        page.cause.organisation_id,
        staff,
        action,
        f"Offline gift #{gift.id} of {format_money(gift.amount_minor, gift.currency, 'en')} "
        f"{outcome}",
        subject=gift,
        amount_minor=gift.amount_minor,
        currency=gift.currency,
        details={
            **details,
            "method": gift.method,
            "page_title": page.title,
            "page_slug": page.slug,
        },
    )


def confirm_offline_gift(staff: Agent, gift: OfflineGift) -> Donation:
    """Confirm a pending offline gift (staff): it becomes one ledger row, once.

    Confirming again returns the existing row; the unique ``offline_gift_id`` on
    the ledger backs the status check up if two confirmations ever race.
    """
    page = gift.page
    org_services.require_staff(staff, page.cause.organisation_id)
    gift = locked_row(gift)  # two reviewers never both see it pending
    existing = db.session.scalar(select(Donation).where(Donation.offline_gift_id == gift.id))
    if gift.status == OfflineGiftStatus.CONFIRMED and existing is not None:
        return existing
    if gift.status == OfflineGiftStatus.REJECTED:
        raise Conflict(_("This gift was rejected; it cannot be confirmed any more."))
    if existing is not None:  # pragma: no cover - only after a manual edit of the status
        raise Conflict(_("This gift is already in the ledger."))
    cause = page.cause
    if gift.currency != cause.organisation.currency:
        raise Conflict(
            _(
                "This gift is in %(currency)s but the organisation now counts in %(org)s. "
                "Reject it and record it again.",
                currency=gift.currency,
                org=cause.organisation.currency,
            )
        )
    donation = ledger.record_gift(
        page=page,
        cause=cause,
        amount_minor=gift.amount_minor,
        donor_name=gift.donor_name,
        donor_email=gift.donor_email,
        kind=DonationKind.OFFLINE,
        payment_method=gift.method,
        extra={
            "offline_gift_id": gift.id,
            **{name: getattr(gift, name) for name in giving.ADDRESS_MAX},
        },
        collected_earlier=True,
    )
    gift.status = OfflineGiftStatus.CONFIRMED
    gift.reviewed_by_id = staff.id
    gift.reviewed_at = utcnow()
    db.session.flush()
    _log_review(
        staff, gift, "offline.confirm", f"confirmed ({gift.method})", donation_id=donation.id
    )
    return donation


def reject_offline_gift(staff: Agent, gift: OfflineGift, reason: str) -> OfflineGift:
    """Reject a pending offline gift with a reason its recorder sees (staff)."""
    org_services.require_staff(staff, gift.page.cause.organisation_id)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError({"reason": _("Say why the gift is rejected: the agent sees it.")})
    if len(reason) > 2000:
        raise ValidationError({"reason": _("Keep this under %(n)s characters.", n=2000)})
    gift = locked_row(gift)  # two reviewers never both see it pending
    if gift.status == OfflineGiftStatus.CONFIRMED:
        raise Conflict(_("This gift is confirmed and counted; it cannot be rejected."))
    was_rejected = gift.status == OfflineGiftStatus.REJECTED
    previous_reason = gift.reason
    gift.status = OfflineGiftStatus.REJECTED
    gift.reason = reason
    gift.reviewed_by_id = staff.id
    gift.reviewed_at = utcnow()
    db.session.flush()
    if not (was_rejected and previous_reason == reason):
        _log_review(staff, gift, "offline.reject", f"rejected: {reason}", reason=reason)
    return gift


# --- reading -----------------------------------------------------------------


def pending_for(page: Page) -> Pending:
    """Pending offline gifts a page shows: its own, and its members' for an event."""
    page_ids = select(Page.id).where((Page.id == page.id) | (Page.parent_id == page.id))
    if not page.is_event:
        page_ids = select(Page.id).where(Page.id == page.id)
    count, amount = db.session.execute(
        select(
            func.count(OfflineGift.id), func.coalesce(func.sum(OfflineGift.amount_minor), 0)
        ).where(
            OfflineGift.page_id.in_(page_ids),
            OfflineGift.status == OfflineGiftStatus.PENDING,
        )
    ).one()
    return Pending(int(count or 0), int(amount or 0))


def gifts_of_page(page: Page, limit: int = 100) -> list[OfflineGift]:
    """The page's offline gifts, newest first (for its editors)."""
    return list(
        db.session.scalars(
            select(OfflineGift)
            .where(OfflineGift.page_id == page.id)
            .order_by(OfflineGift.created_at.desc(), OfflineGift.id.desc())
            .limit(limit)
        )
    )


def queue(organisation_id: int, *, pending: bool, limit: int = 100) -> list[OfflineGift]:
    """An organisation's pending gifts (oldest first) or reviewed ones (newest first)."""
    query = (
        select(OfflineGift)
        .join(Page, Page.id == OfflineGift.page_id)
        .join(Cause, Cause.id == Page.cause_id)
        .where(Cause.organisation_id == organisation_id)
    )
    if pending:
        query = query.where(OfflineGift.status == OfflineGiftStatus.PENDING).order_by(
            OfflineGift.created_at, OfflineGift.id
        )
    else:
        query = query.where(OfflineGift.status != OfflineGiftStatus.PENDING).order_by(
            OfflineGift.reviewed_at.desc(), OfflineGift.id.desc()
        )
    return list(db.session.scalars(query.limit(limit)))
