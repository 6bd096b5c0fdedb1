"""``relais stripe reconcile``: fetch what the webhooks missed."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from campaigns.cli_support import cli_locale

stripe_cli = click.Group("stripe", help="Stripe: reconcile the ledger with Stripe's records.")


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
    from campaigns.giving.reconcile import parse_since, reconcile

    with force_locale(cli_locale()):
        try:
            moment = parse_since(since)
        except ValueError:
            raise click.BadParameter(
                _("Give an ISO date such as 2026-11-01, or a span such as 24h or 7d."),
                param_hint="--since",
            ) from None
        if not current_app.config.get("STRIPE_SECRET_KEY"):
            raise click.ClickException(
                _("STRIPE_SECRET_KEY is not set: there is no Stripe account to ask.")
            )
        report = reconcile(moment)
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
