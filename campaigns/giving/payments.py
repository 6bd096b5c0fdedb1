"""Stripe events into the donation ledger: the one entry point for webhooks,
the demo's simulated payments and reconciliation.

``record_event`` is that entry: it runs ``process_event`` as its own unit of
work. ``process_event`` is idempotent and order-tolerant. It first inserts the
``StripeEvent`` row (its id is the primary key, so a replay is a duplicate),
then handles the event in a savepoint: a concurrent duplicate that slips past
the checks trips a unique key (event, checkout session, payment intent,
pending gift, refund cumulative, dispute) and is answered as a duplicate. It
never commits: ``record_event`` (or a caller with its own unit of work, as the
demo's refund request) starts the write transaction and commits once.

A Connect event (its ``account`` names an organisation's connected account) is
routed to the organisation holding that account, and its money may only land
there; an event of an account no organisation holds is an anomaly, kept with
its object (``campaigns.giving.connect``).
"""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from campaigns.giving import card_fingerprints, connect, covers
from campaigns.giving import ledger as services
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
from campaigns.giving.refunds import HANDLERS as LEDGER_HANDLERS
from campaigns.giving.refunds import PARKED_TYPES, apply_parked
from campaigns.inputs import as_text
from campaigns.monthly import webhooks as monthly
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.signals import first_answer, gift_attribution
from campaigns.unit_of_work import run_transaction
from extensions import db, dialect_insert

__all__ = ["StripeEventOutcome", "process_event", "record_event"]

log = logging.getLogger(__name__)

# Stripe's own ceiling for one payment (99,999,999 minor units): anything above
# is not a real payment and could overflow the totals.
STRIPE_MAX_AMOUNT = 99_999_999
CHECKOUT_PAID = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
# "Where it's most needed": a project metadata value that names no project.
NO_PROJECT = ("", "general", "none", "any")


def _attributed_link_id(code: str | None, page_id: int | None) -> int | None:
    """The share link the gift came through, as messaging's attribution answers."""
    return first_answer(gift_attribution, None, code=code, page_id=page_id)


def _id(value) -> str | None:
    return value if isinstance(value, str) and value else None


def donor_address(details: dict, pending: PendingGift | None) -> dict[str, str]:
    """The donor's postal address for the receipt: Stripe's billing address
    (``customer_details.address``), else what they typed on the give form.
    Any field may be missing, null or not a string: it is then left empty."""
    address = details.get("address")
    address = address if isinstance(address, dict) else {}
    lines = [as_text(address.get("line1"), 200), as_text(address.get("line2"), 200)]
    fields = {
        "donor_address_line": ", ".join(line for line in lines if line)[:200],
        "donor_postal_code": as_text(address.get("postal_code"), 20),
        "donor_city": as_text(address.get("city"), 100),
        "donor_country": _country(address.get("country")),
    }
    # A country alone (Stripe sends one even without billing address
    # collection) is no address: the typed one is better.
    if pending is not None and not _has_street(fields):
        typed = {name: getattr(pending, name) for name in fields}
        if _has_street(typed):
            return typed
    return fields


def _has_street(fields: dict) -> bool:
    return any(
        fields.get(name) for name in ("donor_address_line", "donor_postal_code", "donor_city")
    )


def _country(value) -> str:
    code = as_text(value, 2).upper()
    return code if re.fullmatch(r"[A-Z]{2}", code) and len(str(value).strip()) == 2 else ""


def _created_at(event: dict) -> datetime | None:
    created = event.get("created")
    if isinstance(created, int) and not isinstance(created, bool) and created > 0:
        try:
            return datetime.fromtimestamp(created, UTC)
        except (OverflowError, OSError, ValueError):  # far past year 9999
            return None
    return None


