"""Delivering one webhook row for a ``delivery.Deliverer``: at least once,
with the same ``webhook-id`` (the event's id) on every attempt.

As for email, the attempt is counted and committed before the POST; a worker
that dies during it leaves the row in flight, and the next worker takes it
back after the lease and posts it again: the receiver drops the id it had.
Signed in the first transaction (``messaging.webhooks.sending``); after the
answer, the row's outcome is recorded by the deliverer's own steps and the
endpoint's failure count kept (it may be disabled)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from campaigns.model_types import utcnow
from campaigns.unit_of_work import begin_write
from extensions import db
from messaging.outbox import channels, checks
from messaging.outbox.models import OutboxStatus
from messaging.webhooks import sending

log = logging.getLogger(__name__)


@dataclass
class _Sent:
    id: int


def deliver(deliverer, message_id: int) -> str:
    """Deliver one claimed webhook row; returns the outcome's value ("sent", "retry", …)."""
    try:
        prepared = start(deliverer, message_id)
    except Exception:
        db.session.rollback()
        raise
    if isinstance(prepared, str):
        return prepared
    row_id, request = prepared
    if deliverer.webhooks is None:
        deliverer.webhooks = channels.webhook_session()
    error = ""
    try:
        status = channels.post_webhook(
            deliverer.webhooks, request.url, request.body, request.headers
        )
    except channels.Permanent as exc:
        error = str(exc)
        outcome = deliverer._close(row_id, OutboxStatus.DEAD, error)
    except channels.Transient as exc:
        error = str(exc)
        outcome = deliverer._retry(row_id, error)
    except Exception as exc:  # a bug or an unexpected library error
        log.exception("webhook delivery %s failed", row_id)
        error = f"{exc.__class__.__name__}: {exc}"
        outcome = deliverer._retry(row_id, error)
    else:
        outcome = deliverer._sent(_Sent(row_id), status)
    begin_write()
    sending.delivery_finished(request.endpoint_id, str(outcome.value), error)
    db.session.commit()
    return str(outcome.value)


def start(deliverer, message_id: int) -> tuple[int, sending.Outgoing] | str:
    """The signed request, the attempt counted and committed; or what became of the row."""
    row = deliverer._locked(message_id)
    if (
        row is None
        or row.status != OutboxStatus.IN_FLIGHT
        or (deliverer.worker_id and row.claimed_by != deliverer.worker_id)
    ):
        db.session.commit()
        return "not_mine"
    try:
        request = sending.outgoing(row)
    except sending.Skip as exc:
        row.status, row.last_error = OutboxStatus.SKIPPED, str(exc)
        db.session.commit()
        return "skipped"
    row_id = row.id
    checks.attempt(row, None, utcnow())
    db.session.commit()
    return row_id, request
