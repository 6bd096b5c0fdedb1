"""The ledger write: one gift row and the totals it counts in, in one transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask_babel import gettext as _

from campaigns.errors import ValidationError
from campaigns.giving.models import Donation, DonationKind
from campaigns.organisations.models import Cause, Project
from campaigns.pages.models import Page, PageStatus
from campaigns.signals import gift_recorded
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
) -> Donation:
    """Append a gift to the ledger and to every total it counts in, and tell
    listeners (notifications). Its receipt number comes later, from
    ``campaigns.giving.receipts.issue_pending``.

    A page that is missing or closed does not lose the money: it lands on the
    cause as unattributed, unless ``collected_earlier`` (cash collected while
    the page was open, confirmed after it closed). ``extra`` sets further
    Donation columns (Stripe ids, the pending or offline gift it came from).
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationError({"amount": _("The amount must be a positive whole number.")})
    # Money collected while the page was open (cash confirmed later) stays on it.
    open_statuses = (
        (PageStatus.PUBLISHED, PageStatus.CLOSED) if collected_earlier else (PageStatus.PUBLISHED,)
    )
    is_unattributed = page is None or page.status not in open_statuses
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
