"""Writing outbox rows, in the producer's transaction (no commit): ``enqueue``
in bulk (broadcasts, automatic messages), ``queue_email`` for one mail
(account mail, receipts, invitations)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from email.utils import make_msgid
from urllib.parse import urlsplit

from flask import current_app

from campaigns.model_types import utcnow
from extensions import db, dialect_insert
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus

_COLUMNS = {c.name for c in OutboxMessage.__table__.columns} - {"id"}
_REQUIRED = {"dedupe_key", "channel"}


def new_message_id() -> str:
    """A Message-ID chosen once, so a retried delivery is the same mail."""
    domain = (
        urlsplit(current_app.config.get("PUBLIC_URL") or "http://relais.localhost").hostname
        or "relais.localhost"
    )
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)


def _row_defaults(now: datetime) -> dict:
    return {
        "organisation_id": None,
        "agent_id": None,
        "page_id": None,
        "broadcast_id": None,
        "template_id": None,
        "webhook_endpoint_id": None,
        "trigger": "",
        "is_transactional": False,
        "recipient": "",
        "subject": "",
        "body_text": "",
        "body_html": "",
        "link": "",
        "message_id": "",
        "status": OutboxStatus.QUEUED.value,
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_at": None,
        "claimed_by": "",
        "last_error": "",
        "external_id": "",
        "sent_at": None,
        "created_at": now,
    }


def enqueue(rows: Iterable[dict]) -> int:
    """Add outbox rows in bulk, in the caller's transaction (no commit); a row
    whose ``dedupe_key`` exists is left alone. Returns how many were added.

    Each dict names OutboxMessage columns; ``dedupe_key`` and ``channel`` are
    required, and ``organisation_id`` too unless the row is transactional
    (account mail belongs to no organisation); ``next_attempt_at`` defaults to now.
    """
    now = utcnow()
    normalised = []
    for row in rows:
        unknown = set(row) - _COLUMNS
        required = _REQUIRED | (set() if row.get("is_transactional") else {"organisation_id"})
        missing = required - {k for k, v in row.items() if v not in (None, "")}
        if unknown or missing:
            raise ValueError(
                f"outbox row: unknown columns {sorted(unknown)}, missing {sorted(missing)}"
            )
        defaults = _row_defaults(now)
        # None for a column with a default (e.g. a deleted agent's email) means the default.
        normalised.append(
            {**defaults, **{k: v for k, v in row.items() if v is not None or defaults[k] is None}}
        )
    if not normalised:
        return 0
    return bulk_insert(OutboxMessage.__table__, normalised, conflict="dedupe_key")


def bulk_insert(table, rows: list[dict], conflict: str | None = None) -> int:
    """Insert many rows in the session's transaction, skipping conflicts;
    returns how many went in.

    On PostgreSQL the rows are COPYed into a temporary table, then one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING`` moves them: a multi-row VALUES
    of a thousand rows costs more to build and for psycopg to parse than to
    run. Elsewhere (SQLite), SQLAlchemy's executemany."""
    if not rows:
        return 0
    columns = list(rows[0])
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        stmt = dialect_insert(table).on_conflict_do_nothing(
            index_elements=[conflict] if conflict else None
        )
        result = db.session.execute(stmt.returning(table.c[columns[0]]), rows)
        return len(result.all())
    names = ", ".join(columns)  # column and table names come from the model
    scratch = f"relais_bulk_{table.name}"
    target = f" ({conflict})" if conflict else ""
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {scratch} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {names} FROM {table.name} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {scratch}")
        with cursor.copy(f"COPY {scratch} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in columns))
        cursor.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {scratch} "  # noqa: S608
            f"ON CONFLICT{target} DO NOTHING"
        )
        return max(cursor.rowcount, 0)


def queue_email(
    *,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    trigger: str,
    organisation_id: int | None = None,
    agent_id: int | None = None,
    dedupe_key: str | None = None,
) -> str | None:
    """Queue one transactional email (account mail, a receipt, an invitation)
    in the caller's unit of work; a worker sends it after the commit.

    Its Message-ID is fixed now, so every delivery attempt is the same mail.
    ``dedupe_key`` names the event when there is one (``receipt:<gift id>``):
    a unit that runs again queues nothing twice. Returns the Message-ID, or
    None when that key was queued already. Opt-outs, quiet hours and the
    unsubscribe footer do not apply: the person asked for this mail.
    """
    message_id = new_message_id()
    added = enqueue(
        [
            {
                "dedupe_key": (dedupe_key or f"mail:{message_id}")[:200],
                "organisation_id": organisation_id,
                "agent_id": agent_id,
                "trigger": trigger[:20],
                "is_transactional": True,
                "channel": Channel.EMAIL.value,
                "recipient": to,
                "subject": " ".join(str(subject).split())[:300],
                "body_text": text or "",
                "body_html": html or "",
                "message_id": message_id,
            }
        ]
    )
    return message_id if added else None
