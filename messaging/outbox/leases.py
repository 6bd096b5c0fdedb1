"""Who holds which outbox rows: claims, their leases, and rows taken back.

A worker claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, BEGIN
IMMEDIATE on SQLite) and marks them in flight with its id and the time. While
it works through the batch, a ``LeaseKeeper`` thread renews that time every
third of ``OUTBOX_LEASE_SECONDS``, a slow SMTP or API call included; a batch
whose time stopped moving belongs to a worker that was killed, and the next
``recover_stale`` (every drain) gives it back within one lease, not minutes.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select, update

from campaigns.model_types import utcnow
from campaigns.unit_of_work import begin_write
from extensions import db
from messaging.outbox.models import OutboxMessage, OutboxStatus
from messaging.outbox.services import SOCIAL, is_postgresql, setting

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:100]


def claim_rows(worker_id: str, limit: int) -> list[tuple[int, str]]:
    """Take up to ``limit`` due rows, oldest first, with their channels; commits."""
    begin_write()  # SQLite: one claimer at a time
    now = utcnow()
    stmt = (
        select(OutboxMessage.id, OutboxMessage.channel)
        .where(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if is_postgresql():
        stmt = stmt.with_for_update(skip_locked=True)
    rows = [(row.id, str(row.channel)) for row in db.session.execute(stmt)]
    if rows:
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([id_ for id_, _ in rows]),
                OutboxMessage.status == OutboxStatus.QUEUED,
            )
            .values(status=OutboxStatus.IN_FLIGHT, claimed_at=now, claimed_by=worker_id)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return rows


def claim(worker_id: str, limit: int = 50) -> list[int]:
    """Take up to ``limit`` due rows for this worker, oldest first; commits."""
    return [id_ for id_, _ in claim_rows(worker_id, limit)]


def release(ids: list[int], worker_id: str) -> int:
    """Give back claimed rows this worker has not started (shutting down)."""
    if not ids:
        return 0
    begin_write()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == OutboxStatus.IN_FLIGHT,
            OutboxMessage.claimed_by == worker_id,
        )
        .values(status=OutboxStatus.QUEUED, claimed_at=None, claimed_by="")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def recover_stale(now: datetime | None = None) -> dict[str, int]:
    """Rows in flight past the lease belong to a worker that stopped renewing
    it (it died, or lost the database): email (and
    social rows never attempted) go back to the queue, social rows that may
    have been posted go to review. Commits; returns counts."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=float(setting("OUTBOX_LEASE_SECONDS")))
    stale = (OutboxMessage.status == OutboxStatus.IN_FLIGHT, OutboxMessage.claimed_at < cutoff)
    begin_write()
    requeued = db.session.execute(
        update(OutboxMessage)
        .where(*stale, (OutboxMessage.channel.not_in(SOCIAL)) | (OutboxMessage.attempts == 0))
        .values(status=OutboxStatus.QUEUED, claimed_at=None, claimed_by="", next_attempt_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    reviewed = db.session.execute(
        update(OutboxMessage)
        .where(*stale, OutboxMessage.channel.in_(SOCIAL))
        .values(
            status=OutboxStatus.REVIEW,
            last_error="The worker stopped while posting: the post may be online. "
            "Check the account before sending it again.",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return {"requeued": requeued, "review": reviewed}


def renew_statement(worker_id: str, now: datetime):
    """The UPDATE that moves the lease of every row this worker holds to ``now``."""
    return (
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.IN_FLIGHT,
            OutboxMessage.claimed_by == worker_id,
        )
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )


class LeaseKeeper:
    """A thread that renews a worker's leases while the worker sends.

    It writes on a connection of its own, outside the session the worker's
    transactions use, so a renewal never commits half of a delivery. A failed
    renewal is logged and tried again at the next beat: if the database stays
    away longer than the lease, the rows go back to the queue, which is the
    point (email is at least once; a social post goes to review).
    """

    def __init__(self, app: Flask, worker_id: str, interval: float | None = None):
        """Built in an app context (it reads the lease setting)."""
        self.app, self.worker_id = app, worker_id
        # Three beats per lease: one lost beat never lets a live worker's rows go.
        self.interval = interval or float(setting("OUTBOX_LEASE_SECONDS")) / 3
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"outbox-lease-{worker_id}", daemon=True
        )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def renew(self) -> int:
        """Move this worker's leases to now; returns how many rows it holds."""
        with self.app.app_context(), db.engine.begin() as connection:
            return connection.execute(renew_statement(self.worker_id, utcnow())).rowcount

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.renew()
            except Exception as error:  # the database is away: the next beat tries again
                log.warning("outbox lease of %s not renewed: %s", self.worker_id, error)
