"""``relais worker``: delivers the outbox. Any number may run on PostgreSQL."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import click
from flask.cli import with_appcontext

from messaging.outbox.services import default_worker_id, drain


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
    click.echo(f"Outbox worker {worker_id} started.")
    total: Counter = Counter()
    try:
        while not stopping.is_set():
            counts = drain(worker_id, batch=batch, should_stop=stopping.is_set)
            total.update(counts)
            if counts and not once:
                click.echo(_summary(counts))
            if once:
                break
            if not counts:
                stopping.wait(poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(_summary(total, final=True))


def _summary(counts: Counter, final: bool = False) -> str:
    parts = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    return f"{'Done' if final else time.strftime('%H:%M:%S')}: {parts or 'nothing due'}"
