"""Refunds and disputes from Stripe events, as further ledger rows on a gift
(their Stripe fees too, through ``campaigns.giving.fees``).

Called by ``campaigns.giving.payments.process_event`` inside its savepoint; nothing
here commits. Stripe's ``amount_refunded`` is cumulative, so a refund event
records the difference with what the ledger already holds for that gift, and
the ``(original_id, stripe_refund_cumulative)`` and ``(kind,
stripe_dispute_id)`` unique keys make a replay record nothing. An event whose
gift has not arrived yet is parked as an anomaly carrying what is needed to
apply it later (see ``apply_parked``). Every handler takes the event's
connected ``account`` (None for the site's own): it must be the gift's.
"""

from __future__ import annotations

from contextvars import ContextVar

from flask_babel import gettext as _
from sqlalchemy import func, select

from campaigns.giving import card_fingerprints, covers, fees
from campaigns.giving.follow_ups import (
    Result,
    as_amount,
    as_currency,
    cover_held,
    gift_for,
    remaining,
)
from campaigns.giving.ledger import record_further_row as _add_row
from campaigns.giving.models import (
    COVER_KINDS,
    Donation,
    DonationKind,
    StripeEvent,
    StripeEventOutcome,
)
from campaigns.model_types import utcnow
from campaigns.signals import gift_disputed, gift_refunded
from extensions import db

# Set while parked events are applied in the order Stripe created them: a refund
# applied then must not pull a later failure ahead of the refunds before it.
_applying_parked: ContextVar[bool] = ContextVar("applying_parked", default=False)
# Stripe sends a refund that failed as ``refund.failed``, and as an update of
# the refund (``charge.refund.updated``, ``refund.updated``) whose status is failed.
REFUND_FAILED_TYPES = ("refund.failed", "charge.refund.updated", "refund.updated")
PARKED_TYPES = (
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    *REFUND_FAILED_TYPES,
    fees.FEE_EVENT,
)


def handle_refund(event_id: str, charge: dict, account: str | None = None) -> Result:
    """``charge.refunded``: record what the cumulative ``amount_refunded`` adds."""
    cumulative = as_amount(charge.get("amount_refunded"))
    currency = as_currency(charge.get("currency"))
    if cumulative is None or cumulative <= 0:
        return Result(
            StripeEventOutcome.ANOMALY,
            _("The refunded amount is missing or not a positive whole number."),
        )
    gift, problem = gift_for(charge, _("refund"), cumulative, currency, charge.get("id"), account)
    if problem:
        return problem
    card_fingerprints.tell(gift, card_fingerprints.of_charge(charge))
    already = refunded_minor(gift)
    found = Result(
        StripeEventOutcome.DUPLICATE,
        _("This refund is already in the ledger."),
        organisation_id=gift.organisation_id,
        amount_minor=cumulative,
        currency=currency,
    )
    # Never below zero: a refund cannot take back more than the gift still
    # holds, with the fee cover paid in the same charge.
    difference = min(cumulative - already, remaining(gift) + cover_held(gift))
    if difference <= 0:
        return found
    # A figure the ledger booked already, seen again after a refund failed: an
    # old snapshot delivered late, unless Stripe sent it after the failure (a
    # new refund of the same amount). The unique key then cannot hold it.
    repeat = _refund_row(gift, cumulative)
    if repeat and not _after_a_failure(gift, event_id):
        return found
    gift_part, cover_part = covers.split_back(gift, difference)
    row = _add_row(
        gift,
        DonationKind.REFUND,
        -gift_part,
        stripe_event_id=event_id,
        stripe_charge_id=charge.get("id") if isinstance(charge.get("id"), str) else None,
        stripe_refund_cumulative=None if repeat else cumulative,
    )
    covers.add_part(gift, row, -cover_part)
    gift_refunded.send(row, gift=gift)
    found.outcome, found.detail, found.amount_minor = StripeEventOutcome.RECORDED, "", difference
    if isinstance(charge.get("payment_intent"), str) and not _applying_parked.get():
        # A failure reported before its refund was booked can be applied now.
        apply_parked(charge["payment_intent"], REFUND_FAILED_TYPES)
    return found


REFUND_KINDS = (DonationKind.REFUND, DonationKind.REFUND_REVERSAL)


def _refund_rows(gift: Donation):
    return select(Donation.id).where(
        Donation.original_id == gift.id, Donation.kind.in_(REFUND_KINDS)
    )


def refunded_minor(gift: Donation) -> int:
    """What the ledger holds as refunded from this gift's charge (the fee
    cover's part too), net of failed refunds."""
    return -int(
        db.session.scalar(
            select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
                Donation.original_id == gift.id,
                Donation.kind.in_(REFUND_KINDS)
                | (Donation.kind.in_(COVER_KINDS) & Donation.cover_of_id.in_(_refund_rows(gift))),
            )
        )
    )


def _cover_refunded(gift: Donation) -> int:
    """The fee cover's part of what is refunded, net of failed refunds."""
    return -int(
        db.session.scalar(
            select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
                Donation.original_id == gift.id,
                Donation.kind.in_(COVER_KINDS),
                Donation.cover_of_id.in_(_refund_rows(gift)),
            )
        )
    )


