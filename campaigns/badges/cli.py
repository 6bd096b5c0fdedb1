"""``relais badges award``: give pages the badges their older data earned."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from campaigns.badges import services
from campaigns.cli_support import cli_transaction
from campaigns.organisations import services as org_services

badges_cli = click.Group("badges", help="Achievement badges of pages.")


@badges_cli.command("award")
@click.option("--cause", "cause_slug", default="", help="Only the pages of this cause.")
@with_appcontext
def award_command(cause_slug: str) -> None:
    """Give every public page the badges its gifts, donors and events earned."""
    with cli_transaction():
        cause_id = org_services.get_cause(cause_slug).id if cause_slug else None
        count = services.award_all(cause_id)
        click.echo(_("Gave %(n)s new badges.", n=count))
