"""The ``record-fees`` job: ask Stripe what each card gift cost to collect.

No webhook carries a charge's fee: ``charge.succeeded`` and ``charge.updated``
name the balance transaction by id only (and, for a delayed payment method,
days later). So the job asks, for each card gift of the last
``FEE_LOOKUP_DAYS`` whose fee is not known, for its PaymentIntent with
``latest_charge.balance_transaction`` expanded (one call, on the account the
gift was paid into), and for the balance transactions of its refunds once it
has some. Asking about our own gifts, rather than listing an account's
balance transactions, reads only Relais' money from a connected account that
also holds the charity's other payments, and a gift always exists before its
fee is asked for. Each transaction goes through ``payments.record_event`` (a
``fees.FEE_EVENT``): booked once, by its id, in its own unit of work, and the
network is never called while a transaction is open. The charge it reads
also names the card (its fingerprint): told through ``card_seen`` with the
lookup's note, for fair play's checks, with no call of its own.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from campaigns.giving import card_fingerprints, fees, stripe_gateway
from campaigns.giving.models import Donation, DonationKind, FeeLookup
from campaigns.giving.payments import record_event
from campaigns.model_types import utcnow
from campaigns.unit_of_work import checkpoint, run_transaction
from extensions import db

log = logging.getLogger(__name__)
BATCH = 200
CHARGE_EXPAND = ["latest_charge.balance_transaction"]


def _refund_rows():
    later = aliased(Donation)
    return (
        select(func.count(later.id))
        .where(later.original_id == Donation.id, later.kind == DonationKind.REFUND)
        .correlate(Donation)
        .scalar_subquery()
    )


def candidates(since: datetime, limit: int = BATCH) -> list[tuple]:
    """Card gifts made since ``since`` whose charge fee, or the fee of a refund
    recorded since the last look, is not known: (id, payment intent, account,
    refund rows, lookup) — the longest unasked first."""
    refunds = _refund_rows()
    return db.session.execute(
        select(
            Donation.id,
            Donation.stripe_payment_intent_id,
            Donation.stripe_account_id,
            refunds,
            FeeLookup,
        )
        .outerjoin(FeeLookup, FeeLookup.gift_id == Donation.id)
        .where(
            Donation.kind == DonationKind.GIFT,
            Donation.stripe_payment_intent_id.is_not(None),
            Donation.created_at >= since,
            or_(
                FeeLookup.gift_id.is_(None),
                FeeLookup.is_charge_known.is_(False),
                refunds > FeeLookup.refunds_seen,
            ),
        )
        .order_by(FeeLookup.asked_at.is_not(None), FeeLookup.asked_at, Donation.id)
        .limit(limit)
    ).all()


def record_fees(now: datetime | None = None, limit: int = BATCH) -> Counter:
    """Ask Stripe the fees of the card gifts that lack them and book each once;
    returns outcome counts (and ``unanswered`` for Stripe's silences)."""
    source = stripe_gateway.gateway()
    report: Counter = Counter()
    if source.is_demo:
        return report  # the demo books its fees with each test payment
    days = float(current_app.config.get("FEE_LOOKUP_DAYS", 30))
    found = candidates((now or utcnow()) - timedelta(days=days), limit)
    # What was read is committed: no transaction (or SQLite lock) is held while Stripe answers.
    checkpoint()
    for gift_id, payment_intent, account, refund_rows, lookup in found:
        known = lookup.is_charge_known if lookup else False
        seen = lookup.refunds_seen if lookup else 0
        card = ""
        try:
            if not known:
                known, card = _charge_fee(source, payment_intent, account, report)
            if refund_rows > seen and _refund_fees(source, payment_intent, account, report):
                seen = refund_rows
        except stripe_gateway.GatewayUnavailable as exc:
            log.warning("Stripe did not answer about the fees of %s: %s", payment_intent, exc)
            report["unanswered"] += 1
        except stripe_gateway.GatewayRefused as exc:
            # Stripe knows no such payment (a demo gift, another account): nothing to learn.
            log.warning("Stripe refused the fees of %s: %s", payment_intent, exc)
            report["refused"] += 1
            known, seen = True, refund_rows
        run_transaction(lambda g=gift_id, k=known, s=seen, c=card: _note(g, k, s, c))
    return report


def _charge_fee(
    source, payment_intent: str, account: str | None, report: Counter
) -> tuple[bool, str]:
    """Book the fee of the gift's charge; whether Stripe knows it yet, and the
    charge's card fingerprint (the answer carries it: no call of its own)."""
    intent = source.retrieve_payment_intent(
        payment_intent, {"expand": CHARGE_EXPAND}, stripe_account=account
    )
    card = card_fingerprints.of_payment_intent(intent)
    charge = intent.get("latest_charge")
    txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
    if not isinstance(txn, dict) or not isinstance(txn.get("id"), str):
        return False, card  # not settled yet (a delayed payment method): asked again later
    outcome = record_event(fees.fee_event(txn, payment_intent=payment_intent, account=account))
    report[outcome.value] += 1
    return True, card


def _refund_fees(source, payment_intent: str, account: str | None, report: Counter) -> bool:
    """Book the fees of the gift's refunds; whether every one was known."""
    complete = True
    refunds = source.list_refunds(
        {"payment_intent": payment_intent, "limit": 100, "expand": ["data.balance_transaction"]},
        stripe_account=account,
    )
    for refund in refunds:
        txn = refund.get("balance_transaction")
        if not isinstance(txn, dict) or not isinstance(txn.get("id"), str):
            complete = False
            continue
        event = fees.fee_event(txn, payment_intent=payment_intent, account=account)
        report[record_event(event).value] += 1
    return complete


def _note(gift_id: int, known: bool, refunds_seen: int, card: str = "") -> None:
    if card:
        card_fingerprints.tell(db.session.get(Donation, gift_id), card)
    lookup = db.session.get(FeeLookup, gift_id)
    if lookup is None:
        lookup = FeeLookup(gift_id=gift_id, attempts=0)
        db.session.add(lookup)
    lookup.is_charge_known = known
    lookup.refunds_seen = refunds_seen
    lookup.attempts = (lookup.attempts or 0) + 1
    lookup.asked_at = utcnow()
    db.session.flush()