def _refund_row(gift: Donation, cumulative: int) -> bool:
    return (
        db.session.scalar(
            select(Donation.id).where(
                Donation.original_id == gift.id,
                Donation.kind == DonationKind.REFUND,
                Donation.stripe_refund_cumulative == cumulative,
            )
        )
        is not None
    )


def _after_a_failure(gift: Donation, event_id: str) -> bool:
    """Whether Stripe created this event after a failed refund of the gift."""
    created = db.session.scalar(
        select(StripeEvent.stripe_created_at).where(StripeEvent.id == event_id)
    )
    if created is None:
        return False
    return (
        db.session.scalar(
            select(Donation.id)
            .join(StripeEvent, StripeEvent.id == Donation.stripe_event_id)
            .where(
                Donation.original_id == gift.id,
                Donation.kind == DonationKind.REFUND_REVERSAL,
                StripeEvent.stripe_created_at < created,
            )
            .limit(1)
        )
        is not None
    )


def handle_refund_failed(event_id: str, refund: dict, account: str | None = None) -> Result:
    """A refund Stripe reports as failed: the refunded money it booked comes
    back to every total, once per refund id. Other refund updates change nothing."""
    status = refund.get("status")
    if status != "failed":
        return Result(
            StripeEventOutcome.IGNORED, _("Refund status %(status)s.", status=str(status))
        )
    refund_id = refund.get("id")
    amount, currency = as_amount(refund.get("amount")), as_currency(refund.get("currency"))
    if not isinstance(refund_id, str) or not refund_id or amount is None or amount <= 0:
        return Result(
            StripeEventOutcome.ANOMALY,
            _("The failed refund has no id or its amount is not a positive whole number."),
        )
    gift, problem = gift_for(
        refund, _("failed refund"), amount, currency, refund.get("charge"), account
    )
    if problem:
        return problem
    result = Result(StripeEventOutcome.DUPLICATE, "", gift.organisation_id, amount, currency)
    if db.session.scalar(
        select(Donation.id).where(
            Donation.kind == DonationKind.REFUND_REVERSAL, Donation.stripe_refund_id == refund_id
        )
    ):
        result.detail = _("This failed refund is already given back in the ledger.")
        return result
    back = min(amount, refunded_minor(gift))
    if back <= 0:
        # Kept (with its payload) for staff, and applied if its refund is booked later.
        result.outcome = StripeEventOutcome.ANOMALY
        result.detail = _(
            "Stripe reports a failed refund that the ledger does not hold yet; "
            "nothing was changed. It is applied when the refund arrives."
        )
        return result
    charge_id = refund.get("charge")
    # The cover was refunded last: it comes back first.
    cover_back = min(back, _cover_refunded(gift))
    row = _add_row(
        gift,
        DonationKind.REFUND_REVERSAL,
        back - cover_back,
        stripe_event_id=event_id,
        stripe_charge_id=charge_id if isinstance(charge_id, str) else None,
        stripe_refund_id=refund_id,
    )
    covers.add_part(gift, row, cover_back)
    result.outcome, result.amount_minor = StripeEventOutcome.RECORDED, back
    return result


def _dispute_row(dispute_id: str, kind: DonationKind) -> Donation | None:
    return db.session.scalars(
        select(Donation).where(Donation.kind == kind, Donation.stripe_dispute_id == dispute_id)
    ).first()


def _withdraw(event_id: str | None, gift: Donation, dispute: dict, amount: int) -> Donation | None:
    """The DISPUTE row for this dispute: found, or recorded (at most what is left)."""
    row = _dispute_row(dispute["id"], DonationKind.DISPUTE)
    if row is not None:
        return row
    amount = min(amount, remaining(gift) + cover_held(gift))
    if amount <= 0:
        return None
    gift_part, cover_part = covers.split_back(gift, amount)
    charge_id = dispute.get("charge")
    row = _add_row(
        gift,
        DonationKind.DISPUTE,
        -gift_part,
        stripe_event_id=event_id,
        stripe_charge_id=charge_id if isinstance(charge_id, str) else None,
        stripe_dispute_id=dispute["id"],
    )
    covers.add_part(gift, row, -cover_part)
    gift_disputed.send(row, gift=gift, dispute_id=dispute["id"])
    return row


def _dispute_input(dispute: dict):
    amount = as_amount(dispute.get("amount"))
    currency = as_currency(dispute.get("currency"))
    if not isinstance(dispute.get("id"), str) or amount is None or amount <= 0:
        return (
            None,
            None,
            Result(
                StripeEventOutcome.ANOMALY,
                _("The dispute has no id or its amount is not a positive whole number."),
            ),
        )
    return amount, currency, None


def _with_fees(gift: Donation, dispute: dict, result: Result) -> Result:
    """The dispute's own fees (Stripe's dispute fee, and its return if won)
    booked too: its balance transactions come whole in the event."""
    if fees.record_dispute_fees(gift, dispute) and result.outcome != StripeEventOutcome.ANOMALY:
        result.outcome = StripeEventOutcome.RECORDED
    return result


