"""Refunds and disputes from Stripe events, as further ledger rows on a gift.

Called by ``campaigns.giving.payments.process_event`` inside its savepoint; nothing
here commits. Stripe's ``amount_refunded`` is cumulative, so a refund event
records the difference with what the ledger already holds for that gift, and
the ``(original_id, stripe_refund_cumulative)`` and ``(kind,
stripe_dispute_id)`` unique keys make a replay record nothing. An event whose
gift has not arrived yet is parked as an anomaly carrying what is needed to
apply it later (see ``apply_parked``).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from babel.numbers import list_currencies
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, text

from campaigns.giving.models import Donation, DonationKind, StripeEvent, StripeEventOutcome
from campaigns.model_types import utcnow
from campaigns.totals import services as totals
from extensions import db

MAX_MINOR = 2**63 - 1
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
)


@dataclass
class Result:
    """What became of one event: its outcome and what the StripeEvent row shows."""

    outcome: StripeEventOutcome
    detail: str = ""
    organisation_id: int | None = None
    amount_minor: int | None = None
    currency: str | None = None


def as_amount(value) -> int | None:
    """An integer number of minor units that fits the ledger, else None."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_MINOR:
        return None
    return value


def as_currency(value) -> str | None:
    """An upper-cased ISO 4217 code, else None."""
    code = value.upper() if isinstance(value, str) else ""
    return code if len(code) == 3 and code in list_currencies() else None


def lock_payment(key: str | None) -> None:
    """Serialise the events of one payment on PostgreSQL (a transaction-scoped
    advisory lock), so a refund racing its own gift is never parked after the
    gift looked for parked events. SQLite writers are serial already."""
    if key and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


def find_gift(payment_intent: str | None, charge_id: str | None) -> Donation | None:
    """The gift paid by this payment intent (or charge), row-locked until commit."""
    keys = []
    if payment_intent:
        keys.append(Donation.stripe_payment_intent_id == payment_intent)
    if charge_id:
        keys.append(Donation.stripe_charge_id == charge_id)
    if not keys:
        return None
    return db.session.scalars(
        select(Donation)
        .where(Donation.kind == DonationKind.GIFT, or_(*keys))
        .order_by(Donation.id)
        .limit(1)
        .with_for_update()
    ).first()


def remaining(gift: Donation) -> int:
    """What the gift still holds after its refunds, disputes and reversals."""
    children = db.session.scalar(
        select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
            Donation.original_id == gift.id
        )
    )
    return gift.amount_minor + int(children)


def _add_row(gift: Donation, kind: DonationKind, amount_minor: int, **columns) -> Donation:
    row = Donation(
        kind=kind,
        organisation_id=gift.organisation_id,
        cause_id=gift.cause_id,
        project_id=gift.project_id,
        page_id=gift.page_id,
        event_id=gift.event_id,
        amount_minor=amount_minor,
        currency=gift.currency,
        donor_key=gift.donor_key,
        is_unattributed=gift.is_unattributed,
        original_id=gift.id,
        payment_method=gift.payment_method,
        **columns,
    )
    db.session.add(row)
    db.session.flush()
    totals.apply(row)
    return row


def _park(kind: str, amount: int | None, currency: str | None) -> Result:
    # process_event keeps the event's object on the row; apply_parked uses it.
    return Result(
        StripeEventOutcome.ANOMALY,
        _(
            "No gift for this payment yet: the %(kind)s will be applied when the gift is recorded.",
            kind=kind,
        ),
        amount_minor=amount,
        currency=currency,
    )


def _gift_for(obj: dict, kind: str, amount: int | None, currency: str | None, charge_id):
    payment_intent = obj.get("payment_intent")
    payment_intent = payment_intent if isinstance(payment_intent, str) else None
    charge_id = charge_id if isinstance(charge_id, str) else None
    lock_payment(payment_intent or charge_id)
    gift = find_gift(payment_intent, charge_id)
    if gift is None:
        return None, _park(kind, amount, currency)
    if currency != gift.currency:
        return None, Result(
            StripeEventOutcome.ANOMALY,
            _(
                "The %(kind)s is in %(currency)s but the gift was in %(expected)s; "
                "nothing was recorded.",
                kind=kind,
                currency=currency or "?",
                expected=gift.currency,
            ),
            organisation_id=gift.organisation_id,
            amount_minor=amount,
        )
    return gift, None


