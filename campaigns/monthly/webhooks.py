"""Stripe's events of a monthly gift, into the ledger (called by
``campaigns.giving.payments.process_event`` inside its savepoint; nothing here
commits).

- ``checkout.session.completed`` in subscription mode: the monthly gift
  exists (no money yet: it comes with the invoice).
- ``invoice.paid`` (and ``invoice.payment_succeeded``, the same invoice): one
  gift row per invoice, keyed by its id (unique), on the page it started from
  while the page is open, else on the cause as unattributed
  (``ledger.record_gift``), with the fee cover as its own row; a monthly gift
  to the cause itself (no page named) is the cause's own money.
- ``customer.subscription.updated`` / ``deleted``: its status; canceled is final.

Order-tolerant: each event carries the subscription's metadata (Checkout's
``subscription_data.metadata``; an invoice has it as ``subscription_details``),
so whichever arrives first makes the monthly gift. An event that cannot be
placed yet (no metadata, no monthly gift) is parked with its object and
applied when the monthly gift is made. Every event of one subscription takes
the same advisory lock first (then its payment's, as a refund does), so two
deliveries of one invoice never both write.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from campaigns.giving import covers, ledger
from campaigns.giving.follow_ups import (
    Result,
    as_amount,
    as_currency,
    by_slug,
    chosen_page,
    lock_payment,
    names_no_page,
)
from campaigns.giving.models import (
    Donation,
    PendingGift,
    PendingGiftStatus,
    StripeEvent,
    StripeEventOutcome,
)
from campaigns.giving.refunds import apply_parked
from campaigns.inputs import as_text
from campaigns.model_types import utcnow
from campaigns.monthly.models import MonthlyGift, MonthlyStatus
from campaigns.monthly.services import stop_token
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.pages.models import Page
from campaigns.signals import monthly_gift_started
from campaigns.urls import absolute_url
from extensions import db

INVOICE_TYPES = ("invoice.paid", "invoice.payment_succeeded")
SUBSCRIPTION_TYPES = ("customer.subscription.updated", "customer.subscription.deleted")
# Kept with their object when they arrive before their monthly gift can be made.
PARKED_TYPES = (*INVOICE_TYPES, *SUBSCRIPTION_TYPES)
STATUSES = {
    "active": MonthlyStatus.ACTIVE,
    "trialing": MonthlyStatus.ACTIVE,
    "past_due": MonthlyStatus.PAST_DUE,
    "unpaid": MonthlyStatus.PAST_DUE,
    "incomplete": MonthlyStatus.PAST_DUE,
    "paused": MonthlyStatus.PAST_DUE,
    "canceled": MonthlyStatus.CANCELED,
    "incomplete_expired": MonthlyStatus.CANCELED,
}


def _id(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def subscription_of(obj: dict) -> str | None:
    """The subscription an event's object belongs to (a session, an invoice
    in either of Stripe's shapes, or the subscription itself)."""
    if obj.get("object") == "subscription":
        return _id(obj.get("id"))
    found = _id(obj.get("subscription"))
    if found:
        return found
    details = _dict(_dict(obj.get("parent")).get("subscription_details"))
    return _id(details.get("subscription"))


def metadata_of(obj: dict) -> dict:
    """Relais' metadata on the subscription, wherever the object carries it."""
    for candidate in (
        _dict(obj.get("subscription_details")).get("metadata"),
        _dict(_dict(obj.get("parent")).get("subscription_details")).get("metadata"),
        obj.get("metadata"),
    ):
        if isinstance(candidate, dict) and (candidate.get("cause") or candidate.get("pending")):
            return candidate
    return {}


def _pending(metadata: dict) -> PendingGift | None:
    reference = metadata.get("pending")
    if not isinstance(reference, str) or not reference:
        return None
    return db.session.scalars(select(PendingGift).where(PendingGift.reference == reference)).first()


def find(subscription_id: str) -> MonthlyGift | None:
    return db.session.scalars(
        select(MonthlyGift).where(MonthlyGift.stripe_subscription_id == subscription_id)
    ).first()


