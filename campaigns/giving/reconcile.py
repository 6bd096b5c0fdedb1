"""Reconciliation: ask Stripe what was paid, refunded and disputed, and feed
anything the webhooks missed through the same idempotent ``process_event``.

Each Stripe object becomes a synthetic event ``recon_<object id>``, so a second
run records nothing more; a session its webhook already recorded is a
duplicate through the checkout session and payment intent unique keys.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import stripe
from sqlalchemy.exc import IntegrityError

from campaigns.giving.models import StripeEvent
from campaigns.giving.payments import StripeEventOutcome, process_event
from extensions import begin_write, db

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """'2026-11-01', '2026-11-01T08:00:00+00:00', '24h', '7d' or '30m' as UTC;
    ValueError otherwise."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def feed(event: dict) -> StripeEventOutcome:
    """One synthetic event in its own transaction: a failure loses only itself,
    and the write lock is not held while Stripe's API is asked for the next page."""
    begin_write()
    try:
        outcome = process_event(event)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if db.session.get(StripeEvent, event["id"]) is None:
            raise
        outcome = StripeEventOutcome.DUPLICATE
    except Exception:
        db.session.rollback()
        raise
    return outcome


def _event(object_id: str, event_type: str, obj: dict, suffix: str = "") -> dict:
    return {
        "id": f"recon_{object_id}{suffix}",
        "object": "event",
        "type": event_type,
        "created": obj.get("created"),
        "data": {"object": obj},
    }


def reconcile(since: datetime, api_key: str) -> dict[str, Counter]:
    """Record the paid sessions, refunds and disputes created since ``since``
    that the ledger lacks; returns outcome counts per kind of object."""
    created = {"gte": int(since.timestamp())}
    report: dict[str, Counter] = {
        "sessions": Counter(),
        "refunds": Counter(),
        "disputes": Counter(),
    }
    sessions = stripe.checkout.Session.list(
        created=created, status="complete", limit=100, api_key=api_key
    )
    for session in sessions.auto_paging_iter():
        obj = session.to_dict()
        if obj.get("payment_status") != "paid":
            continue
        outcome = feed(_event(obj["id"], "checkout.session.completed", obj))
        report["sessions"][outcome.value] += 1
    # The charge carries the cumulative amount_refunded the ledger keys on.
    refunds = stripe.Refund.list(
        created=created, limit=100, expand=["data.charge"], api_key=api_key
    )
    for refund in refunds.auto_paging_iter():
        obj = refund.to_dict()
        charge = obj.get("charge")
        if not isinstance(charge, dict):
            continue
        charge = {**charge, "created": obj.get("created")}
        outcome = feed(_event(obj["id"], "charge.refunded", charge))
        report["refunds"][outcome.value] += 1
    for dispute in stripe.Dispute.list(
        created=created, limit=100, api_key=api_key
    ).auto_paging_iter():
        obj = dispute.to_dict()
        outcome = feed(_event(obj["id"], "charge.dispute.created", obj))
        if obj.get("status") in ("won", "lost"):
            closed = feed(_event(obj["id"], "charge.dispute.closed", obj, f"_{obj['status']}"))
            if closed == StripeEventOutcome.RECORDED:
                outcome = closed
        report["disputes"][outcome.value] += 1
    return report
