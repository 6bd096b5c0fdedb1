"""``relais demo``: migrate, seed and serve the demo."""

from __future__ import annotations

import logging
import os

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

log = logging.getLogger(__name__)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    default=lambda: int(os.environ.get("PORT") or 5000),
    type=int,
    help="Port to serve on (default $PORT or 5000).",
)
@click.option("--no-serve", is_flag=True, help="Migrate and seed, then exit.")
@with_appcontext
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Migrate the database, seed the demo once, and serve it with the scheduler.

    Refused in production mode and on a database holding data the demo did not create."""
    from campaigns.demo import seed as demo
    from campaigns.runtime.logs import log_start
    from campaigns.unit_of_work import run_transaction

    # Mail and share links built outside a request (the worker) need a host.
    current_app.config["PUBLIC_URL"] = current_app.config["PUBLIC_URL"] or f"http://{host}:{port}"
    # Checked before the migrations too: a refused database is left as it was.
    reason = demo.refusal(is_production=current_app.config.get("RELAIS_ENV") == "production")
    if reason:
        raise click.ClickException(reason)
    flask_migrate.upgrade()
    created = run_transaction(demo.seed)
    click.echo("Demo data created." if created else "Demo data already present.")
    for role, email, password in demo.credentials():
        click.echo(f"  log in as {role}: {email} / {password}")
    if no_serve:
        return
    log_start(current_app, "demo")
    from extensions import db
    from messaging.scheduling.leader import Leadership
    from messaging.scheduling.scheduler import build_scheduler

    # In-process, unless a `relais scheduler` already leads on this database.
    leadership = Leadership(db.engine)
    scheduler = build_scheduler(current_app._get_current_object())
    if leadership.try_acquire():
        scheduler.start()
        log.info("scheduler leading in-process")
    else:
        click.echo("A scheduler is already running on this database; not starting another.")
        log.info("scheduler not started: another scheduler leads on this database")
    click.echo(f"Relais demo on http://{host}:{port}/  (Ctrl+C to stop)")
    # app.run() refuses to start inside a CLI command; serve with Werkzeug directly.
    try:
        run_simple(host, port, current_app._get_current_object(), threaded=True)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        leadership.release()
