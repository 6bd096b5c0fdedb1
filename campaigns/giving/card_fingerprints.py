"""The card a Stripe payload names, when it names one: Stripe's fingerprint
(``payment_method_details.card.fingerprint``, the same for one card on one
Stripe account). Read from what Stripe sent anyway — a charge, a
PaymentIntent with its charge, a Checkout Session with its PaymentIntent
expanded — never asked for: the gift's path makes no network call for it.
Told to whoever listens (``card_seen``: campaigns' fairplay checks)."""

from __future__ import annotations

from campaigns.giving.models import Donation
from campaigns.signals import card_seen


def _text(value) -> str:
    return value if isinstance(value, str) and 0 < len(value) <= 64 else ""


def of_charge(charge) -> str:
    """A charge's card fingerprint, or ""."""
    if not isinstance(charge, dict):
        return ""
    details = charge.get("payment_method_details")
    card = details.get("card") if isinstance(details, dict) else None
    return _text(card.get("fingerprint")) if isinstance(card, dict) else ""


def of_payment_intent(intent) -> str:
    """A PaymentIntent's card fingerprint (its ``latest_charge`` expanded, or
    the older ``charges`` list), or ""."""
    if not isinstance(intent, dict):
        return ""
    found = of_charge(intent.get("latest_charge"))
    charges = intent.get("charges")
    data = charges.get("data") if isinstance(charges, dict) else None
    for charge in data if isinstance(data, list) else ():
        found = found or of_charge(charge)
    return found


def of_session(session) -> str:
    """A Checkout Session's card fingerprint (its PaymentIntent expanded), or ""."""
    return of_payment_intent(session.get("payment_intent")) if isinstance(session, dict) else ""


def tell(gift: Donation, fingerprint: str) -> None:
    """Say which card paid ``gift``, when a payload said so."""
    if fingerprint and gift is not None:
        card_seen.send(gift, fingerprint=fingerprint)
