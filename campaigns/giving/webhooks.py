"""Stripe's webhook: verify the signature on the raw body, record, answer fast."""

from __future__ import annotations

import stripe
from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from campaigns.giving.models import StripeEvent
from campaigns.giving.payments import StripeEventOutcome, process_event
from extensions import db, run_transaction

bp = Blueprint("webhooks", __name__)


def _refuse(message: str):
    return jsonify({"error": message, "status": 400}), 400


@bp.post("/webhooks/stripe")
def stripe_webhook():
    """One Stripe event: 400 and nothing written unless Stripe signed it."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return _refuse(
            _("Webhooks are not configured: set STRIPE_WEBHOOK_SECRET and restart Relais.")
        )
    try:
        event = stripe.Webhook.construct_event(
            request.get_data(), request.headers.get("Stripe-Signature"), secret
        )
        data = event.to_dict()
        if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
            raise ValueError("no event id or type")
    except stripe.SignatureVerificationError:
        return _refuse(_("The Stripe signature is missing, wrong or too old."))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return _refuse(_("The body is not a Stripe event in JSON."))
    try:
        outcome = run_transaction(lambda: process_event(data))
    except IntegrityError:
        if db.session.get(StripeEvent, data["id"]) is None:
            raise  # not a duplicate: answer 500 so that Stripe retries
        outcome = StripeEventOutcome.DUPLICATE  # committed by a concurrent delivery
    return jsonify({"received": True, "outcome": outcome.value})
