"""The donor's side of a gift: what they ask for (a PendingGift, before paying)
and the donor wall; the receipt they get once a webhook recorded the money is
in ``campaigns.giving.receipts``.

Nothing here records money: the ledger is written from Stripe's events only.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from campaigns.errors import ValidationError
from campaigns.giving import covers
from campaigns.giving.models import (
    COST_KINDS,
    Donation,
    DonationKind,
    PendingGift,
    PendingGiftStatus,
)
from campaigns.money import format_money, parse_major
from campaigns.organisations.models import Cause, CauseStatus, Organisation, Project
from campaigns.pages.models import Page, PageStatus
from extensions import db

MESSAGE_MAX = 500
NAME_MAX = 200
EMAIL_MAX = 255
AMOUNT_TEXT_MAX = 20
DONOR_WALL_SIZE = 10
# The value of the "other amount" radio button.
OTHER = "other"
FREQUENCIES = ("once", "monthly")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SHARE_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
TRUE_VALUES = {"y", "yes", "on", "1", "true"}
# The donor's postal address (reçu fiscal): field to its longest length.
ADDRESS_MAX = {
    "donor_address_line": 200,
    "donor_postal_code": 20,
    "donor_city": 100,
    "donor_country": 2,
}
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


# --- what the give form offers --------------------------------------------------


@dataclass(frozen=True)
class GiftOptions:
    currency: str
    suggested_minor: list[int]
    min_minor: int
    max_minor: int
    projects: list[Project]
    # Stripe's (percent, fixed) a fee cover is worked out from; None: no cover offered.
    cover_rate: tuple | None = None


def cause_of(place: Page | Cause) -> Cause:
    """The cause a gift goes to: the page's, or the cause given to directly."""
    return place if isinstance(place, Cause) else place.cause


def gift_options(place: Page | Cause) -> GiftOptions:
    """Amounts and projects the give form offers on a page or a cause."""
    cause = cause_of(place)
    org = cause.organisation
    suggested = [
        a
        for a in (org.suggested_amounts or [])
        if isinstance(a, int) and org.min_amount_minor <= a <= org.max_amount_minor
    ]
    return GiftOptions(
        currency=org.currency,
        suggested_minor=suggested,
        min_minor=org.min_amount_minor,
        max_minor=org.max_amount_minor,
        projects=list(cause.projects),
        cover_rate=covers.rate_for(org.currency) if covers.offers_cover(org) else None,
    )


def refusal(place: Page | Cause) -> str | None:
    """Why a page (or a cause, given to directly) takes no gift right now, as a
    sentence; None when it does."""
    cause = cause_of(place)
    if cause.status == CauseStatus.CLOSED:
        return _("This campaign is over and no longer takes gifts. Thank you for your support.")
    if cause.status != CauseStatus.PUBLISHED:
        return _("This campaign is not taking gifts at the moment.")
    if isinstance(place, Cause):
        return None
    page = place
    if page.status == PageStatus.CLOSED:
        return _(
            "This page is closed and no longer takes gifts. You can still give through "
            "another page of the campaign."
        )
    if page.status != PageStatus.PUBLISHED:
        return _("This page is not published, so it cannot take gifts yet.")
    return None


# --- starting a gift ------------------------------------------------------------


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in TRUE_VALUES


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _amount(data: dict, options: GiftOptions, locale: str, errors: dict) -> int | None:
    """The amount in minor units, from the free field when it was filled in,
    else from the suggested amount chosen."""
    free = _text(data, "other_amount")
    choice = _text(data, "amount")
    key, text = ("other_amount", free) if free or choice == OTHER else ("amount", choice)
    if not text:
        if choice == OTHER:
            errors[key] = _("Enter the amount you want to give, for example 30.")
        else:
            errors[key] = _("Choose an amount or enter another amount.")
        return None
    lowest = format_money(options.min_minor, options.currency, locale)
    highest = format_money(options.max_minor, options.currency, locale)
    try:
        if len(text) > AMOUNT_TEXT_MAX:
            raise ValueError("too long")
        amount = parse_major(text, options.currency)
    except (ValueError, ArithmeticError):
        errors[key] = _(
            "Enter the amount as a number, for example 25 or 12.50 (between %(low)s and %(high)s).",
            low=lowest,
            high=highest,
        )
        return None
    if amount <= 0:
        errors[key] = _(
            "The amount must be more than zero: the smallest gift is %(low)s.", low=lowest
        )
    elif amount < options.min_minor:
        errors[key] = _("The smallest gift is %(low)s. Enter %(low)s or more.", low=lowest)
    elif amount > options.max_minor:
        errors[key] = _(
            "The largest gift online is %(high)s. For a larger gift, contact the organisation.",
            high=highest,
        )
    else:
        return amount
    return None