def _make(
    subscription_id: str,
    metadata: dict,
    account: str | None,
    owner: Organisation | None,
    *,
    amount_total: int | None,
    currency: str | None,
    email: str,
    name: str,
) -> MonthlyGift | Result:
    """A new monthly gift from the subscription's metadata (and its pending
    gift), or the Result to answer: parked, or an anomaly."""
    pending = _pending(metadata)
    cause = db.session.get(Cause, pending.cause_id) if pending else None
    cause = cause or by_slug(Cause, metadata.get("cause"))
    # A subscription event says nothing of the amount: only the session, an
    # invoice or our own pending gift do.
    if cause is None or (pending is None and amount_total is None):
        return Result(
            StripeEventOutcome.ANOMALY,
            _(
                "No monthly gift for this subscription yet: it is applied when its "
                "Checkout Session arrives."
            ),
        )
    if owner is not None and cause.organisation_id != owner.id:
        return Result(
            StripeEventOutcome.ANOMALY,
            _("A monthly gift paid into one organisation's account names another's cause."),
            organisation_id=owner.id,
        )
    page = chosen_page(metadata, pending)
    if page is not None and page.cause_id != cause.id:
        page = None
    project = (
        db.session.get(Project, pending.project_id) if pending and pending.project_id else None
    )
    organisation = cause.organisation
    if pending:
        amount, cover = pending.amount_minor, pending.cover_minor
    else:
        amount, cover = covers.split_paid(amount_total or 0, metadata.get("cover"))
    if (currency and currency != organisation.currency) or amount <= 0:
        return Result(
            StripeEventOutcome.ANOMALY,
            _("The monthly gift's amount or currency does not match its organisation."),
            organisation_id=organisation.id,
        )
    monthly = MonthlyGift(
        stripe_subscription_id=subscription_id,
        stripe_account_id=account,
        organisation_id=organisation.id,
        cause_id=cause.id,
        page_id=page.id if page else None,
        project_id=project.id if project else None,
        pending_gift_id=pending.id if pending else None,
        amount_minor=amount,
        cover_minor=cover,
        currency=organisation.currency,
        donor_name=as_text(pending.donor_name if pending else "", 200) or name,
        donor_email=(as_text(pending.donor_email if pending else "", 255) or email).lower(),
        is_anonymous=bool(pending and (pending.is_anonymous or not pending.donor_name)),
        locale=(pending.locale if pending else "") or organisation.locale,
        stop_key=secrets.token_urlsafe(16),
    )
    db.session.add(monthly)
    db.session.flush()
    if pending:
        pending.status = PendingGiftStatus.PAID
    return monthly


def _details(obj: dict) -> tuple[str, str]:
    details = _dict(obj.get("customer_details"))
    email = as_text(details.get("email") or obj.get("customer_email"), 255)
    name = as_text(details.get("name") or obj.get("customer_name"), 200)
    return email, name


def _owned_or_made(event: dict, obj: dict, account, owner, amount_total, currency):
    subscription_id = subscription_of(obj)
    if subscription_id is None:
        return None, Result(StripeEventOutcome.ANOMALY, _("The event names no subscription."))
    lock_payment(f"subscription:{subscription_id}")
    monthly = find(subscription_id)
    if monthly is not None:
        if monthly.stripe_account_id != account:
            return None, Result(
                StripeEventOutcome.ANOMALY,
                _("The event comes from another Stripe account than its monthly gift's."),
                organisation_id=monthly.organisation_id,
            )
        return monthly, None
    email, name = _details(obj)
    made = _make(
        subscription_id,
        metadata_of(obj),
        account,
        owner,
        amount_total=amount_total,
        currency=currency,
        email=email,
        name=name,
    )
    if isinstance(made, Result):
        return None, made
    _announce(made)
    apply_parked_for(made.stripe_subscription_id, but=event["id"])
    return made, None


