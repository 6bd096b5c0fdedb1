"""Staff ask Stripe to refund a card gift; the ledger waits for Stripe's word.

Asking changes no money here: the refund enters the ledger when Stripe's
``charge.refunded`` event reaches ``campaigns.giving.payments.process_event``, which
records each cumulative ``amount_refunded`` once. Until then the gift shows the
request as waiting for Stripe. The demo has no Stripe: it builds the event
Stripe would send and runs it through that same code, in the same transaction.

The request runs with the gift's row locked (a writer transaction on SQLite)
through the call to Stripe, so two clicks are served one after the other and
the ``refund.request`` audit entry exists exactly when Stripe accepted the
refund. A refusal or an unanswered call rolls back and writes no entry: the
audit log records what happened, and a refused refund changed nothing (the
error is logged for whoever looks into it). On SQLite the lock is the
database's write lock, held for the length of the call; production runs
PostgreSQL, where only this gift's row waits.

Stripe's idempotency key is derived from the gift (its id and payment intent),
the cumulative amount it will have been asked to refund, and the last
``refund.request`` entry the staff member saw. The refund form carries what it
saw (``RefundState.token``): sent twice (a double click, the back button, a
retry after Stripe did not answer), it gives the same key, so Stripe refunds
once, and the second request finds the first one's entry instead of writing
another. A later request, made from a page that shows the first one, gets a
new key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select

from agents.models import Agent
from campaigns import audit
from campaigns.audit import AuditEntry
from campaigns.errors import Conflict, ServiceError, ValidationError
from campaigns.giving import stripe_gateway
from campaigns.giving.checkout import refunded_event
from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import STRIPE_MAX_AMOUNT, process_event
from campaigns.giving.refunds import refunded_minor, remaining
from campaigns.money import format_money
from campaigns.offline.models import OfflineGift
from campaigns.organisations import services
from campaigns.unit_of_work import locked_row
from extensions import db

ACTION = "refund.request"
MAX_REASON = 1000


class RefundError(ServiceError):
    """Stripe refused the refund or did not answer; nothing was recorded."""

    status = 502


@dataclass(frozen=True)
class RefundState:
    """Where a gift's refunds stand."""

    remaining_minor: int  # what the ledger still holds of the gift
    refunded_minor: int  # refunds in the ledger: confirmed by Stripe
    asked_minor: int  # what Stripe has been asked to refund in all (cumulative)
    last_request_id: int  # the newest refund.request entry, 0 if none
    requests: list[AuditEntry] = field(default_factory=list)

    @property
    def waiting(self) -> list[AuditEntry]:
        """Requests Stripe has not confirmed yet (their refund is not in the ledger)."""
        return [e for e in self.requests if _cumulative(e) > self.refunded_minor]

    @property
    def waiting_minor(self) -> int:
        return max(0, self.asked_minor - self.refunded_minor)

    @property
    def refundable_minor(self) -> int:
        return max(0, self.remaining_minor - self.waiting_minor)

    @property
    def token(self) -> str:
        """What the refund form saw: a request made from it is keyed on this."""
        return f"{self.last_request_id}:{self.asked_minor}"


@dataclass(frozen=True)
class RefundRequest:
    """The outcome of ``request_refund``."""

    entry: AuditEntry
    is_repeat: bool = False  # the same request again: nothing new was sent
    is_demo: bool = False  # no Stripe: the refund is in the ledger already


def _cumulative(entry: AuditEntry) -> int:
    value = (entry.details or {}).get("cumulative_minor")
    return value if isinstance(value, int) else 0


def refund_requests(gift: Donation) -> list[AuditEntry]:
    """The gift's refund requests, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.organisation_id == gift.organisation_id,
                AuditEntry.action == ACTION,
                AuditEntry.subject_type == Donation.__tablename__,
                AuditEntry.subject_id == gift.id,
            )
            .order_by(AuditEntry.id)
        )
    )


def refund_state(gift: Donation) -> RefundState:
    """The gift's remaining amount, confirmed refunds and requests to Stripe."""
    refunded = refunded_minor(gift)
    requests = refund_requests(gift)
    asked = max([refunded, *(_cumulative(e) for e in requests)])
    return RefundState(
        remaining_minor=remaining(gift),
        refunded_minor=refunded,
        asked_minor=asked,
        last_request_id=requests[-1].id if requests else 0,
        requests=requests,
    )


