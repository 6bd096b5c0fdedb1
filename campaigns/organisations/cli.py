"""``relais orgs …``: create and list organisations."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from campaigns.cli_support import cli_transaction
from extensions import db

orgs_cli = click.Group("orgs", help="Manage organisations.")


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
    from campaigns.organisations.services import save_organisation

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

    from campaigns.organisations.models import Organisation

    with cli_transaction():
        orgs = db.session.scalars(select(Organisation).order_by(Organisation.slug)).all()
        lines = ["\t".join((o.slug, o.currency, o.locale, o.name)) for o in orgs] or [
            _("No organisation yet. Create one with `relais orgs create SLUG --name NAME`.")
        ]
    click.echo("\n".join(lines))
