"""Operator commands: organisations, the demo."""

from __future__ import annotations

import os

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

orgs_cli = click.Group("orgs", help="Manage organisations.")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    default=lambda: int(os.environ.get("PORT", "5000")),
    type=int,
    help="Port to serve on (default $PORT or 5000).",
)
@click.option("--no-serve", is_flag=True, help="Migrate and seed, then exit.")
@with_appcontext
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Migrate the database, seed the demo once, and serve it with the scheduler."""
    from campaigns import demo

    flask_migrate.upgrade()
    created = demo.seed()
    click.echo("Demo data created." if created else "Demo data already present.")
    for role, email, password in demo.credentials():
        click.echo(f"  log in as {role}: {email} / {password}")
    if no_serve:
        return
    from messaging.scheduler import build_scheduler

    scheduler = build_scheduler(current_app._get_current_object())
    scheduler.start()
    click.echo(f"Relais demo on http://{host}:{port}/  (Ctrl+C to stop)")
    # app.run() refuses to start inside a CLI command; serve with Werkzeug directly.
    try:
        run_simple(host, port, current_app._get_current_object(), threaded=True)
    finally:
        scheduler.shutdown(wait=False)
