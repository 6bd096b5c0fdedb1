"""Stripe objects with every field Stripe sends, for signed webhook tests.

The field sets follow Stripe's own example objects (stripe/openapi,
``openapi/fixtures3.json``); parameters cover what tests vary.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time

import stripe

_counter = itertools.count(1)


def stripe_id(prefix: str) -> str:
    """A fresh id in Stripe's shape, e.g. 'pi_3Q8x…'."""
    return f"{prefix}_{next(_counter):04d}{secrets.token_hex(10)}"


def _address() -> dict:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def event(
    obj: dict,
    event_type: str,
    *,
    event_id: str | None = None,
    created=None,
    account: str | None = None,
) -> dict:
    """An event (snapshot payload) wrapping ``obj``; with ``account``, a Connect
    event of that connected account (Stripe puts its id at the top level)."""
    wrapped = {
        "id": event_id or stripe_id("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account:
        wrapped["account"] = account
    return wrapped


def checkout_session(
    *,
    amount: int | None = 2500,
    currency: str | None = "eur",
    page: str = "",
    cause: str = "",
    project: str = "",
    share: str = "",
    reference: str | None = None,
    email: str = "donor@example.org",
    name: str | None = "Ada Donor",
    payment_status: str = "paid",
    session_id: str | None = None,
    payment_intent: str | None = None,
    created: int | None = None,
    address: dict | None = None,
) -> dict:
    """A completed Checkout Session in payment mode. ``address`` fills
    ``customer_details.address`` (Stripe's fields: line1, line2, postal_code,
    city, state, country); only its country is set otherwise."""
    session_id = session_id or stripe_id("cs_test")
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": True},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "status": None, "provider": None},
        "billing_address_collection": None,
        "cancel_url": "https://relais.example/p/page/give",
        "client_reference_id": reference,
        "client_secret": None,
        "collected_information": {
            "shipping_details": None,
            "business_name": None,
            "individual_name": None,
        },
        "consent": None,
        "consent_collection": None,
        "created": created or int(time.time()) - 60,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": {
            "address": {**_address(), "country": "FR", **(address or {})},
            "email": email,
            "name": name,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
            "business_name": None,
            "individual_name": None,
        },
        "customer_email": None,
        "discounts": [],
        "expires_at": int(time.time()) + 86400,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": "fr",
        "managed_payments": {"enabled": False},
        "metadata": {"page": page, "cause": cause, "project": project, "share": share},
        "mode": "payment",
        "origin_context": None,
        "payment_intent": payment_intent or stripe_id("pi"),
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "complete",
        "submit_type": "donate",
        "subscription": None,
        "success_url": "https://relais.example/p/page/thanks",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
        "wallet_options": None,
    }