def ledger_rows(gift: Donation) -> list[Donation]:
    """The gift's refunds, disputes and reversals, oldest first."""
    return list(
        db.session.scalars(
            select(Donation).where(Donation.original_id == gift.id).order_by(Donation.id)
        )
    )


def audit_entries(gift: Donation) -> list[AuditEntry]:
    """Audit entries about the gift (and the offline gift it came from), oldest first."""
    about = [
        (AuditEntry.subject_type == Donation.__tablename__) & (AuditEntry.subject_id == gift.id)
    ]
    if gift.offline_gift_id:
        about.append(
            (AuditEntry.subject_type == OfflineGift.__tablename__)
            & (AuditEntry.subject_id == gift.offline_gift_id)
        )
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.organisation_id == gift.organisation_id, or_(*about))
            .order_by(AuditEntry.id)
        )
    )


def idempotency_key(gift: Donation, after_request_id: int, cumulative_minor: int) -> str:
    """Stripe's key for a refund: the same gift, seen state and amount give the same key.

    The payment intent keeps keys apart between sites sharing one Stripe account."""
    return (
        f"relais-refund-{gift.id}-{gift.stripe_payment_intent_id}"
        f"-after-{after_request_id}-to-{cumulative_minor}"
    )


def stripe_refundable(gift: Donation) -> str | None:
    """Why this row cannot be refunded through Stripe, or None when it can."""
    if gift.kind == DonationKind.OFFLINE:
        return _("Cash and cheques are given back by hand: there is no card payment to refund.")
    if gift.kind != DonationKind.GIFT or gift.original_id is not None:
        return _("Only a gift can be refunded, not a refund or a dispute.")
    if not gift.stripe_payment_intent_id:
        return _("This gift has no Stripe payment to refund. Give the money back by hand.")
    return None


def refunds_available(config) -> bool:
    """Stripe is set up, or this is the demo (which plays Stripe's part)."""
    return bool(config.get("STRIPE_SECRET_KEY")) or stripe_gateway.test_payments_allowed(config)


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency, str(get_locale() or "en"))


def reason_problem(reason: str) -> str | None:
    """What is wrong with a refund's reason (stripped), or None."""
    if not reason:
        return _("Say why the gift is refunded: it is kept in the audit log.")
    if len(reason) > MAX_REASON:
        return _("Keep this under %(n)s characters.", n=MAX_REASON)
    return None


def _amount_problem(amount_minor, state: RefundState, currency: str) -> str | None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        return _("Enter an amount above zero, for example 10 or 12.50.")
    if state.refundable_minor <= 0:
        if state.waiting_minor:
            return _("The rest of this gift is already being refunded: wait for Stripe.")
        return _("Nothing is left of this gift to refund.")
    if amount_minor > min(state.refundable_minor, STRIPE_MAX_AMOUNT):
        return _(
            "You can refund at most %(amount)s of this gift.",
            amount=_money(state.refundable_minor, currency),
        )
    return None


def _parse_token(seen) -> tuple[int, int] | None:
    try:
        after, asked = (int(part) for part in str(seen).split(":"))
    except ValueError:
        return None
    return (after, asked) if after >= 0 and asked >= 0 else None


def _repeat_of(gift: Donation, state: RefundState, seen, amount_minor) -> AuditEntry | None:
    """The request this same form already made (double click), if any."""
    parsed = _parse_token(seen)
    if parsed is None or isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        return None
    key = idempotency_key(gift, parsed[0], parsed[1] + amount_minor)
    return next(
        (e for e in state.requests if (e.details or {}).get("idempotency_key") == key), None
    )


