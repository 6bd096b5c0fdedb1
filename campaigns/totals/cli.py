"""``relais totals check|rebuild``: compare the totals with the ledger, repair them."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, text

from campaigns.cli_support import cli_locale, cli_transaction
from campaigns.totals import services as totals
from campaigns.totals.rebuild import rebuild
from extensions import db

totals_cli = click.Group("totals", help="Check or rebuild the totals from the ledger.")


def _figures(f: totals.Figures) -> str:
    text = _(
        "raised %(raised)s, %(count)s gifts, %(donors)s donors",
        raised=f.raised_minor,
        count=f.donation_count,
        donors=f.donor_count,
    )
    if f.fees_minor:
        text += ", " + _("fees %(fees)s", fees=f.fees_minor)
    return text


@totals_cli.command("check")
@with_appcontext
def check_command() -> None:
    """Recompute every total from the ledger and print any drift (exit 1 on drift)."""
    with force_locale(cli_locale()):
        drift = totals.drift()
        for (scope, scope_id), have, want in drift:
            click.echo(
                _(
                    "%(scope)s %(id)s: stored %(stored)s; ledger %(ledger)s",
                    scope=scope,
                    id=scope_id,
                    stored=_figures(have),
                    ledger=_figures(want),
                )
            )
        if drift:
            click.echo(
                _(
                    "%(n)s totals differ from the ledger. Run `relais totals rebuild` to "
                    "repair them.",
                    n=len(drift),
                ),
                err=True,
            )
            raise SystemExit(1)
        click.echo(_("Totals match the ledger."))


@totals_cli.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Replace every stored total with the ledger's figures."""
    with cli_transaction():
        if db.session.get_bind().dialect.name == "postgresql":
            # Gifts committing meanwhile wait, then add to the rebuilt rows; so
            # do page changes (their rank entries are rebuilt below). Readers read.
            db.session.execute(
                text(
                    "LOCK TABLE totals, total_donors, pages, board_entries, board_bands "
                    "IN EXCLUSIVE MODE"
                )
            )
        count = rebuild()
        # The SQL rank index follows the session's writes, not this bulk rewrite.
        from campaigns.standings import board_index

        board_index.rebuild()
        click.echo(_("Rebuilt the totals of %(n)s scopes from the ledger.", n=count))
    # Redis leaderboards follow commits of ledger rows, not this bulk rewrite.
    from campaigns.organisations.models import Cause
    from campaigns.standings import ranks

    if ranks.enabled():
        for cause_id in db.session.scalars(select(Cause.id)):
            ranks.rebuild(cause_id)
