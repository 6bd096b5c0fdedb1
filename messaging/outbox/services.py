"""The outbox: rows written in the producer's transaction, delivered after
commit by workers (``relais worker``, or the demo's in-process job).

The sub-package's parts: ``queue`` writes rows (``enqueue`` in bulk,
``queue_email`` for one mail), ``leases`` claims them for a worker and takes
back the rows of a worker that stopped, ``delivery`` sends them, ``channels``
talks SMTP, X and Facebook. This module holds the settings they share and the
staff's decisions on messages that need a person.
"""

from __future__ import annotations

import os

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Agent
from campaigns import audit
from campaigns.errors import Conflict, NotFound, ValidationError
from campaigns.model_types import utcnow
from extensions import db
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus

SOCIAL = (Channel.X.value, Channel.FACEBOOK.value)
DEFAULTS = {
    "OUTBOX_MAX_ATTEMPTS": 6,
    # A worker renews the lease of the rows it holds every third of this
    # (``leases.LeaseKeeper``): rows whose lease ran out belong to a worker that
    # died, and go back to the queue.
    "OUTBOX_LEASE_SECONDS": 30,
    "OUTBOX_RETRY_BASE_SECONDS": 30,
    "OUTBOX_RETRY_CAP_SECONDS": 3600,
    "OUTBOX_BATCH": 50,
    # Messages per second per worker and channel (token buckets).
    "OUTBOX_RATE_LIMITS": {"email": 20.0, "x": 1.0, "facebook": 1.0},
}


def setting(name: str):
    """An outbox setting: app config, else the environment, else the default."""
    value = current_app.config.get(name)
    if value is None and os.environ.get(name):
        raw = os.environ[name]
        if name == "OUTBOX_RATE_LIMITS":  # "email=20,x=1,facebook=1"
            value = {k.strip(): float(v) for k, v in (p.split("=") for p in raw.split(",") if p)}
        else:
            value = float(raw)
    return DEFAULTS[name] if value is None else value


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# -- staff -----------------------------------------------------------------------------

NEEDS_A_PERSON = (OutboxStatus.DEAD, OutboxStatus.REVIEW)


def status_counts(organisation_id: int) -> dict[str, int]:
    """How many of the organisation's messages are in each status."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.organisation_id == organisation_id)
        .group_by(OutboxMessage.status)
    )
    return {str(status): count for status, count in rows}


def needing_a_person(organisation_id: int, limit: int = 200) -> list[OutboxMessage]:
    """Dead letters and ambiguous social posts, newest first, with their last error."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.organisation_id == organisation_id,
                OutboxMessage.status.in_(NEEDS_A_PERSON),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def staff_decide(
    organisation_id: int, message_id: int, action: str, *, actor: Agent | None
) -> OutboxMessage:
    """Staff send a dead or to-review message again ("retry") or drop it ("cancel").

    A social post under review may already be online: retrying it is the
    person's decision, made after checking the account. ``actor`` is the staff
    member (None for a command), named in the audit log; it is required so that
    no caller forgets it."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.organisation_id != organisation_id:
        raise NotFound(_("This message does not exist."))
    if message.status not in NEEDS_A_PERSON:
        raise Conflict(_("This message is not waiting for a decision any more."))
    previous = str(message.status)
    if action == "retry":
        message.status = OutboxStatus.QUEUED
        message.attempts = 0
        message.next_attempt_at = utcnow()
        message.claimed_at, message.claimed_by = None, ""
    elif action == "cancel":
        message.status = OutboxStatus.CANCELLED
    else:
        raise ValidationError({"action": _("Choose to send it again or to cancel it.")})
    db.session.flush()
    audit.record(
        organisation_id,
        actor,
        f"outbox.{action}",
        f"Outbox message #{message.id} ({message.channel}, {previous}): "
        + ("sent again" if action == "retry" else "cancelled"),
        subject=message,
        details={
            "channel": str(message.channel),
            "from": previous,
            "to": str(message.status),
            "last_error": (message.last_error or "")[:300],
        },
    )
    return message
