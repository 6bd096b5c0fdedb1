"""``relais scheduler``: the one process that runs the periodic jobs."""

from __future__ import annotations

import logging
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from campaigns.runtime.logs import log_start
from extensions import db
from messaging.scheduling.leader import Leadership

log = logging.getLogger(__name__)


@click.command("scheduler")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between tries to lead.")
@with_appcontext
def scheduler_command(poll: float) -> None:
    """Run the scheduled jobs; a second scheduler waits and takes over if this one dies."""
    from messaging.scheduling.scheduler import JOBS, build_scheduler

    app = current_app._get_current_object()
    log_start(app, "scheduler")
    leadership = Leadership(db.engine)
    announced = False
    while not leadership.try_acquire():
        if not announced:
            click.echo("Another scheduler is running; waiting to take over.")
            log.info("scheduler waiting: another scheduler leads on this database")
            announced = True
        time.sleep(poll)
    click.echo(f"Scheduler leading: {', '.join(job.id for job in JOBS)}")
    log.info("scheduler leading: %s", ", ".join(job.id for job in JOBS))
    scheduler = build_scheduler(app, blocking=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        leadership.release()
        log.info("scheduler stopped; leadership released")