def payment_intent(session: dict, *, status: str = "succeeded") -> dict:
    """The PaymentIntent a Checkout Session created (same metadata)."""
    amount = session["amount_total"]
    return {
        "id": session["payment_intent"],
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount if status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{session['payment_intent']}_secret_{secrets.token_hex(8)}",
        "confirmation_method": "automatic",
        "created": session["created"],
        "currency": session["currency"],
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": stripe_id("ch"),
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": dict(session["metadata"]),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": stripe_id("pm"),
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(
    charge_id: str,
    payment_intent_id: str | None,
    amount: int,
    *,
    currency: str = "eur",
    refund_id: str | None = None,
    created: int | None = None,
) -> dict:
    return {
        "id": refund_id or stripe_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": stripe_id("txn"),
        "charge": charge_id,
        "created": created or int(time.time()),
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": {},
        "payment_intent": payment_intent_id,
        "payment_method": None,
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def charge(
    *,
    payment_intent_id: str | None,
    amount: int = 2500,
    amount_refunded: int = 0,
    refund_amounts: list[int] | None = None,
    currency: str = "eur",
    charge_id: str | None = None,
    email: str = "donor@example.org",
) -> dict:
    """A card charge; ``refund_amounts`` fills its refunds list (newest first)."""
    charge_id = charge_id or stripe_id("ch")
    refunds = [
        refund(charge_id, payment_intent_id, a, currency=currency) for a in refund_amounts or []
    ]
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": stripe_id("txn"),
        "billing_details": {
            "address": _address(),
            "email": email,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "RELAIS",
        "captured": True,
        "created": int(time.time()) - 120,
        "currency": currency,
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": payment_intent_id,
        "payment_method": stripe_id("pm"),
        "payment_method_details": {
            "card": {
                "amount_authorized": amount,
                "authorization_code": None,
                "brand": "visa",
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "pass",
                },
                "country": "FR",
                "exp_month": 8,
                "exp_year": 2030,
                "extended_authorization": {"status": "disabled"},
                "fingerprint": "AOB934RVNwzk6xtn",
                "funding": "credit",
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": "4242",
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": "visa",
                "network_token": {"used": False},
                "network_transaction_id": None,
                "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": None,
                "transaction_link_id": None,
                "wallet": None,
            },
            "type": "card",
        },
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{secrets.token_urlsafe(24)}",
        "refunded": amount_refunded >= amount,
        "refunds": {
            "object": "list",
            "data": refunds,
            "has_more": False,
            "total_count": len(refunds),
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


def dispute(
    *,
    charge_id: str,
    payment_intent_id: str | None,
    amount: int = 2500,
    currency: str = "eur",
    status: str = "needs_response",
    dispute_id: str | None = None,
) -> dict:
    return {
        "id": dispute_id or stripe_id("dp"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge_id,
        "created": int(time.time()),
        "currency": currency,
        "enhanced_eligibility_types": [],
        "evidence": dict.fromkeys(EVIDENCE_FIELDS) | {"enhanced_evidence": {}},
        "evidence_details": {
            "due_by": int(time.time()) + 14 * 86400,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent_id,
        "payment_method_details": {
            "card": {
                "brand": "visa",
                "case_type": "chargeback",
                "network_reason_code": "10.4",
                "network": "visa",
            },
            "type": "card",
        },
        "reason": "fraudulent",
        "status": status,
    }


def balance_transaction(
    *,
    amount: int = 2500,
    fee: int = 63,
    currency: str = "eur",
    source: str | None = None,
    txn_type: str = "charge",
    txn_id: str | None = None,
    created: int | None = None,
) -> dict:
    """A balance transaction with Stripe's processing fee in ``fee_details``."""
    return {
        "id": txn_id or stripe_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": int(time.time()) + 7 * 86400,
        "balance_type": "payments",
        "created": created or int(time.time()) - 60,
        "currency": currency,
        "description": None,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        if fee
        else [],
        "net": amount - fee,
        "reporting_category": "charge" if txn_type == "charge" else txn_type,
        "source": source or stripe_id("ch"),
        "status": "pending",
        "type": txn_type,
    }


def paid_intent(session: dict, txn: dict | None, *, charge_id: str | None = None) -> dict:
    """The PaymentIntent of a paid session as Stripe answers it with
    ``expand[]=latest_charge.balance_transaction`` (``txn`` None: not settled)."""
    intent = payment_intent(session)
    latest = charge(
        payment_intent_id=session["payment_intent"],
        amount=session["amount_total"],
        charge_id=charge_id or (txn["source"] if txn else None),
    )
    latest["balance_transaction"] = txn
    intent["latest_charge"] = latest
    return intent


def account(
    account_id: str | None = None,
    *,
    charges_enabled: bool = False,
    details_submitted: bool = False,
    country: str = "FR",
) -> dict:
    """A connected account (Standard: full dashboard), after Stripe's fixture."""
    due = [] if charges_enabled else ["external_account", "tos_acceptance.date"]
    return {
        "id": account_id or stripe_id("acct"),
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "name": None,
            "product_description": None,
            "support_address": _address(),
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": None,
        "capabilities": {
            "card_payments": "active" if charges_enabled else "inactive",
            "transfers": "active" if charges_enabled else "inactive",
        },
        "charges_enabled": charges_enabled,
        "controller": {"type": "account"},
        "country": country,
        "created": int(time.time()) - 3600,
        "default_currency": "eur",
        "details_submitted": details_submitted,
        "email": "tresorerie@example.org",
        "external_accounts": {"data": [], "has_more": False, "object": "list", "url": ""},
        "future_requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": [],
            "disabled_reason": None,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        },
        "metadata": {},
        "payouts_enabled": charges_enabled,
        "requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": due,
            "disabled_reason": None if charges_enabled else "requirements.past_due",
            "errors": [],
            "eventually_due": due,
            "past_due": [],
            "pending_verification": [],
        },
        "settings": {
            "dashboard": {"display_name": None, "timezone": "Europe/Paris"},
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 7, "interval": "daily"},
                "statement_descriptor": None,
            },
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": "standard",
    }


def account_link(account_id: str) -> dict:
    return {
        "object": "account_link",
        "created": int(time.time()),
        "expires_at": int(time.time()) + 300,
        "url": f"https://connect.stripe.com/setup/s/{account_id}/{secrets.token_urlsafe(9)}",
    }


def signed(payload: dict | str, secret: str, *, timestamp: int | None = None) -> tuple[str, dict]:
    """The JSON body and the headers Stripe would send for it."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


def subscription(
    *,
    subscription_id: str | None = None,
    customer: str | None = None,
    status: str = "active",
    metadata: dict | None = None,
    amount: int = 1000,
    currency: str = "eur",
) -> dict:
    """A subscription (``subscription`` in Stripe's OpenAPI fixtures), one
    monthly item of ``amount``."""
    sub_id = subscription_id or stripe_id("sub")
    now = int(time.time())
    return {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": now,
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": now if status == "canceled" else None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer or stripe_id("cus"),
        "days_until_due": None,
        "default_payment_method": None,
        "description": None,
        "discounts": [],
        "ended_at": now if status == "canceled" else None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": stripe_id("si"),
                    "object": "subscription_item",
                    "price": {
                        "id": stripe_id("price"),
                        "object": "price",
                        "currency": currency,
                        "recurring": {"interval": "month", "interval_count": 1},
                        "type": "recurring",
                        "unit_amount": amount,
                    },
                    "quantity": 1,
                    "subscription": sub_id,
                }
            ],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": metadata or {},
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": now,
        "status": status,
        "test_clock": None,
        "trial_end": None,
        "trial_start": None,
    }


def invoice(
    *,
    subscription_id: str,
    amount: int = 1000,
    currency: str = "eur",
    metadata: dict | None = None,
    invoice_id: str | None = None,
    customer: str | None = None,
    email: str = "donor@example.org",
    name: str | None = "Ada Donor",
    payment_intent: str | None = None,
    billing_reason: str = "subscription_cycle",
) -> dict:
    """A paid invoice of a subscription (``invoice`` in Stripe's OpenAPI
    fixtures, API 2024-06-20: ``subscription``, ``payment_intent``, ``charge``
    and ``subscription_details.metadata`` at the top level)."""
    now = int(time.time())
    return {
        "id": invoice_id or stripe_id("in"),
        "object": "invoice",
        "account_country": "FR",
        "account_name": "Relais test",
        "amount_due": amount,
        "amount_paid": amount,
        "amount_remaining": 0,
        "attempt_count": 1,
        "attempted": True,
        "auto_advance": False,
        "billing_reason": billing_reason,
        "charge": stripe_id("ch"),
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer or stripe_id("cus"),
        "customer_address": None,
        "customer_email": email,
        "customer_name": name,
        "description": None,
        "hosted_invoice_url": None,
        "lines": {"object": "list", "data": [], "has_more": False, "url": "/v1/invoices/lines"},
        "livemode": False,
        "metadata": {},
        "number": None,
        "paid": True,
        "paid_out_of_band": False,
        "payment_intent": payment_intent or stripe_id("pi"),
        "period_end": now,
        "period_start": now,
        "status": "paid",
        "status_transitions": {"paid_at": now, "finalized_at": now},
        "subscription": subscription_id,
        "subscription_details": {"metadata": metadata or {}},
        "subtotal": amount,
        "total": amount,
    }


def subscription_session(
    *,
    subscription_id: str | None = None,
    customer: str | None = None,
    metadata: dict | None = None,
    amount: int = 1000,
    **kw,
) -> dict:
    """A completed Checkout Session in subscription mode (Stripe's fixture
    object as ``checkout_session``): no payment intent of its own, the
    subscription and its first invoice named; the money comes with the invoice."""
    session = checkout_session(amount=amount, **kw)
    session.update(
        mode="subscription",
        payment_intent=None,
        submit_type=None,
        subscription=subscription_id or stripe_id("sub"),
        customer=customer or stripe_id("cus"),
        invoice=stripe_id("in"),
    )
    if metadata is not None:
        session["metadata"] = metadata
    return session
