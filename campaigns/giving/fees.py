"""The cost of collection: Stripe's fee on each gift's charge, refunds and
disputes, booked as ``FEE`` ledger rows that follow the gift.

Each fee comes from a Stripe balance transaction (``txn_…``: ``fee`` in the
currency the account settles in) and is booked once per transaction (unique
``stripe_balance_transaction_id``), negative: what collecting the gift cost.
The totals count fees apart (``fees_minor``); what a page, an event or a cause
has raised — its goal, its rank — stays the gross amount.

Two ways in, both inside ``payments.process_event``:

- a dispute's event carries its balance transactions whole (the withdrawal
  with Stripe's dispute fee, and the reinstatement if won):
  ``record_dispute_fees`` books them with the dispute;
- a charge's or a refund's fee is in no webhook (``charge.updated`` names the
  balance transaction by id only): the ``record-fees`` job
  (``campaigns.giving.fee_lookup``) asks Stripe and feeds each balance
  transaction through ``record_event`` as a ``FEE_EVENT``, handled here. Such
  an event for a gift not recorded yet is parked and booked when it arrives.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from campaigns.giving.follow_ups import Result, as_amount, as_currency, gift_for
from campaigns.giving.ledger import record_further_row
from campaigns.giving.models import Donation, DonationKind, StripeEventOutcome
from extensions import db

# Relais' own event type: a balance transaction the fee job read from Stripe
# (Stripe's object, plus the ``payment_intent`` it belongs to).
FEE_EVENT = "relais.balance_transaction"
# The demo's stand-in for Stripe's standard European card price: 1.5 % + 0.25.
DEMO_FEE_PER_MILLE, DEMO_FEE_FIXED_MINOR = 15, 25


def _id(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def fee_event(txn: dict, *, payment_intent: str, account: str | None) -> dict:
    """The ``FEE_EVENT`` for one balance transaction of ``payment_intent``
    (on ``account``, None for the site's own); its id derives from the
    transaction's, so reading it again is the same event."""
    obj = {**txn, "source": _id(txn.get("source")), "payment_intent": payment_intent}
    return {
        "id": f"fee_{txn['id']}",
        "object": "event",
        "type": FEE_EVENT,
        "account": account,
        "created": txn.get("created"),
        "data": {"object": obj},
    }


def handle_fee(event_id: str, txn: dict, account: str | None = None) -> Result:
    """A ``FEE_EVENT``: book the transaction's fee on its gift, once."""
    txn_id, fee = _id(txn.get("id")), as_amount(txn.get("fee"))
    currency = as_currency(txn.get("currency"))
    if txn_id is None or fee is None:
        return Result(
            StripeEventOutcome.ANOMALY,
            _("The balance transaction has no id or its fee is not a whole number."),
        )
    gift, problem = gift_for(txn, _("fee"), fee, currency, None, account)
    if problem:
        return problem
    result = Result(StripeEventOutcome.DUPLICATE, "", gift.organisation_id, fee, currency)
    if fee == 0:
        result.outcome, result.detail = StripeEventOutcome.IGNORED, _("Stripe charged no fee.")
    elif book(gift, txn, event_id) is not None:
        result.outcome = StripeEventOutcome.RECORDED
    return result


def book(gift: Donation, txn: dict, event_id: str | None) -> Donation | None:
    """The fee row of one balance transaction of ``gift``, unless it is booked
    already, is zero, or is not in the gift's currency (None then)."""
    txn_id, fee = _id(txn.get("id")), as_amount(txn.get("fee"))
    if txn_id is None or not fee or as_currency(txn.get("currency")) != gift.currency:
        return None
    if db.session.scalar(
        select(Donation.id).where(Donation.stripe_balance_transaction_id == txn_id)
    ):
        return None
    source = _id(txn.get("source"))
    columns = {}
    created = txn.get("created")
    if isinstance(created, int) and not isinstance(created, bool) and 0 < created < 2**33:
        # On the day Stripe charged it, as the money it cost to collect.
        columns["created_at"] = datetime.fromtimestamp(created, UTC)
    return record_further_row(
        gift,
        DonationKind.FEE,
        -fee,
        stripe_event_id=event_id,
        stripe_balance_transaction_id=txn_id,
        stripe_charge_id=source if source and source.startswith(("ch_", "py_")) else None,
        **columns,
    )


def record_dispute_fees(gift: Donation, dispute: dict) -> int:
    """Book the fees of a dispute's balance transactions; returns how many."""
    transactions = dispute.get("balance_transactions")
    if not isinstance(transactions, list):
        return 0
    booked = 0
    for txn in transactions:
        if isinstance(txn, dict) and book(gift, txn, None) is not None:
            booked += 1
    return booked


def demo_fee_minor(amount_minor: int) -> int:
    """The fee the demo books on a test payment (never below nothing, never above it)."""
    fee = (amount_minor * DEMO_FEE_PER_MILLE + 500) // 1000 + DEMO_FEE_FIXED_MINOR
    return max(0, min(fee, amount_minor))


def demo_balance_transaction(
    txn_id: str, amount_minor: int, currency: str, *, created: int | None = None
) -> dict:
    """The balance transaction Stripe would make for a test payment, shaped as
    Stripe's (``balance_transaction`` in its OpenAPI fixtures)."""
    fee = demo_fee_minor(amount_minor)
    created = created or int(time.time())
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount_minor,
        "available_on": created + 7 * 86400,
        "balance_type": "payments",
        "created": created,
        "currency": currency.lower(),
        "description": None,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": [
            {
                "amount": fee,
                "application": None,
                "currency": currency.lower(),
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ],
        "net": amount_minor - fee,
        "reporting_category": "charge",
        "source": None,
        "status": "pending",
        "type": "charge",
    }