def _project(data: dict, cause: Cause, errors: dict) -> Project | None:
    slug = _text(data, "project")
    if not slug:
        return None  # where it's most needed
    project = db.session.scalar(
        select(Project).where(Project.cause_id == cause.id, Project.slug == slug)
    )
    if project is None:
        errors["project"] = _(
            "Choose one of this campaign's projects, or “Where it's most needed”."
        )
    return project


def _address(data: dict, organisation: Organisation, errors: dict) -> dict[str, str]:
    """The optional postal address for the reçu fiscal (only asked when the
    organisation issues tax receipts; Stripe collects it otherwise)."""
    if not organisation.issues_tax_receipts:
        return {}
    return read_address(data, errors)


def read_address(data: dict, errors: dict) -> dict[str, str]:
    """The four address fields of a form (any may be empty), each checked:
    ``errors`` gets a sentence per bad field (the give form, offline gifts)."""
    address = {name: _text(data, name) for name in ADDRESS_MAX}
    address["donor_country"] = address["donor_country"].upper()
    for name, length in ADDRESS_MAX.items():
        if len(address[name]) > length:
            errors[name] = _("Keep this under %(n)s characters.", n=length)
    country = address["donor_country"]
    if country and not COUNTRY_RE.match(country):
        errors["donor_country"] = _(
            "Enter the country as a two-letter code such as FR or BE, or leave it empty."
        )
    return address


def start_gift(place: Page | Cause, data: dict) -> PendingGift:
    """Check what a donor asked for on a page, or on a cause given to directly
    (no page: the gift is the cause's own), and keep it as a pending gift
    (flushed, not committed); raise ValidationError with a sentence per field.

    ``data``: amount (a suggested amount in major units, or "other"),
    other_amount (major units as typed), message, donor_name, donor_email,
    is_anonymous, is_amount_hidden, project (slug, empty for "where it's most
    needed"), locale, share (the share link's code), cover_fees (the donor
    adds the fees: ``covers.cover_for``), frequency (once or monthly), and the optional address
    (donor_address_line, donor_postal_code, donor_city, donor_country).
    """
    problem = refusal(place)
    if problem:
        raise ValidationError({"page": problem})
    cause = cause_of(place)
    page = place if isinstance(place, Page) else None
    organisation = cause.organisation
    options = gift_options(place)
    locale = _text(data, "locale") or organisation.locale
    errors: dict[str, str] = {}
    amount = _amount(data, options, locale, errors)
    message = _text(data, "message")
    if len(message) > MESSAGE_MAX:
        errors["message"] = _(
            "Keep your message under %(n)s characters (it has %(count)s).",
            n=MESSAGE_MAX,
            count=len(message),
        )
    donor_name = _text(data, "donor_name")
    if len(donor_name) > NAME_MAX:
        errors["donor_name"] = _("Keep your name under %(n)s characters.", n=NAME_MAX)
    donor_email = _text(data, "donor_email").lower()
    if donor_email and (len(donor_email) > EMAIL_MAX or not EMAIL_RE.match(donor_email)):
        errors["donor_email"] = _(
            "Enter an email address like name@example.org, or leave it empty."
        )
    project = _project(data, cause, errors)
    address = _address(data, organisation, errors)
    frequency = _text(data, "frequency") or "once"
    if frequency not in FREQUENCIES:
        errors["frequency"] = _("Choose to give once or every month.")
    if errors:
        raise ValidationError(errors)
    wants_cover = _flag(data.get("cover_fees")) and covers.offers_cover(organisation)
    share = _text(data, "share")
    pending = PendingGift(
        reference=uuid.uuid4().hex,
        organisation_id=cause.organisation_id,
        cause_id=cause.id,
        page_id=page.id if page else None,
        project_id=project.id if project else None,
        amount_minor=amount,
        currency=options.currency,
        donor_name=donor_name,
        donor_email=donor_email,
        message=message,
        is_anonymous=_flag(data.get("is_anonymous")),
        is_amount_hidden=_flag(data.get("is_amount_hidden")),
        locale=locale if locale in ("fr", "en") else organisation.locale,
        share_code=share if SHARE_CODE_RE.match(share) else None,
        cover_minor=covers.cover_for(amount, options.currency) if wants_cover else 0,
        is_monthly=frequency == "monthly",
        **address,
    )
    db.session.add(pending)
    db.session.flush()
    return pending


