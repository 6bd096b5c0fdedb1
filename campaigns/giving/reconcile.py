"""Reconciliation: ask Stripe what was paid, refunded and disputed, and feed
anything the webhooks missed through the same idempotent ``record_event``.

Each Stripe object becomes a synthetic event ``recon_<object id>``, so a second
run records nothing more; a session its webhook already recorded is a
duplicate through the checkout session and payment intent unique keys. Each
is its own unit of work: a failure loses only itself, and the write lock is
not held while Stripe is asked for the next page. The site's own Stripe
account is asked, then every organisation's connected account (Connect):
what is found there is recorded as that account's events.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from campaigns.giving.connect import connected_accounts
from campaigns.giving.payments import StripeEventOutcome, record_event
from campaigns.giving.stripe_gateway import gateway

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


def _event(
    object_id: str, event_type: str, obj: dict, suffix: str = "", account: str | None = None
) -> dict:
    event = {
        "id": f"recon_{object_id}{suffix}",
        "object": "event",
        "type": event_type,
        "created": obj.get("created"),
        "data": {"object": obj},
    }
    if account:
        event["account"] = account  # as a Connect event names it
    return event


def reconcile(since: datetime) -> dict[str, Counter]:
    """Record the paid sessions, refunds and disputes created since ``since``
    that the ledger lacks; returns outcome counts per kind of object."""
    source = gateway()  # Stripe, or the demo's stand-in (which has nothing)
    created = {"gte": int(since.timestamp())}
    report: dict[str, Counter] = {
        "sessions": Counter(),
        "refunds": Counter(),
        "disputes": Counter(),
    }
    accounts = [None, *connected_accounts()] if not source.is_demo else [None]
    for account in accounts:
        _reconcile_account(source, account, created, report)
    return report


def _reconcile_account(source, account: str | None, created: dict, report: dict) -> None:
    sessions = source.list_checkout_sessions(
        {"created": created, "status": "complete", "limit": 100}, stripe_account=account
    )
    for obj in sessions:
        if obj.get("payment_status") != "paid":
            continue
        event = _event(obj["id"], "checkout.session.completed", obj, account=account)
        report["sessions"][record_event(event).value] += 1
    # The charge carries the cumulative amount_refunded the ledger keys on.
    refunds = source.list_refunds(
        {"created": created, "limit": 100, "expand": ["data.charge"]}, stripe_account=account
    )
    for obj in refunds:
        charge = obj.get("charge")
        if not isinstance(charge, dict):
            continue
        charge = {**charge, "created": obj.get("created")}
        event = _event(obj["id"], "charge.refunded", charge, account=account)
        report["refunds"][record_event(event).value] += 1
    for obj in source.list_disputes({"created": created, "limit": 100}, stripe_account=account):
        outcome = record_event(_event(obj["id"], "charge.dispute.created", obj, account=account))
        if obj.get("status") in ("won", "lost"):
            closing = _event(
                obj["id"], "charge.dispute.closed", obj, f"_{obj['status']}", account=account
            )
            closed = record_event(closing)
            if closed == StripeEventOutcome.RECORDED:
                outcome = closed
        report["disputes"][outcome.value] += 1
