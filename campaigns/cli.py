"""Operator commands: organisations, the demo."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.serving import run_simple

from campaigns.errors import ServiceError, ValidationError
from extensions import db

log = logging.getLogger(__name__)
orgs_cli = click.Group("orgs", help="Manage organisations.")


def cli_locale() -> str:
    """The language of command output: no request or browser to pick one, so
    English unless RELAIS_CLI_LOCALE says fr."""
    chosen = os.environ.get("RELAIS_CLI_LOCALE", "en")
    return chosen if chosen in ("en", "fr") else "en"


@contextmanager
def cli_transaction() -> Iterator[None]:
    """One unit of work for a command: commit once at the end; on a refusal roll
    back and exit with code 1 and a sentence on stderr, never a traceback."""
    with force_locale(cli_locale()):
        try:
            yield
            db.session.commit()
        except ValidationError as exc:
            db.session.rollback()
            lines = [f"{field}: {message}" for field, message in exc.errors.items()]
            raise click.ClickException("\n".join(lines)) from None
        except ServiceError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        except IntegrityError:
            db.session.rollback()
            raise click.ClickException(
                _(
                    "Someone else wrote the same record at the same moment; nothing was "
                    "saved. Run the command again."
                )
            ) from None
        except SQLAlchemyError as exc:
            db.session.rollback()
            raise click.ClickException(
                _(
                    "The database could not be used (%(error)s); nothing was saved. Check "
                    "DATABASE_URL, and run `relais db upgrade` if the schema is missing.",
                    error=type(exc).__name__,
                )
            ) from None


@orgs_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 'Eau Vive'.")
@click.option("--currency", default="EUR", show_default=True, help="ISO 4217 code.")
@click.option("--locale", default="fr", show_default=True, help="fr or en.")
@click.option("--legal-name", default="", help="Registered name, for receipts.")
@click.option("--address", default="", help="Postal address, for receipts.")
@click.option("--website", default="", help="https://… address of the organisation.")
@with_appcontext
def create_org_command(
    slug: str, name: str, currency: str, locale: str, legal_name: str, address: str, website: str
) -> None:
    """Create an organisation."""
    from campaigns.services import save_organisation

    data = {
        "slug": slug,
        "name": name,
        "currency": currency,
        "locale": locale,
        "legal_name": legal_name,
        "address": address,
        "website": website,
    }
    with cli_transaction():
        org = save_organisation(None, None, data)
        message = _(
            "Organisation %(slug)s (%(name)s, %(currency)s) created.",
            slug=org.slug,
            name=org.name,
            currency=org.currency,
        )
    click.echo(message)


@orgs_cli.command("list")
@with_appcontext
def list_orgs_command() -> None:
    """List organisations: slug, currency, locale, name."""
    from sqlalchemy import select

    from campaigns.models import Organisation

    with cli_transaction():
        orgs = db.session.scalars(select(Organisation).order_by(Organisation.slug)).all()
        lines = ["\t".join((o.slug, o.currency, o.locale, o.name)) for o in orgs] or [
            _("No organisation yet. Create one with `relais orgs create SLUG --name NAME`.")
        ]
    click.echo("\n".join(lines))


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
    """Migrate the database, seed the demo once, and serve it with the scheduler."""
    from campaigns import demo
    from campaigns.runtime.logs import log_start

    # Mail and share links built outside a request (the worker) need a host.
    current_app.config["PUBLIC_URL"] = current_app.config["PUBLIC_URL"] or f"http://{host}:{port}"
    flask_migrate.upgrade()
    created = demo.seed()
    click.echo("Demo data created." if created else "Demo data already present.")
    for role, email, password in demo.credentials():
        click.echo(f"  log in as {role}: {email} / {password}")
    if no_serve:
        return
    log_start(current_app, "demo")
    from extensions import db
    from messaging.leader import Leadership
    from messaging.scheduler import build_scheduler

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