# Stripe's ids are short printable ASCII (``evt_1Nx…``; the demo's derive from an
# idempotency key): anything else (NUL, a surrogate, 300 characters) is no event.
EVENT_ID = re.compile(r"[\x21-\x7e]{1,255}")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_payload(value):
    """``value`` made storable, however it was signed: NUL removed and lone
    surrogates replaced in every string (neither fits PostgreSQL text or UTF-8),
    infinite or NaN numbers (JSON's ``1e400``) become None (PostgreSQL's JSON
    refuses them). Without this, such an event fails with a 500 that Stripe
    retries for days."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {clean_payload(k): clean_payload(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_payload(item) for item in value]
    return value


def process_event(event: dict) -> StripeEventOutcome:
    """Record what one Stripe event means for the ledger, exactly once.

    ``event`` is a Stripe event as a plain dict (``id``, ``type``, ``created``,
    ``data.object``). Returns recorded, duplicate, ignored or anomaly; the
    ``StripeEvent`` row keeps the outcome and a ``detail`` staff can read.
    """
    if not isinstance(event["id"], str) or not EVENT_ID.fullmatch(event["id"]):
        return StripeEventOutcome.IGNORED  # no Stripe event: nothing to keep it under
    event = clean_payload(event)
    event_id, event_type = event["id"], event["type"]
    account = connect.event_account(event)
    # The event's row, or nothing when its id is there already (a redelivery,
    # or a concurrent delivery that committed first): one statement.
    row = db.session.scalars(
        dialect_insert(StripeEvent)
        .values(
            id=event_id,
            type=str(event_type)[:100],
            outcome=StripeEventOutcome.IGNORED,
            stripe_created_at=_created_at(event),
            stripe_account_id=account,
        )
        .on_conflict_do_nothing(index_elements=[StripeEvent.id])
        .returning(StripeEvent)
    ).first()
    if row is None:
        return StripeEventOutcome.DUPLICATE
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    try:
        with db.session.begin_nested():
            result, owned = _route(event, obj, account)
    except IntegrityError:
        # A concurrent delivery of the same payment won a unique key: handled
        # again, the checks now see its row and answer duplicate. Any other
        # integrity error fails again and propagates: the caller rolls back and
        # Stripe retries, rather than the money being taken for a duplicate.
        with db.session.begin_nested():
            result, owned = _route(event, obj, account)
    row.outcome = result.outcome
    row.detail = result.detail
    row.organisation_id = result.organisation_id
    row.amount_minor = result.amount_minor
    row.currency = result.currency
    payment_intent = obj.get("payment_intent")
    row.stripe_payment_intent_id = payment_intent if isinstance(payment_intent, str) else None
    parked = event_type in PARKED_TYPES or event_type in monthly.PARKED_TYPES
    if result.outcome == StripeEventOutcome.ANOMALY and (parked or not owned):
        # Applied from this when its gift arrives; or, for an account nobody
        # holds, all there is of the event.
        row.payload = obj
    db.session.flush()
    return result.outcome


def record_event(event: dict) -> StripeEventOutcome:
    """Record one Stripe event in its own unit of work, committed (the webhook,
    reconciliation and the demo's test payment all come through here).

    A PostgreSQL deadlock is run again; a unique key lost to a concurrent
    delivery of the same event, committed first, is a duplicate. Any other
    integrity error propagates, rolled back, so that Stripe retries."""
    try:
        return run_transaction(lambda: process_event(event))
    except IntegrityError:
        if db.session.get(StripeEvent, event["id"]) is None:
            raise
        return StripeEventOutcome.DUPLICATE


def _route(event: dict, obj: dict, account: str | None) -> tuple[Result, bool]:
    """The event handled for the organisation owning its account (the site's
    own account: any organisation), and whether anyone owns it."""
    owner = connect.owner_of(account) if account else None
    if account and owner is None:
        return connect.unknown_account(account, obj), False
    return _handle(event, obj, account, owner), True


def _handle(event: dict, obj: dict, account: str | None, owner: Organisation | None) -> Result:
    match event["type"]:
        case "checkout.session.completed" if obj.get("mode") == "subscription":
            # A monthly gift started: its money comes with each paid invoice.
            return monthly.record_session(event, obj, account, owner)
        case "invoice.paid" | "invoice.payment_succeeded":
            return monthly.record_invoice(event, obj, account, owner)
        case "customer.subscription.updated" | "customer.subscription.deleted":
            return monthly.follow_subscription(event, obj, account, owner)
        case "checkout.session.completed" if obj.get("payment_status") != "paid":
            # Paid later by a delayed method: async_payment_succeeded records it.
            return Result(StripeEventOutcome.IGNORED, _("The session is not paid yet."))
        case "checkout.session.completed" | "checkout.session.async_payment_succeeded":
            return record_checkout(event, obj, account, owner)
        case "checkout.session.expired":
            return expire_pending(obj)
        case "payment_intent.succeeded":
            # Checkout is the source of gifts; its session event records this payment.
            return Result(StripeEventOutcome.IGNORED, _("Gifts are recorded from Checkout."))
        case (
            "charge.refunded"
            | "charge.dispute.created"
            | "charge.dispute.closed"
            | "refund.failed"
            | "charge.refund.updated"
            | "refund.updated"
            | "relais.balance_transaction"
        ):
            return LEDGER_HANDLERS[event["type"]](event["id"], obj, account)
        case "account.updated" | "account.application.deauthorized":
            return connect.handle_account_event(event, obj, owner)
        case _:
            return Result(StripeEventOutcome.IGNORED)


def _anomaly(detail: str, amount, currency, organisation_id: int | None = None) -> Result:
    return Result(
        StripeEventOutcome.ANOMALY,
        detail,
        organisation_id=organisation_id,
        amount_minor=as_amount(amount),
        currency=as_currency(currency),
    )


def _place(metadata: dict, pending: PendingGift | None):
    """The page, cause and project a paid session names (pending gift first)."""
    page = chosen_page(metadata, pending)
    cause = db.session.get(Cause, pending.cause_id) if pending else None
    cause = cause or by_slug(Cause, metadata.get("cause"))
    if cause is None and page is not None:
        cause = page.cause
    if page is not None and cause is not None and page.cause_id != cause.id:
        page = None  # metadata that disagree: the named cause keeps the money
    project = None
    if pending and pending.project_id:
        project = db.session.get(Project, pending.project_id)
    elif cause is not None and as_text(metadata.get("project"), 80).lower() not in NO_PROJECT:
        project = db.session.scalars(
            select(Project).where(
                Project.cause_id == cause.id, Project.slug == metadata.get("project")
            )
        ).first()
    return page, cause, project


def _metadata_and_pending(session: dict) -> tuple[dict, PendingGift | None]:
    """A Checkout Session's metadata and the pending gift it pays, if any."""
    metadata = session.get("metadata") if isinstance(session.get("metadata"), dict) else {}
    reference = _id(session.get("client_reference_id")) or _id(metadata.get("pending"))
    if not reference:
        return metadata, None
    return metadata, db.session.scalars(
        select(PendingGift).where(PendingGift.reference == reference)
    ).first()


def record_checkout(
    event: dict, session: dict, account: str | None = None, owner: Organisation | None = None
) -> Result:
    """A paid Checkout Session: one gift, however many events say so. Paid into
    ``owner``'s connected ``account``, it may only credit ``owner``'s causes."""
    session_id = _id(session.get("id"))
    payment_intent = _id(session.get("payment_intent"))
    amount, currency = session.get("amount_total"), session.get("currency")
    metadata, pending = _metadata_and_pending(session)
    if session_id is None:
        return _anomaly(_("The Checkout Session has no id."), amount, currency)
    lock_payment(payment_intent or session_id)
    keys = [Donation.stripe_checkout_session_id == session_id]
    if payment_intent:
        keys.append(Donation.stripe_payment_intent_id == payment_intent)
    if db.session.scalar(select(Donation.id).where(or_(*keys)).limit(1)) is not None:
        return Result(
            StripeEventOutcome.DUPLICATE,
            _("This payment is already in the ledger."),
            amount_minor=as_amount(amount),
            currency=as_currency(currency),
        )
    page, cause, project = _place(metadata, pending)
    organisation = (
        cause.organisation
        if cause
        else by_slug(Organisation, metadata.get("organisation") or metadata.get("org"))
    )
    org_id = organisation.id if organisation else (owner.id if owner else None)
    problem = _money_problem(amount, currency, organisation)
    if problem:
        return _anomaly(problem, amount, currency, org_id)
    if owner is not None and organisation is not None and organisation.id != owner.id:
        return connect.foreign_cause(owner, organisation, as_amount(amount), as_currency(currency))
    if cause is None:
        return _anomaly(
            _(
                "Paid money names no cause we know (metadata cause %(cause)s, page "
                "%(page)s); nothing was added to the totals. Staff must assign it.",
                cause=str(metadata.get("cause") or "-"),
                page=str(metadata.get("page") or "-"),
            ),
            amount,
            currency,
            org_id,
        )
    if pending and db.session.scalar(
        select(Donation.id).where(Donation.pending_gift_id == pending.id)
    ):
        # A second session paid for the same pending gift: real money, recorded
        # as its own gift; only the first one is linked to the pending gift.
        link = None
    else:
        link = pending
    details = session.get("customer_details")
    details = details if isinstance(details, dict) else {}
    typed_name = as_text(pending.donor_name if pending else "", 200)
    # The share link the donor came through: the session's metadata, else the
    # code the give form kept on the pending gift (messaging's attribution).
    share_code = as_text(metadata.get("share"), 20) or (pending.share_code if pending else None)
    share_link_id = _attributed_link_id(share_code, page.id if page else None)
    # What the donor added to cover the fees is paid in the same charge but
    # recorded as its own row (campaigns.giving.covers).
    gift_minor, cover_minor = covers.split_paid(
        amount, pending.cover_minor if pending else metadata.get("cover")
    )
    donation = services.record_gift(
        page=page,
        cause=cause,
        project=project,
        is_for_cause=page is None and names_no_page(metadata, pending),
        amount_minor=gift_minor,
        # The card holder's name (Stripe's) is for the receipt only: a donor who
        # typed no name is "Anonymous" on the public wall.
        donor_name=typed_name or as_text(details.get("name"), 200),
        donor_email=as_text(details.get("email") or session.get("customer_email"), 255)
        or as_text(pending.donor_email if pending else "", 255),
        message=as_text(pending.message if pending else "", 500),
        is_anonymous=not typed_name or bool(pending and pending.is_anonymous),
        created_at=_created_at(event),
        extra={
            "stripe_event_id": event["id"],
            "stripe_checkout_session_id": session_id,
            "stripe_payment_intent_id": payment_intent,
            "stripe_account_id": account,
            "pending_gift_id": link.id if link else None,
            "share_link_id": share_link_id,
            **donor_address(details, pending),
        },
    )
    covers.record_cover(donation, cover_minor)
    card_fingerprints.tell(donation, card_fingerprints.of_session(session))
    late = link is not None and link.status == PendingGiftStatus.EXPIRED
    if late:
        # Paid after we marked it expired: the money is real, so it is recorded.
        log.warning(
            "payment for the expired pending gift %s recorded (event %s)",
            link.reference,
            event["id"],
            extra={"pending_gift": link.reference, "stripe_event_id": event["id"]},
        )
    if link:
        pending.status = PendingGiftStatus.PAID
        pending.stripe_checkout_session_id = pending.stripe_checkout_session_id or session_id
    if payment_intent:
        apply_parked(payment_intent)
    detail = _("Paid after its pending gift had expired; recorded all the same.") if late else ""
    if donation.is_unattributed:
        missing = _(
            "The page %(page)s is missing or closed: the gift went to the cause as unattributed.",
            page=str(metadata.get("page") or "-"),
        )
        detail = f"{missing} {detail}".strip()
    return Result(StripeEventOutcome.RECORDED, detail, org_id, amount, donation.currency)


def expire_pending(session: dict) -> Result:
    """The donor never paid: their pending gift stops showing as in progress."""
    _metadata, pending = _metadata_and_pending(session)
    if pending is None or pending.status != PendingGiftStatus.PENDING:
        return Result(StripeEventOutcome.IGNORED)
    pending.status = PendingGiftStatus.EXPIRED
    return Result(StripeEventOutcome.IGNORED, _("The pending gift expired unpaid."))


def _money_problem(amount, currency, organisation: Organisation | None) -> str | None:
    if as_amount(amount) is None or amount <= 0:
        return _("The amount paid is missing or not a positive whole number.")
    if amount > STRIPE_MAX_AMOUNT:
        return _("The amount paid is larger than Stripe allows; nothing was recorded.")
    code = as_currency(currency)
    if code is None:
        return _("The currency %(currency)s is not an ISO 4217 code.", currency=str(currency))
    if organisation is not None and code != organisation.currency:
        return _(
            "The gift was paid in %(currency)s but %(organisation)s counts in "
            "%(expected)s; nothing was added to the totals.",
            currency=code,
            organisation=organisation.name,
            expected=organisation.currency,
        )
    return None
