"""``relais worker``: delivers the outbox. Any number may run on PostgreSQL."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter

import click
from flask import current_app
from flask.cli import with_appcontext

from campaigns.model_types import utcnow
from campaigns.runtime import heartbeats
from campaigns.runtime.degraded import unavailable
from campaigns.runtime.logs import log_start
from extensions import db
from messaging.outbox.delivery import drain
from messaging.outbox.leases import default_worker_id

log = logging.getLogger(__name__)
# Outcomes that mean a message was not delivered this time.
FAILURES = ("retry", "dead", "review")
# While the database is away: seconds between tries, doubling up to the cap.
DATABASE_RETRY_SECONDS = (1.0, 10.0)


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit.")
@click.option("--batch", default=50, show_default=True, help="Rows claimed at a time.")
@click.option("--poll", default=2.0, show_default=True, help="Seconds to wait when idle.")
@with_appcontext
def worker_command(once: bool, batch: int, poll: float) -> None:
    """Deliver queued outbox messages (email, X, Facebook) until stopped.

    SIGTERM or Ctrl+C lets the message being sent finish, gives the rest of
    the batch back to the queue, then exits.
    """
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker_id = default_worker_id()
    log_start(current_app, "worker")
    click.echo(f"Outbox worker {worker_id} started.")
    total: Counter = Counter()
    name, started_at = heartbeats.process_name("worker"), utcnow()
    away = 0.0  # seconds to wait before trying the database again; 0: it answers
    try:
        while not stopping.is_set():
            try:
                heartbeats.beat(name, "worker", started_at=started_at, detail=worker_id)
            except Exception as error:  # the database is away: drain says so below
                log.warning("worker heartbeat not written: %s", error)
            try:
                counts = drain(worker_id, batch=batch, should_stop=stopping.is_set)
            except Exception as error:
                # PostgreSQL restarting is no reason to exit: the rows this worker
                # held go back to the queue when their lease runs out.
                if once or not unavailable(error):
                    raise
                db.session.rollback()
                if not away:
                    log.warning("outbox worker %s: the database is away (%s)", worker_id, error)
                away = min(max(away * 2, DATABASE_RETRY_SECONDS[0]), DATABASE_RETRY_SECONDS[1])
                stopping.wait(away)
                continue
            if away:
                log.warning("outbox worker %s: the database is back", worker_id)
                away = 0.0
            total.update(counts)
            if counts:
                failed = sum(counts[name] for name in FAILURES)
                log.log(
                    logging.WARNING if failed else logging.INFO,
                    "outbox worker %s: %s",
                    worker_id,
                    _counts(counts),
                    extra={"worker_id": worker_id, "counts": dict(counts), "failed": failed},
                )
            if counts and not once:
                click.echo(_summary(counts))
            if once:
                break
            if not counts:
                stopping.wait(poll)
    finally:
        heartbeats.forget(name)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(_summary(total, final=True))


def _summary(counts: Counter, final: bool = False) -> str:
    return f"{'Done' if final else time.strftime('%H:%M:%S')}: {_counts(counts)}"


def _counts(counts: Counter) -> str:
    parts = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    return parts or "nothing due"
