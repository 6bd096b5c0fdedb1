"""What every handler of an event that follows a gift shares (refunds,
disputes, fees): the outcome it reports, checked amounts and currencies, the
payment's lock, and the gift it belongs to, or a parked anomaly while that
gift has not arrived (``refunds.apply_parked`` applies it then). And what the
events that make a gift (a paid session, a monthly invoice) share: the page
the donor chose."""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import list_currencies
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, text

from campaigns.giving.models import (
    COST_KINDS,
    COVER_KINDS,
    Donation,
    DonationKind,
    PendingGift,
    StripeEventOutcome,
)
from campaigns.inputs import as_text
from campaigns.pages.models import Page
from extensions import db

MAX_MINOR = 2**63 - 1


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
    """What the gift still holds after its refunds, disputes and reversals (its
    fees are what collecting it cost, not money taken back from it; the fee
    cover the donor added is held apart: ``cover_held``)."""
    children = db.session.scalar(
        select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
            Donation.original_id == gift.id, Donation.kind.not_in((*COST_KINDS, *COVER_KINDS))
        )
    )
    return gift.amount_minor + int(children)


def cover_held(gift: Donation) -> int:
    """What is left of the fee cover paid with ``gift`` (campaigns.giving.covers)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
                Donation.original_id == gift.id, Donation.kind.in_(COVER_KINDS)
            )
        )
    )


def park(kind: str, amount: int | None, currency: str | None) -> Result:
    """No gift yet: ``process_event`` keeps the event's object on its row, and
    ``apply_parked`` applies it when the gift is recorded."""
    return Result(
        StripeEventOutcome.ANOMALY,
        _(
            "No gift for this payment yet: the %(kind)s will be applied when the gift is recorded.",
            kind=kind,
        ),
        amount_minor=amount,
        currency=currency,
    )


def gift_for(
    obj: dict,
    kind: str,
    amount: int | None,
    currency: str | None,
    charge_id,
    account: str | None = None,
) -> tuple[Donation | None, Result | None]:
    """The gift an event's object follows, locked, or the Result to answer
    with instead: parked when the gift has not arrived, an anomaly when the
    currency or the Stripe account differ from the gift's."""
    payment_intent = obj.get("payment_intent")
    payment_intent = payment_intent if isinstance(payment_intent, str) else None
    charge_id = charge_id if isinstance(charge_id, str) else None
    lock_payment(payment_intent or charge_id)
    gift = find_gift(payment_intent, charge_id)
    if gift is None:
        return None, park(kind, amount, currency)
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
    if account != gift.stripe_account_id:
        # Payment ids are Stripe-wide: this is a misrouted or forged pairing,
        # never money of this gift's account.
        return None, Result(
            StripeEventOutcome.ANOMALY,
            _(
                "The %(kind)s comes from the Stripe account %(account)s but the gift was "
                "paid into %(expected)s; nothing was recorded.",
                kind=kind,
                account=account or _("the site's own"),
                expected=gift.stripe_account_id or _("the site's own"),
            ),
            organisation_id=gift.organisation_id,
            amount_minor=amount,
            currency=currency,
        )
    return gift, None


# --- what a gift's event names ------------------------------------------------------


def by_slug(model, slug) -> object | None:
    """The row of ``model`` with this slug, or None (a slug that is no string too)."""
    if not isinstance(slug, str) or not slug:
        return None
    return db.session.scalars(select(model).where(model.slug == slug)).first()


def chosen_page(metadata: dict, pending: PendingGift | None) -> Page | None:
    """The page a paid session or invoice names: our own record of what the
    donor chose first (no page there is a gift to the cause itself), else the
    signed metadata."""
    if pending is not None:
        return db.session.get(Page, pending.page_id) if pending.page_id else None
    return by_slug(Page, metadata.get("page"))


def names_no_page(metadata: dict, pending: PendingGift | None) -> bool:
    """Whether the donor gave to the cause itself: their pending gift, else the
    signed metadata, names no page (a page named but missing or closed makes
    the money unattributed instead)."""
    if pending is not None:
        return pending.page_id is None
    return not as_text(metadata.get("page"), 200)
