"""Stripe's webhook: verify the signature on the raw body, record, answer fast."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from campaigns.giving import stripe_gateway
from campaigns.giving.payments import record_event
from campaigns.runtime import metrics

bp = Blueprint("webhooks", __name__)


def _refuse(message: str):
    return jsonify({"error": message, "status": 400}), 400


@bp.post("/webhooks/stripe")
def stripe_webhook():
    """One Stripe event: 400 and nothing written unless Stripe signed it."""
    started, outcome = time.perf_counter(), "error"
    try:
        response, outcome = _receive()
        return response
    finally:
        metrics.observe_webhook(outcome, time.perf_counter() - started)


def _receive():
    """The answer to one delivery, and its outcome for the metrics."""
    try:
        data = stripe_gateway.verify_event(
            request.get_data(), request.headers.get("Stripe-Signature")
        )
    except stripe_gateway.GatewayNotConfigured:
        message = _("Webhooks are not configured: set STRIPE_WEBHOOK_SECRET and restart Relais.")
        return _refuse(message), "not_configured"
    except stripe_gateway.BadSignature:
        return _refuse(_("The Stripe signature is missing, wrong or too old.")), "bad_signature"
    except stripe_gateway.BadPayload:
        return _refuse(_("The body is not a Stripe event in JSON.")), "bad_payload"
    # Not a duplicate and still failing: the 500 makes Stripe retry ("error").
    outcome = record_event(data)
    return jsonify({"received": True, "outcome": outcome.value}), outcome.value