def record_session(event: dict, session: dict, account, owner) -> Result:
    """A subscription-mode Checkout Session completed: the monthly gift exists."""
    monthly, problem = _owned_or_made(
        event,
        session,
        account,
        owner,
        as_amount(session.get("amount_total")),
        as_currency(session.get("currency")),
    )
    if problem:
        return problem
    customer = _id(session.get("customer"))
    email, name = _details(session)
    changed = False
    if customer and not monthly.stripe_customer_id:
        monthly.stripe_customer_id, changed = customer, True
    if email and not monthly.donor_email and not monthly.is_erased:
        monthly.donor_email, changed = email.lower(), True
        _announce(monthly)
    if not monthly.donor_name and name and not monthly.is_erased:
        monthly.donor_name = name
    return Result(
        StripeEventOutcome.RECORDED if changed else StripeEventOutcome.DUPLICATE,
        _("Monthly gift started."),
        organisation_id=monthly.organisation_id,
        amount_minor=monthly.amount_minor + monthly.cover_minor,
        currency=monthly.currency,
    )


def record_invoice(event: dict, invoice: dict, account, owner) -> Result:
    """A paid invoice of a monthly gift: one gift row (and its cover row), once."""
    invoice_id = _id(invoice.get("id"))
    amount = as_amount(invoice.get("amount_paid"))
    currency = as_currency(invoice.get("currency"))
    if invoice_id is None or amount is None or amount <= 0 or currency is None:
        return Result(
            StripeEventOutcome.IGNORED,
            _("Nothing was paid on this invoice, or it has no id or currency."),
            amount_minor=amount,
            currency=currency,
        )
    if subscription_of(invoice) is None:
        return Result(StripeEventOutcome.IGNORED, _("This invoice is no monthly gift's."))
    monthly, problem = _owned_or_made(event, invoice, account, owner, amount, currency)
    if problem:
        problem.amount_minor, problem.currency = amount, currency
        return problem
    payment_intent = _id(invoice.get("payment_intent"))
    lock_payment(payment_intent)
    result = Result(StripeEventOutcome.DUPLICATE, "", monthly.organisation_id, amount, currency)
    keys = [Donation.stripe_invoice_id == invoice_id]
    if payment_intent:
        keys.append(Donation.stripe_payment_intent_id == payment_intent)
    for key in keys:
        if db.session.scalar(select(Donation.id).where(key).limit(1)) is not None:
            result.detail = _("This invoice is already in the ledger.")
            return result
    if currency != monthly.currency:
        result.outcome = StripeEventOutcome.ANOMALY
        result.detail = _(
            "The invoice is not in the monthly gift's currency; nothing was recorded."
        )
        return result
    gift_minor, cover_minor = covers.split_paid(amount, monthly.cover_minor)
    page = db.session.get(Page, monthly.page_id) if monthly.page_id else None
    first = monthly.pending_gift_id is not None and not db.session.scalar(
        select(Donation.id).where(Donation.pending_gift_id == monthly.pending_gift_id)
    )
    pending = db.session.get(PendingGift, monthly.pending_gift_id) if first else None
    email, _name = _details(invoice)
    gift = ledger.record_gift(
        page=page,
        cause=db.session.get(Cause, monthly.cause_id),
        is_for_cause=page is None and _gives_to_cause(monthly, invoice),
        project=db.session.get(Project, monthly.project_id) if monthly.project_id else None,
        amount_minor=gift_minor,
        donor_name=monthly.donor_name,
        # An erased donor's later months stay nameless, whatever Stripe says.
        donor_email="" if monthly.is_erased else (monthly.donor_email or email.lower()),
        message=as_text(pending.message, 500) if pending else "",
        is_anonymous=monthly.is_anonymous,
        created_at=_created(event),
        extra={
            "stripe_event_id": event["id"],
            "stripe_invoice_id": invoice_id,
            "stripe_payment_intent_id": payment_intent,
            "stripe_charge_id": _id(invoice.get("charge")),
            "stripe_account_id": account,
            "monthly_gift_id": monthly.id,
            # The first invoice pays the pending gift: its thank-you page finds it.
            "pending_gift_id": pending.id if pending else None,
        },
    )
    covers.record_cover(gift, cover_minor)
    if payment_intent:
        apply_parked(payment_intent)
    result.outcome = StripeEventOutcome.RECORDED
    if gift.is_unattributed:
        result.detail = _(
            "The monthly gift's page is closed: this month went to the cause as unattributed."
        )
    return result