def request_refund(
    actor: Agent | None,
    donation: Donation,
    amount_minor: int,
    reason: str,
    *,
    seen: str | None = None,
) -> RefundRequest:
    """Ask Stripe to refund ``amount_minor`` of a card gift (staff; ``actor`` None for
    a command) and log it; the ledger changes when Stripe confirms.

    ``seen`` is the ``RefundState.token`` the refund form was shown with: the
    same form sent twice refunds once. Without it, the current state is used.
    Raises ValidationError, Conflict or RefundError and changes nothing then.
    """
    if actor is not None:
        services.require_staff(actor, donation.organisation_id)
    problem = stripe_refundable(donation)
    if problem:
        raise Conflict(problem)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not refunds_available(current_app.config):
        raise Conflict(
            _(
                "Refunds go through Stripe, which is not set up on this site: "
                "set STRIPE_SECRET_KEY. Nothing was refunded."
            )
        )
    gateway = stripe_gateway.gateway()
    gift = locked_row(donation)
    state = refund_state(gift)
    if seen is not None and seen != state.token:
        repeat = _repeat_of(gift, state, seen, amount_minor)
        if repeat is not None:
            return RefundRequest(repeat, is_repeat=True, is_demo=gateway.is_demo)
        raise Conflict(
            _(
                "This gift changed since you opened the page (another refund was "
                "requested or arrived). Check the figures and send the form again."
            )
        )
    problems = {
        "amount": _amount_problem(amount_minor, state, gift.currency),
        "reason": reason_problem(reason),
    }
    if any(problems.values()):
        raise ValidationError({field: text for field, text in problems.items() if text})
    cumulative = state.asked_minor + amount_minor
    key = idempotency_key(gift, state.last_request_id, cumulative)
    refund = _ask_stripe(gateway, gift, amount_minor, key)
    entry = audit.record(
        gift.organisation_id,
        actor,
        ACTION,
        f"Refund of {format_money(amount_minor, gift.currency, 'en')} of gift #{gift.id} "
        f"asked of Stripe: {reason}",
        subject=gift,
        amount_minor=amount_minor,
        currency=gift.currency,
        details={
            "reason": reason,
            "cumulative_minor": cumulative,
            "after_request_id": state.last_request_id,
            "idempotency_key": key,
            "refund_id": refund["id"],
            "refund_status": refund["status"],
            "is_demo": gateway.is_demo,
        },
    )
    db.session.flush()
    if gateway.is_demo:
        # No Stripe to send the event: this unit of work records it (same transaction).
        process_event(refunded_event(gift, cumulative, amount_minor, key, refund["id"]))
    return RefundRequest(entry, is_demo=gateway.is_demo)


def _ask_stripe(
    gateway: stripe_gateway.Gateway, gift: Donation, amount_minor: int, key: str
) -> dict:
    try:
        refund = gateway.create_refund(
            {
                "payment_intent": gift.stripe_payment_intent_id,
                "amount": amount_minor,
                # Kept stable for one key: Stripe refuses a replay whose parameters differ.
                "metadata": {
                    "relais_donation": str(gift.id),
                    "relais_organisation": str(gift.organisation_id),
                },
            },
            idempotency_key=key,
            # The account the gift was paid into (Connect), the site's own if None.
            stripe_account=gift.stripe_account_id,
        )
    except stripe_gateway.IdempotencyConflict as exc:
        # The same key with other parameters: another amount from the same page.
        raise _refusal(
            exc,
            _(
                "A refund of another amount was sent for this gift a moment ago. Reload "
                "the page to see where it stands before trying again."
            ),
        ) from exc
    except stripe_gateway.KeyRejected as exc:
        raise _refusal(
            exc,
            _("Stripe did not accept our key: check STRIPE_SECRET_KEY. Nothing was refunded."),
        ) from exc
    except stripe_gateway.GatewayRefused as exc:
        raise _refusal(
            exc,
            _(
                "Stripe refused this refund (%(detail)s). Nothing was refunded; check "
                "the payment in your Stripe dashboard.",
                detail=exc.message or _("no reason given"),
            ),
        ) from exc
    except stripe_gateway.GatewayError as exc:
        # No answer, or Stripe's own failure: the refund may or may not exist.
        raise _refusal(
            exc,
            _(
                "Stripe did not answer, so we cannot tell whether the refund was made. "
                "Send the form again: Stripe will not refund twice. The gift shows the "
                "refund once Stripe confirms it."
            ),
        ) from exc
    status = refund.get("status") or ""
    if status in ("failed", "canceled"):
        raise RefundError(
            _(
                "Stripe could not refund this payment (status: %(status)s). Nothing was "
                "refunded; check the payment in your Stripe dashboard.",
                status=status,
            )
        )
    return {"id": refund.get("id") or "", "status": status}


def _refusal(exc: stripe_gateway.GatewayError, message: str) -> RefundError:
    current_app.logger.warning("refund refused by Stripe: %s", exc.__cause__ or exc)
    return RefundError(message)