def handle_refund(event_id: str, charge: dict) -> Result:
    """``charge.refunded``: record what the cumulative ``amount_refunded`` adds."""
    cumulative = as_amount(charge.get("amount_refunded"))
    currency = as_currency(charge.get("currency"))
    if cumulative is None or cumulative <= 0:
        return Result(
            StripeEventOutcome.ANOMALY,
            _("The refunded amount is missing or not a positive whole number."),
        )
    gift, problem = _gift_for(charge, _("refund"), cumulative, currency, charge.get("id"))
    if problem:
        return problem
    already = refunded_minor(gift)
    found = Result(
        StripeEventOutcome.DUPLICATE,
        _("This refund is already in the ledger."),
        organisation_id=gift.organisation_id,
        amount_minor=cumulative,
        currency=currency,
    )
    # Never below zero: a refund cannot take back more than the gift still holds.
    difference = min(cumulative - already, remaining(gift))
    if difference <= 0:
        return found
    # A figure the ledger booked already, seen again after a refund failed: an
    # old snapshot delivered late, unless Stripe sent it after the failure (a
    # new refund of the same amount). The unique key then cannot hold it.
    repeat = _refund_row(gift, cumulative)
    if repeat and not _after_a_failure(gift, event_id):
        return found
    _add_row(
        gift,
        DonationKind.REFUND,
        -difference,
        stripe_event_id=event_id,
        stripe_charge_id=charge.get("id") if isinstance(charge.get("id"), str) else None,
        stripe_refund_cumulative=None if repeat else cumulative,
    )
    found.outcome, found.detail, found.amount_minor = StripeEventOutcome.RECORDED, "", difference
    if isinstance(charge.get("payment_intent"), str) and not _applying_parked.get():
        # A failure reported before its refund was booked can be applied now.
        apply_parked(charge["payment_intent"], REFUND_FAILED_TYPES)
    return found


def refunded_minor(gift: Donation) -> int:
    """What the ledger holds as refunded from this gift, net of failed refunds."""
    return -int(
        db.session.scalar(
            select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
                Donation.original_id == gift.id,
                Donation.kind.in_((DonationKind.REFUND, DonationKind.REFUND_REVERSAL)),
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


def handle_refund_failed(event_id: str, refund: dict) -> Result:
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
    gift, problem = _gift_for(refund, _("failed refund"), amount, currency, refund.get("charge"))
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
    _add_row(
        gift,
        DonationKind.REFUND_REVERSAL,
        back,
        stripe_event_id=event_id,
        stripe_charge_id=charge_id if isinstance(charge_id, str) else None,
        stripe_refund_id=refund_id,
    )
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
    amount = min(amount, remaining(gift))
    if amount <= 0:
        return None
    charge_id = dispute.get("charge")
    return _add_row(
        gift,
        DonationKind.DISPUTE,
        -amount,
        stripe_event_id=event_id,
        stripe_charge_id=charge_id if isinstance(charge_id, str) else None,
        stripe_dispute_id=dispute["id"],
    )


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


def handle_dispute_created(event_id: str, dispute: dict) -> Result:
    """``charge.dispute.created``: the disputed money leaves the totals."""
    amount, currency, problem = _dispute_input(dispute)
    if problem:
        return problem
    gift, problem = _gift_for(dispute, _("dispute"), amount, currency, dispute.get("charge"))
    if problem:
        return problem
    result = Result(StripeEventOutcome.DUPLICATE, "", gift.organisation_id, amount, currency)
    if _dispute_row(dispute["id"], DonationKind.DISPUTE) is not None:
        return result
    if _withdraw(event_id, gift, dispute, amount) is None:
        result.outcome = StripeEventOutcome.IGNORED
        result.detail = _("Nothing is left of this gift to withdraw for the dispute.")
    else:
        result.outcome = StripeEventOutcome.RECORDED
    return result


def handle_dispute_closed(event_id: str, dispute: dict) -> Result:
    """``charge.dispute.closed``: won gives the money back; lost keeps it withdrawn.

    If the closing event comes first, the withdrawal is recorded too, so the
    ledger reads in the order things happened."""
    amount, currency, problem = _dispute_input(dispute)
    if problem:
        return problem
    status = dispute.get("status")
    gift, problem = _gift_for(
        dispute,
        _("dispute"),
        amount,
        currency,
        dispute.get("charge"),
    )
    if problem:
        return problem
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
    _add_row(
        gift,
        DonationKind.DISPUTE_REVERSAL,
        -withdrawn.amount_minor,
        stripe_event_id=event_id,
        stripe_charge_id=withdrawn.stripe_charge_id,
        stripe_dispute_id=dispute["id"],
    )
    result.outcome = StripeEventOutcome.RECORDED
    return result


HANDLERS = {
    "charge.refunded": handle_refund,
    "charge.dispute.created": handle_dispute_created,
    "charge.dispute.closed": handle_dispute_closed,
    **dict.fromkeys(REFUND_FAILED_TYPES, handle_refund_failed),
}


def apply_parked(payment_intent: str, types: tuple[str, ...] = PARKED_TYPES) -> int:
    """Apply the refund and dispute events (of ``types``) parked for this
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
        result = HANDLERS[event.type](event.id, event.payload)
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
