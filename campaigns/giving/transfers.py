"""Staff move unattributed money to the page it was meant for.

A gift that named a missing or closed page was counted on its cause as
unattributed (``ledger.record_gift``). Moving it writes rows, never edits: a
``transfer_out`` row takes what the gift still holds (after its refunds and
disputes) off the cause's unattributed part, a ``transfer_in`` row puts it on
the page (and its event); the Stripe fees it cost so far move with it as two
``fee_transfer`` rows. The cause and the organisation add the two sides up to
nothing, and count the gift and its donor once as before; the page and its
event count one gift and its donor more (``totals.COUNT_DELTAS``). Every row
that follows the gift later (a refund, a fee) lands where it now is
(``ledger.record_further_row``). One ``donation.transfer`` audit entry says
who moved what where.

The gift's payment and row are locked in the order every Stripe handler takes
them, so a refund arriving at the same moment is booked either before the
move (and moved with the rest) or after it (on the page). A gift moves once:
moving it again to the same page changes nothing; to another page is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Agent
from campaigns import audit
from campaigns.errors import Conflict, ValidationError
from campaigns.giving import covers, ledger
from campaigns.giving.follow_ups import cover_held, lock_payment, remaining
from campaigns.giving.models import COST_KINDS, Donation, DonationKind
from campaigns.money import format_money
from campaigns.organisations import services as org_services
from campaigns.pages.models import Page, PageStatus
from campaigns.unit_of_work import begin_write, locked_row
from extensions import db

ACTION = "donation.transfer"
MOVABLE_KINDS = (DonationKind.GIFT, DonationKind.OFFLINE)
# A page that can still be credited: open, or closed (the gift came too late).
TARGET_STATUSES = (PageStatus.PUBLISHED, PageStatus.CLOSED)
PAGE_ADDRESS = re.compile(r"(?:.*/p/)?([A-Za-z0-9_-]{1,80})/?(?:[?#].*)?")


@dataclass
class Transfer:
    """What a move did: the money and fees moved, the page, and whether it had
    been done already (then nothing was written)."""

    gift: Donation
    page: Page
    moved_minor: int
    fees_minor: int
    is_repeat: bool = False


def moved_to(gift: Donation) -> Donation | None:
    """The ``transfer_in`` row of a gift staff moved, None if it was not moved."""
    return ledger.moved_to(gift)


def movable(gift: Donation) -> bool:
    """Whether staff may move ``gift`` to a page: unattributed money of a cause."""
    return (
        gift.kind in MOVABLE_KINDS
        and gift.original_id is None
        and gift.is_unattributed
        and gift.cause_id is not None
    )


def page_from(text: str, cause_id: int) -> Page:
    """The page of the cause a staff member named by its address or slug."""
    match = PAGE_ADDRESS.fullmatch((text or "").strip())
    page = (
        db.session.scalar(select(Page).where(Page.slug == match.group(1).lower()))
        if match
        else None
    )
    if page is None or page.cause_id != cause_id:
        raise ValidationError(
            {"page": _("No page of this gift's cause has that address. Paste the page's link.")}
        )
    if page.status not in TARGET_STATUSES:
        raise ValidationError(
            {
                "page": _(
                    "This page is a draft or hidden: publish it (or choose another) before "
                    "moving money to it."
                )
            }
        )
    return page


def _fees_of(gift: Donation) -> int:
    """What collecting the gift has cost so far (negative), where it is counted."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
                Donation.original_id == gift.id, Donation.kind.in_(COST_KINDS)
            )
        )
    )


def move_to_page(actor: Agent | None, donation: Donation, page: Page) -> Transfer:
    """Move an unattributed gift, with what it still holds and what it cost, to
    ``page`` of its cause (staff; ``actor`` None for a command). Raises
    PermissionDenied, ValidationError or Conflict, and changes nothing then."""
    if actor is not None:
        org_services.require_staff(actor, donation.organisation_id)
    if page.cause_id != donation.cause_id or page.status not in TARGET_STATUSES:
        raise ValidationError({"page": _("Choose a published or closed page of the gift's cause.")})
    begin_write()
    # The order of every Stripe handler: the payment's lock, then the gift's row.
    lock_payment(donation.stripe_payment_intent_id or donation.stripe_charge_id)
    gift = locked_row(donation)
    done = ledger.moved_to(gift)
    if done is not None:
        if done.page_id != page.id:
            raise Conflict(
                _("This gift was moved to another page already; a gift moves only once.")
            )
        fees = db.session.scalar(
            select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
                Donation.original_id == gift.id,
                Donation.kind == DonationKind.FEE_TRANSFER,
                Donation.page_id == page.id,
            )
        )
        return Transfer(gift, page, done.amount_minor, -int(fees), is_repeat=True)
    if not movable(gift):
        raise Conflict(_("Only unattributed money can be moved to a page."))
    moved = remaining(gift)
    fees = _fees_of(gift)  # negative: what collecting it cost so far
    here = ledger.Place(gift.page_id, gift.event_id, gift.is_unattributed)
    there = ledger.place_of(page)
    cover = cover_held(gift)  # the donor's fee cover moves with its gift
    out = ledger.record_further_row(gift, DonationKind.TRANSFER_OUT, -moved, home=here)
    covers.add_part(gift, out, -cover, home=here)
    if fees:
        ledger.record_further_row(gift, DonationKind.FEE_TRANSFER, -fees, home=here)
        ledger.record_further_row(gift, DonationKind.FEE_TRANSFER, fees, home=there)
    into = ledger.record_further_row(gift, DonationKind.TRANSFER_IN, moved, home=there)
    covers.add_part(gift, into, cover, home=there)
    audit.record(
        gift.organisation_id,
        actor,
        ACTION,
        f"Moved {format_money(moved, gift.currency, 'en')} of unattributed gift #{gift.id} "
        f"to the page {page.title!r}",
        subject=gift,
        amount_minor=moved,
        currency=gift.currency,
        details={"page_id": page.id, "page_title": page.title, "fees_minor": -fees},
    )
    return Transfer(gift, page, moved, -fees)
