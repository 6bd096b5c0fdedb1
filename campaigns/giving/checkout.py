"""Paying for a pending gift: the Checkout Session's payload, handed to the
Stripe gateway (``campaigns.giving.stripe_gateway``: Stripe, or the demo's
test payment when no Stripe key is set).

Either way the browser only ever starts a payment; the money is recorded when
the ``checkout.session.completed`` event reaches ``campaigns.giving.payments``. The
demo's refunds (``campaigns.giving.refund_requests``) use ``refunded_event`` the same way.
"""

from __future__ import annotations

import time

from flask_babel import force_locale
from flask_babel import gettext as _

from campaigns.giving import connect, fees, stripe_gateway
from campaigns.giving.models import Donation, PendingGift
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.pages.models import Page
from extensions import db

STRIPE_LOCALES = ("fr", "en")


class CheckoutError(Exception):
    """Stripe could not start the payment; ``message`` tells the donor what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def metadata_for(pending: PendingGift) -> dict[str, str]:
    """What the webhook needs to credit the right page even without the
    pending gift: slugs, never ids (Stripe shows them to staff)."""
    page = db.session.get(Page, pending.page_id) if pending.page_id else None
    cause = db.session.get(Cause, pending.cause_id)
    project = db.session.get(Project, pending.project_id) if pending.project_id else None
    return {
        "page": page.slug if page else "",
        "cause": cause.slug,
        "project": project.slug if project else "",
        "share": pending.share_code or "",
        "pending": pending.reference,
        # What the donor added to cover the fees, recorded apart from the gift.
        "cover": str(pending.cover_minor or 0),
        "organisation": db.session.get(Organisation, pending.organisation_id).slug,
    }


def product_name(pending: PendingGift) -> str:
    page = db.session.get(Page, pending.page_id) if pending.page_id else None
    cause = db.session.get(Cause, pending.cause_id)
    with force_locale(pending.locale):
        if page is None:
            return _("Gift to “%(cause)s”", cause=cause.title)
        return _("Gift to “%(page)s” (%(cause)s)", page=page.title, cause=cause.title)


def cover_name(pending: PendingGift) -> str:
    with force_locale(pending.locale):
        return _("Covering the fees, so all of the gift reaches the organisation")


def line_items(pending: PendingGift) -> list[dict]:
    """The gift and, on its own line (the donor sees it before paying), the
    fee cover; each monthly for a monthly gift."""
    lines = [(pending.amount_minor, product_name(pending))]
    if pending.cover_minor:
        lines.append((pending.cover_minor, cover_name(pending)))
    items = []
    for amount, name in lines:
        price: dict = {
            "currency": pending.currency.lower(),
            "unit_amount": amount,
            "product_data": {"name": name},
        }
        if pending.is_monthly:
            price["recurring"] = {"interval": "month"}
        items.append({"price_data": price, "quantity": 1})
    return items


def session_params(pending: PendingGift, success_url: str, cancel_url: str) -> dict:
    """The Checkout Session that pays for ``pending``, as Stripe's API takes it:
    one payment, or a monthly subscription (``pending.is_monthly``) whose every
    invoice carries the same metadata (``subscription_data``)."""
    metadata = metadata_for(pending)
    params: dict = {
        "line_items": line_items(pending),
        "client_reference_id": pending.reference,
        "metadata": metadata,
        "locale": pending.locale if pending.locale in STRIPE_LOCALES else "auto",
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if pending.is_monthly:
        params["mode"] = "subscription"
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["mode"] = "payment"
        params["submit_type"] = "donate"
        params["payment_intent_data"] = {"metadata": metadata}
    if pending.donor_email:
        params["customer_email"] = pending.donor_email
    organisation = db.session.get(Organisation, pending.organisation_id)
    if organisation.issues_tax_receipts:
        # The reçu fiscal names the donor's postal address: Stripe asks for it.
        params["billing_address_collection"] = "required"
    return params


def start_payment(pending: PendingGift, success_url: str, cancel_url: str) -> str:
    """Open the payment of ``pending``; return the URL to send the donor to
    (Stripe Checkout, or the demo's test payment page). Raises CheckoutError."""
    organisation = db.session.get(Organisation, pending.organisation_id)
    try:
        session = stripe_gateway.gateway().create_checkout_session(
            session_params(pending, success_url, cancel_url),
            # The same pending gift never opens two sessions, even when the
            # donor double-clicks or the library retries after a timeout.
            idempotency_key=f"pending-gift-{pending.reference}",
            # The organisation's own Stripe account once connected (Connect).
            stripe_account=connect.account_for(organisation),
        )
    except stripe_gateway.GatewayNotConfigured:
        raise CheckoutError(
            _(
                "Online payments are not set up yet on this site. "
                "Please come back later: nothing was charged."
            )
        ) from None
    except stripe_gateway.GatewayError as exc:
        raise CheckoutError(
            _(
                "The payment service did not answer. Nothing was charged; "
                "please try again in a minute."
            )
        ) from exc
    pending.stripe_checkout_session_id = session["id"]
    return session["url"]


def pending_address(pending: PendingGift) -> dict | None:
    """The address the donor typed on the demo's give form, shaped like
    Stripe's ``customer_details.address`` (None when they typed none)."""
    if not (pending.donor_address_line or pending.donor_postal_code or pending.donor_city):
        return None
    return {
        "city": pending.donor_city or None,
        "country": pending.donor_country or None,
        "line1": pending.donor_address_line or None,
        "line2": None,
        "postal_code": pending.donor_postal_code or None,
        "state": None,
    }


def completed_event(pending: PendingGift, *, created: int | None = None) -> dict:
    """A ``checkout.session.completed`` event for a paid pending gift, shaped
    like the one Stripe sends (the demo's test payment and the tests use it).

    Its ids derive from the pending gift, so paying twice is the same event."""
    created = created or int(time.time())
    session_id = pending.stripe_checkout_session_id or f"cs_test_{pending.reference}"
    metadata = metadata_for(pending)
    return {
        "id": f"evt_test_{pending.reference}",
        "object": "event",
        "api_version": stripe_gateway.API_VERSION,
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": pending.amount_minor + pending.cover_minor,
                "amount_total": pending.amount_minor + pending.cover_minor,
                "client_reference_id": pending.reference,
                "created": created,
                "currency": pending.currency.lower(),
                "customer": None,
                "customer_creation": "if_required",
                "customer_details": {
                    "address": pending_address(pending),
                    "email": pending.donor_email or None,
                    "name": pending.donor_name or None,
                    "phone": None,
                    "tax_exempt": "none",
                    "tax_ids": [],
                },
                "customer_email": pending.donor_email or None,
                "expires_at": created + 24 * 3600,
                "livemode": False,
                "locale": pending.locale,
                "metadata": metadata,
                "mode": "payment",
                "payment_intent": f"pi_test_{pending.reference}",
                "payment_method_types": ["card"],
                "payment_status": "paid",
                "status": "complete",
                "submit_type": "donate",
                "url": None,
            }
        },
    }


