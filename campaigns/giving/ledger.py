"""The ledger write: one gift row and the totals it counts in, in one transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import select

from campaigns.errors import ValidationError
from campaigns.giving.models import Donation, DonationKind
from campaigns.organisations.models import Cause, Project
from campaigns.pages.models import Page, PageStatus
from campaigns.signals import further_row_recorded, gift_recorded
from campaigns.totals import services as totals
from extensions import db

# --- gifts -----------------------------------------------------------------


def donor_key_for(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest() if email else ""


def record_gift(
    *,
    page: Page | None,
    cause: Cause,
    amount_minor: int,
    donor_name: str = "",
    donor_email: str = "",
    message: str = "",
    is_anonymous: bool = False,
    project: Project | None = None,
    kind: DonationKind = DonationKind.GIFT,
    created_at: datetime | None = None,
    payment_method: str = "card",
    extra: dict | None = None,
    collected_earlier: bool = False,
    is_for_cause: bool = False,
) -> Donation:
    """Append a gift to the ledger and to every total it counts in, and tell
    listeners (notifications). Its receipt number comes later, from
    ``campaigns.giving.receipts.issue_pending``.

    A page that is missing or closed does not lose the money: it lands on the
    cause as unattributed, unless ``collected_earlier`` (cash collected while
    the page was open, confirmed after it closed). A gift the donor made to
    the cause itself (``is_for_cause``, no page) is the cause's own money, not
    unattributed: nobody has to find it a page. ``extra`` sets further
    Donation columns (Stripe ids, the pending or offline gift it came from).
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationError({"amount": _("The amount must be a positive whole number.")})
    # Money collected while the page was open (cash confirmed later) stays on it.
    open_statuses = (
        (PageStatus.PUBLISHED, PageStatus.CLOSED) if collected_earlier else (PageStatus.PUBLISHED,)
    )
    is_unattributed = (page is None and not is_for_cause) or (
        page is not None and page.status not in open_statuses
    )
    target = None if is_unattributed else page
    donation = Donation(
        kind=kind,
        organisation_id=cause.organisation_id,
        cause_id=cause.id,
        project_id=project.id if project else None,
        page_id=target.id if target else None,
        event_id=(target.parent_id or (target.id if target.is_event else None)) if target else None,
        amount_minor=amount_minor,
        currency=cause.organisation.currency,
        donor_name=donor_name,
        donor_email=donor_email,
        donor_key=donor_key_for(donor_email),
        message=message,
        is_anonymous=is_anonymous,
        is_unattributed=is_unattributed,
        payment_method=payment_method,
        **(extra or {}),
    )
    if created_at:
        donation.created_at = created_at
    db.session.add(donation)
    db.session.flush()
    if not donation.donor_key:
        donation.donor_key = f"row:{donation.id}"
    totals.apply(donation)
    gift_recorded.send(donation)
    return donation


# --- rows that follow a gift ---------------------------------------------------


class Place(NamedTuple):
    """Where a ledger row is counted below its cause."""

    page_id: int | None
    event_id: int | None
    is_unattributed: bool


def place_of(page: Page) -> Place:
    """A page's place: the page, and its event (itself, for an event)."""
    return Place(page.id, page.parent_id or (page.id if page.is_event else None), False)


def moved_to(gift: Donation) -> Donation | None:
    """The ``transfer_in`` row of a gift staff moved to a page, if it was moved."""
    return db.session.scalars(
        select(Donation)
        .where(Donation.original_id == gift.id, Donation.kind == DonationKind.TRANSFER_IN)
        .limit(1)
    ).first()


def record_further_row(
    gift: Donation, kind: DonationKind, amount_minor: int, *, home: Place | None = None, **columns
) -> Donation:
    """Append a row that follows ``gift`` (a refund, dispute, reversal or fee)
    where the gift is counted — its page, event, project and cause, or the page
    staff moved it to — and add it to their totals. ``home`` places it on that
    row's page instead (a transfer); ``columns`` sets its Stripe ids."""
    where = home or moved_to(gift) or gift
    row = Donation(
        kind=kind,
        organisation_id=gift.organisation_id,
        cause_id=gift.cause_id,
        project_id=gift.project_id,
        page_id=where.page_id,
        event_id=where.event_id,
        amount_minor=amount_minor,
        currency=gift.currency,
        donor_key=gift.donor_key,
        is_unattributed=where.is_unattributed,
        original_id=gift.id,
        payment_method=gift.payment_method,
        stripe_account_id=gift.stripe_account_id,
        **columns,
    )
    db.session.add(row)
    db.session.flush()
    totals.apply(row)
    further_row_recorded.send(row)
    return row
