"""The events Stripe would send for a monthly gift paid on the demo's test
payment page (as ``giving.checkout.completed_event`` is for one payment):
the subscription-mode session, and each month's paid invoice. The tests build
theirs on Stripe's own fixture objects (tests/stripe_objects.py)."""

from __future__ import annotations

import time

from campaigns.giving import fees, stripe_gateway
from campaigns.giving.checkout import completed_event, metadata_for
from campaigns.giving.models import PendingGift


def subscription_id(pending: PendingGift) -> str:
    return f"sub_test_{pending.reference}"


def session_event(pending: PendingGift, *, created: int | None = None) -> dict:
    """``checkout.session.completed`` of a subscription-mode session."""
    event = completed_event(pending, created=created)
    event["id"] = f"evt_test_sub_{pending.reference}"
    session = event["data"]["object"]
    session.update(
        mode="subscription",
        payment_intent=None,
        submit_type=None,
        subscription=subscription_id(pending),
        customer=f"cus_test_{pending.reference}",
        invoice=f"in_test_{pending.reference}_1",
    )
    return event


def invoice_event(pending: PendingGift, month: int = 1, *, created: int | None = None) -> dict:
    """``invoice.paid`` of the monthly gift's invoice number ``month``."""
    created = created or int(time.time())
    total = pending.amount_minor + pending.cover_minor
    invoice_id = f"in_test_{pending.reference}_{month}"
    return {
        "id": f"evt_test_{invoice_id}",
        "object": "event",
        "api_version": stripe_gateway.API_VERSION,
        "created": created,
        "livemode": False,
        "type": "invoice.paid",
        "data": {
            "object": {
                "id": invoice_id,
                "object": "invoice",
                "amount_due": total,
                "amount_paid": total,
                "billing_reason": "subscription_create" if month == 1 else "subscription_cycle",
                "charge": f"ch_test_{invoice_id}",
                "currency": pending.currency.lower(),
                "customer": f"cus_test_{pending.reference}",
                "customer_email": pending.donor_email or None,
                "customer_name": pending.donor_name or None,
                "paid": True,
                "payment_intent": f"pi_test_{invoice_id}",
                "status": "paid",
                "subscription": subscription_id(pending),
                "subscription_details": {"metadata": metadata_for(pending)},
            }
        },
    }


def invoice_fee_event(pending: PendingGift, month: int = 1) -> dict:
    """The fee of that invoice's charge, as the record-fees job would read it."""
    invoice_id = f"in_test_{pending.reference}_{month}"
    txn = fees.demo_balance_transaction(
        f"txn_test_{invoice_id}", pending.amount_minor + pending.cover_minor, pending.currency
    )
    txn["source"] = f"ch_test_{invoice_id}"
    return fees.fee_event(txn, payment_intent=f"pi_test_{invoice_id}", account=None)