def demo_fee_event(pending: PendingGift, *, created: int | None = None) -> dict:
    """The fee the record-fees job would read from Stripe for the demo's test
    payment of ``pending`` (a ``fees.FEE_EVENT``; the demo has no Stripe to ask)."""
    txn = fees.demo_balance_transaction(
        f"txn_test_{pending.reference}",
        pending.amount_minor + pending.cover_minor,
        pending.currency,
        created=created,
    )
    txn["source"] = f"ch_test_{pending.reference}"
    return fees.fee_event(txn, payment_intent=f"pi_test_{pending.reference}", account=None)


def refunded_event(
    gift: Donation,
    cumulative_minor: int,
    amount_minor: int,
    key: str,
    refund_id: str,
    *,
    created: int | None = None,
) -> dict:
    """The ``charge.refunded`` event Stripe would send after a refund of a gift
    (the demo's stand-in for Stripe, as ``completed_event`` is for a payment).

    ``cumulative_minor`` is the charge's ``amount_refunded`` after this refund;
    the event id derives from the refund's idempotency key, so the same request
    never lands twice."""
    created = created or int(time.time())
    charge_id = gift.stripe_charge_id or f"ch_test_{gift.stripe_payment_intent_id}"
    currency = gift.currency.lower()
    return {
        "id": f"evt_test_{key}",
        "object": "event",
        "api_version": stripe_gateway.API_VERSION,
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": key},
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": charge_id,
                "object": "charge",
                "amount": gift.amount_minor,
                "amount_captured": gift.amount_minor,
                "amount_refunded": cumulative_minor,
                "captured": True,
                "created": int(gift.created_at.timestamp()) if gift.created_at else created,
                "currency": currency,
                "livemode": False,
                "metadata": {},
                "paid": True,
                "payment_intent": gift.stripe_payment_intent_id,
                "refunded": cumulative_minor >= gift.amount_minor,
                "refunds": {
                    "object": "list",
                    "data": [
                        {
                            "id": refund_id,
                            "object": "refund",
                            "amount": amount_minor,
                            "charge": charge_id,
                            "created": created,
                            "currency": currency,
                            "metadata": {"relais_donation": str(gift.id)},
                            "payment_intent": gift.stripe_payment_intent_id,
                            "reason": None,
                            "status": "succeeded",
                        }
                    ],
                    "has_more": False,
                    "total_count": 1,
                    "url": f"/v1/charges/{charge_id}/refunds",
                },
                "status": "succeeded",
            }
        },
    }