def _gives_to_cause(monthly: MonthlyGift, invoice: dict) -> bool:
    """Whether the monthly gift was made to the cause itself (no page named):
    its months are the cause's own money, not unattributed."""
    if monthly.page_id is not None:
        return False
    pending = (
        db.session.get(PendingGift, monthly.pending_gift_id) if monthly.pending_gift_id else None
    )
    return names_no_page(metadata_of(invoice), pending)


def follow_subscription(event: dict, subscription: dict, account, owner) -> Result:
    """The subscription changed or ended: the monthly gift's status follows
    (canceled stays canceled, whatever older news arrives after)."""
    monthly, problem = _owned_or_made(event, subscription, account, owner, None, None)
    if problem:
        return problem
    status = STATUSES.get(
        "canceled"
        if event["type"] == "customer.subscription.deleted"
        else subscription.get("status")
    )
    result = Result(StripeEventOutcome.IGNORED, "", monthly.organisation_id)
    if status is None or monthly.status == MonthlyStatus.CANCELED or status == monthly.status:
        return result
    monthly.status = status
    if status == MonthlyStatus.CANCELED:
        monthly.canceled_at = _created(event) or utcnow()
    result.outcome = StripeEventOutcome.RECORDED
    return result


def _created(event: dict) -> datetime | None:
    created = as_amount(event.get("created"))
    if not created or created <= 0:
        return None
    try:
        return datetime.fromtimestamp(created, UTC)
    except (OverflowError, OSError, ValueError):
        return None


HANDLERS = {
    **dict.fromkeys(INVOICE_TYPES, record_invoice),
    **dict.fromkeys(SUBSCRIPTION_TYPES, follow_subscription),
}


def apply_parked_for(subscription_id: str, *, but: str | None = None) -> int:
    """Apply the invoice and subscription events parked before this
    subscription's monthly gift existed, in the order Stripe created them."""
    parked = [
        row
        for row in db.session.scalars(
            select(StripeEvent)
            .where(
                StripeEvent.outcome == StripeEventOutcome.ANOMALY,
                StripeEvent.resolved_at.is_(None),
                StripeEvent.type.in_(PARKED_TYPES),
                StripeEvent.payload.is_not(None),
            )
            .order_by(StripeEvent.stripe_created_at, StripeEvent.received_at, StripeEvent.id)
        )
        if row.id != but and subscription_of(row.payload) == subscription_id
    ]
    recorded = 0
    for row in parked:
        created = int(row.stripe_created_at.timestamp()) if row.stripe_created_at else None
        event = {"id": row.id, "type": row.type, "created": created}
        result = HANDLERS[row.type](event, row.payload, row.stripe_account_id, None)
        if result.outcome == StripeEventOutcome.ANOMALY:
            continue
        row.outcome, row.organisation_id = result.outcome, result.organisation_id
        row.detail = _("Applied when the monthly gift arrived.") + (
            f" {result.detail}" if result.detail else ""
        )
        row.resolved_at = utcnow()
        recorded += result.outcome == StripeEventOutcome.RECORDED
    return recorded


# --- the donor's mail -------------------------------------------------------------


def _announce(monthly: MonthlyGift) -> None:
    """The mail confirming the monthly gift, with its stop link (once)."""
    if not monthly.donor_email:
        return
    organisation = db.session.get(Organisation, monthly.organisation_id)
    link = absolute_url("monthly.stop", token=stop_token(monthly))
    with force_locale(monthly.locale or organisation.locale):
        subject = _("Your monthly gift to %(organisation)s", organisation=organisation.name)
        text = render_template(
            "monthly/started_mail.txt",
            monthly=monthly,
            organisation=organisation,
            link=link,
        )
    monthly_gift_started.send(
        monthly.donor_email,
        subject=subject,
        text=text,
        organisation_id=monthly.organisation_id,
        dedupe_key=f"monthly:{monthly.id}:started",
    )
