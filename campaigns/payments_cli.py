"""Operator commands for money: ``relais totals check|rebuild`` and
``relais stripe reconcile``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, text

from campaigns import totals
from campaigns.cli import cli_locale, cli_transaction
from extensions import begin_write, db

totals_cli = click.Group("totals", help="Check or rebuild the totals from the ledger.")
stripe_cli = click.Group("stripe", help="Stripe: reconcile the ledger with Stripe's records.")


def _figures(f: totals.Figures) -> str:
    return _(
        "raised %(raised)s, %(count)s gifts, %(donors)s donors",
        raised=f.raised_minor,
        count=f.donation_count,
        donors=f.donor_count,
    )


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
        begin_write()
        if db.session.get_bind().dialect.name == "postgresql":
            # Gifts committing meanwhile wait, then add to the rebuilt rows.
            db.session.execute(text("LOCK TABLE totals, total_donors IN EXCLUSIVE MODE"))
        count = totals.rebuild()
        click.echo(_("Rebuilt the totals of %(n)s scopes from the ledger.", n=count))
    # Redis leaderboards follow commits of ledger rows, not this bulk rewrite.
    from campaigns import ranks
    from campaigns.models import Cause

    if ranks.enabled():
        for cause_id in db.session.scalars(select(Cause.id)):
            ranks.rebuild(cause_id)


@stripe_cli.command("reconcile")
@click.option(
    "--since",
    default="48h",
    show_default=True,
    help="An ISO date (2026-11-01) or a span back from now (24h, 7d).",
)
@with_appcontext
def reconcile_command(since: str) -> None:
    """Record paid sessions, refunds and disputes the webhooks missed."""
    from campaigns.reconcile import parse_since, reconcile

    with force_locale(cli_locale()):
        try:
            moment = parse_since(since)
        except ValueError:
            raise click.BadParameter(
                _("Give an ISO date such as 2026-11-01, or a span such as 24h or 7d."),
                param_hint="--since",
            ) from None
        key = current_app.config.get("STRIPE_SECRET_KEY")
        if not key:
            raise click.ClickException(
                _("STRIPE_SECRET_KEY is not set: there is no Stripe account to ask.")
            )
        report = reconcile(moment, key)
        labels = {
            "sessions": _("Paid sessions"),
            "refunds": _("Refunds"),
            "disputes": _("Disputes"),
        }
        for kind, counts in report.items():
            click.echo(
                _(
                    "%(kind)s: %(seen)s seen, %(recorded)s recorded, %(duplicate)s already "
                    "in the ledger, %(anomaly)s anomalies.",
                    kind=labels[kind],
                    seen=sum(counts.values()),
                    recorded=counts["recorded"],
                    duplicate=counts["duplicate"],
                    anomaly=counts["anomaly"],
                )
            )
