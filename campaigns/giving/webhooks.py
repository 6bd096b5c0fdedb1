"""Stripe's webhook: verify the signature on the raw body, record, answer fast."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from campaigns.giving import stripe_gateway
from campaigns.giving.payments import record_event

bp = Blueprint("webhooks", __name__)


def _refuse(message: str):
    return jsonify({"error": message, "status": 400}), 400


@bp.post("/webhooks/stripe")
def stripe_webhook():
    """One Stripe event: 400 and nothing written unless Stripe signed it."""
    try:
        data = stripe_gateway.verify_event(
            request.get_data(), request.headers.get("Stripe-Signature")
        )
    except stripe_gateway.GatewayNotConfigured:
        return _refuse(
            _("Webhooks are not configured: set STRIPE_WEBHOOK_SECRET and restart Relais.")
        )
    except stripe_gateway.BadSignature:
        return _refuse(_("The Stripe signature is missing, wrong or too old."))
    except stripe_gateway.BadPayload:
        return _refuse(_("The body is not a Stripe event in JSON."))
    # Not a duplicate and still failing: the 500 makes Stripe retry.
    outcome = record_event(data)
    return jsonify({"received": True, "outcome": outcome.value})