def handle_dispute_created(event_id: str, dispute: dict, account: str | None = None) -> Result:
    """``charge.dispute.created``: the disputed money leaves the totals."""
    amount, currency, problem = _dispute_input(dispute)
    if problem:
        return problem
    gift, problem = gift_for(
        dispute, _("dispute"), amount, currency, dispute.get("charge"), account
    )
    if problem:
        return problem
    return _with_fees(gift, dispute, _dispute_created(event_id, gift, dispute, amount, currency))


def _dispute_created(
    event_id: str, gift: Donation, dispute: dict, amount: int, currency: str | None
) -> Result:
    result = Result(StripeEventOutcome.DUPLICATE, "", gift.organisation_id, amount, currency)
    if _dispute_row(dispute["id"], DonationKind.DISPUTE) is not None:
        return result
    if _withdraw(event_id, gift, dispute, amount) is None:
        result.outcome = StripeEventOutcome.IGNORED
        result.detail = _("Nothing is left of this gift to withdraw for the dispute.")
    else:
        result.outcome = StripeEventOutcome.RECORDED
    return result


def handle_dispute_closed(event_id: str, dispute: dict, account: str | None = None) -> Result:
    """``charge.dispute.closed``: won gives the money back; lost keeps it withdrawn.

    If the closing event comes first, the withdrawal is recorded too, so the
    ledger reads in the order things happened."""
    amount, currency, problem = _dispute_input(dispute)
    if problem:
        return problem
    gift, problem = gift_for(
        dispute, _("dispute"), amount, currency, dispute.get("charge"), account
    )
    if problem:
        return problem
    return _with_fees(gift, dispute, _dispute_closed(event_id, gift, dispute, amount, currency))


def _dispute_closed(
    event_id: str, gift: Donation, dispute: dict, amount: int, currency: str | None
) -> Result:
    status = dispute.get("status")
    result = Result(StripeEventOutcome.DUPLICATE, "", gift.organisation_id, amount, currency)
    if status not in ("won", "lost"):
        result.outcome = StripeEventOutcome.IGNORED
        result.detail = _("Dispute closed with status %(status)s.", status=str(status))
        return result
    existed = _dispute_row(dispute["id"], DonationKind.DISPUTE) is not None
    withdrawn = _withdraw(None, gift, dispute, amount)
    if withdrawn is None:
        result.outcome = StripeEventOutcome.IGNORED
        result.detail = _("Nothing is left of this gift to withdraw for the dispute.")
        return result
    if status == "lost":
        # Lost: the money stays withdrawn; record the withdrawal if it was missed.
        result.outcome = StripeEventOutcome.DUPLICATE if existed else StripeEventOutcome.RECORDED
        return result
    if _dispute_row(dispute["id"], DonationKind.DISPUTE_REVERSAL) is not None:
        return result
    reversal = _add_row(
        gift,
        DonationKind.DISPUTE_REVERSAL,
        -withdrawn.amount_minor,
        stripe_event_id=event_id,
        stripe_charge_id=withdrawn.stripe_charge_id,
        stripe_dispute_id=dispute["id"],
    )
    covers.add_part(gift, reversal, -covers.part_of(withdrawn))
    result.outcome = StripeEventOutcome.RECORDED
    return result


HANDLERS = {
    "charge.refunded": handle_refund,
    "charge.dispute.created": handle_dispute_created,
    "charge.dispute.closed": handle_dispute_closed,
    **dict.fromkeys(REFUND_FAILED_TYPES, handle_refund_failed),
    fees.FEE_EVENT: fees.handle_fee,
}


def apply_parked(payment_intent: str, types: tuple[str, ...] = PARKED_TYPES) -> int:
    """Apply the refund, dispute and fee events (of ``types``) parked for this
    payment intent, in the order Stripe created them; returns how many recorded
    something."""
    parked = db.session.scalars(
        select(StripeEvent)
        .where(
            StripeEvent.outcome == StripeEventOutcome.ANOMALY,
            StripeEvent.resolved_at.is_(None),
            StripeEvent.type.in_(types),
            StripeEvent.stripe_payment_intent_id == payment_intent,
            StripeEvent.payload.is_not(None),
        )
        .order_by(StripeEvent.stripe_created_at, StripeEvent.received_at, StripeEvent.id)
    ).all()
    token = _applying_parked.set(True)
    try:
        return _apply(parked)
    finally:
        _applying_parked.reset(token)


def _apply(parked: list[StripeEvent]) -> int:
    recorded = 0
    for event in parked:
        result = HANDLERS[event.type](event.id, event.payload, event.stripe_account_id)
        if result.outcome == StripeEventOutcome.ANOMALY:
            continue
        event.outcome = result.outcome
        event.organisation_id = result.organisation_id
        event.detail = _("Applied when the gift arrived.") + (
            f" {result.detail}" if result.detail else ""
        )
        event.resolved_at = utcnow()
        recorded += result.outcome == StripeEventOutcome.RECORDED
    return recorded