def expire_pending_gifts(before: datetime) -> int:
    """Mark expired the gifts started before ``before`` and still unpaid.

    Only what the donor sees changes: a payment that arrives later is still
    recorded (money is never lost), and its pending gift then reads paid."""
    result = db.session.execute(
        update(PendingGift)
        .where(
            PendingGift.status == PendingGiftStatus.PENDING,
            PendingGift.created_at < before,
        )
        .values(status=PendingGiftStatus.EXPIRED)
    )
    return result.rowcount or 0


def get_pending(reference: str) -> PendingGift | None:
    if not isinstance(reference, str) or not re.fullmatch(r"[0-9a-f]{32}", reference):
        return None
    return db.session.scalar(select(PendingGift).where(PendingGift.reference == reference))


def gift_of(pending: PendingGift) -> Donation | None:
    """The ledger row a pending gift became, once a webhook recorded it."""
    return db.session.scalar(
        select(Donation).where(
            Donation.pending_gift_id == pending.id, Donation.kind == DonationKind.GIFT
        )
    )


# --- the donor wall ---------------------------------------------------------------


@dataclass(frozen=True)
class WallEntry:
    name: str  # empty when anonymous
    message: str
    amount_minor: int | None  # None when the donor hid it
    currency: str
    created_at: datetime


def donor_wall(page: Page, limit: int = DONOR_WALL_SIZE) -> list[WallEntry]:
    """The latest gifts on a page (an event's include its members'), newest
    first, each at what remains of it after refunds and disputes (as the
    page's total counts it); fully refunded or lost-dispute gifts are left out."""
    later = aliased(Donation)
    # Refunds and disputes are negative rows pointing at the gift they undo.
    net = (
        select(func.coalesce(func.sum(later.amount_minor), 0))
        .where(later.original_id == Donation.id, later.kind.not_in(COST_KINDS))
        .scalar_subquery()
    )
    where_page = Donation.page_id == page.id
    # A gift staff moved here from the cause's unattributed money (transfer_in).
    moved = aliased(Donation)
    moved_here = moved.page_id == page.id
    if page.is_event:
        where_page = where_page | (Donation.event_id == page.id)
        moved_here = moved_here | (moved.event_id == page.id)
    where_page = where_page | Donation.id.in_(
        select(moved.original_id).where(moved.kind == DonationKind.TRANSFER_IN, moved_here)
    )
    rows = db.session.execute(
        select(Donation, Donation.amount_minor + net, PendingGift.is_amount_hidden)
        .outerjoin(PendingGift, PendingGift.id == Donation.pending_gift_id)
        .where(
            where_page,
            Donation.kind.in_((DonationKind.GIFT, DonationKind.OFFLINE)),
            Donation.amount_minor + net > 0,
        )
        .order_by(Donation.created_at.desc(), Donation.id.desc())
        .limit(limit)
    ).all()
    return [
        WallEntry(
            name="" if gift.is_anonymous else gift.donor_name,
            message=gift.message,
            amount_minor=None if is_hidden else remaining,
            currency=gift.currency,
            created_at=gift.created_at,
        )
        for gift, remaining, is_hidden in rows
    ]
