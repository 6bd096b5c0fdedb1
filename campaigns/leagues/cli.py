"""``relais leagues …``: the operator creates and lists contests across organisations."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from campaigns.cli_support import cli_transaction

leagues_cli = click.Group("leagues", help="Manage leagues (contests across organisations).")


@leagues_cli.command("create")
@click.argument("slug")
@click.option("--title", required=True, help="The league's name, e.g. 'Giving Night'.")
@click.option("--starts", "starts_at", required=True, help="2026-06-21T19:00 (Paris time).")
@click.option("--ends", "ends_at", required=True, help="2026-06-21T23:00 (Paris time).")
@click.option(
    "--entrant",
    "entrants",
    multiple=True,
    help="An organisation (its slug) or one of its causes (org/cause); two at least.",
)
@click.option(
    "--rule",
    type=click.Choice(["raised", "donors"]),
    default="raised",
    show_default=True,
    help="Rank by raised (donors break ties) or by unique donors (raised breaks ties).",
)
@click.option("--description", default="", help="What the league is for.")
@with_appcontext
def create_command(
    slug: str, title: str, starts_at: str, ends_at: str, entrants, rule: str, description: str
) -> None:
    """Create a league: its window, its entrants and its rule."""
    from campaigns.leagues.services import create_contest

    with cli_transaction():
        contest = create_contest(
            {
                "slug": slug,
                "title": title,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "entrants": list(entrants),
                "rule": rule,
                "description": description,
            }
        )
        message = _(
            "League %(slug)s created with %(count)s entrants: /leagues/%(slug)s",
            slug=contest.slug,
            count=len(entrants),
        )
    click.echo(message)


@leagues_cli.command("list")
@with_appcontext
def list_command() -> None:
    """List leagues: slug, rule, window (UTC), entrants, title."""
    from campaigns.leagues.services import contests

    with cli_transaction():
        lines = [
            "\t".join(
                (
                    c.slug,
                    str(c.rule),
                    f"{c.starts_at:%Y-%m-%dT%H:%MZ}/{c.ends_at:%Y-%m-%dT%H:%MZ}",
                    str(len(c.entries)),
                    c.title,
                )
            )
            for c in contests()
        ] or [_("No league yet. Create one with `relais leagues create SLUG …`.")]
    click.echo("\n".join(lines))
