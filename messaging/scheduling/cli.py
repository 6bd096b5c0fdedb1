"""``relais scheduler``: the one process that runs the periodic jobs."""

from __future__ import annotations

import logging
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from campaigns.model_types import utcnow
from campaigns.runtime import heartbeats
from campaigns.runtime.logs import log_start
from extensions import db
from messaging.scheduling.leader import Leadership

log = logging.getLogger(__name__)


@click.command("scheduler")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between tries to lead.")
@click.option(
    "--check",
    default=2.0,
    show_default=True,
    help="Seconds between checks that this scheduler still holds the leader lock.",
)
@with_appcontext
def scheduler_command(poll: float, check: float) -> None:
    """Run the scheduled jobs; a second scheduler waits and takes over if this one dies."""
    app = current_app._get_current_object()
    log_start(app, "scheduler")
    leadership = Leadership(db.engine)
    name, started_at = heartbeats.process_name("scheduler"), utcnow()
    try:
        while True:
            _wait_to_lead(leadership, name, started_at, poll)
            _lead(app, leadership, name, started_at, check)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        leadership.release()
        heartbeats.forget(name)
        log.info("scheduler stopped; leadership released")


def _beat(name: str, started_at, *, is_leader: bool, detail: str = "") -> None:
    try:
        heartbeats.beat(
            name, "scheduler", started_at=started_at, is_leader=is_leader, detail=detail
        )
    except Exception as error:  # the database is away: leading is checked apart
        log.warning("scheduler heartbeat not written: %s", error)


def _wait_to_lead(leadership: Leadership, name: str, started_at, poll: float) -> None:
    announced = False
    while not leadership.try_acquire():
        if not announced:
            click.echo("Another scheduler is running; waiting to take over.")
            log.info("scheduler waiting: another scheduler leads on this database")
            announced = True
        _beat(name, started_at, is_leader=False, detail="waiting to lead")
        time.sleep(poll)


def _lead(app, leadership: Leadership, name: str, started_at, check: float) -> None:
    """Run the jobs while the lock holds; stop them within ``check`` seconds of
    losing it (the database restarted, the connection dropped)."""
    from messaging.scheduling.scheduler import JOBS, build_scheduler

    click.echo(f"Scheduler leading: {', '.join(job.id for job in JOBS)}")
    log.info("scheduler leading: %s", ", ".join(job.id for job in JOBS))
    scheduler = build_scheduler(app)
    scheduler.start()
    try:
        while leadership.holds():
            _beat(name, started_at, is_leader=True, detail="leading")
            time.sleep(check)
        log.error("scheduler lost its leader lock: its jobs stop until it leads again")
    finally:
        scheduler.shutdown(wait=False)
        leadership.release()
