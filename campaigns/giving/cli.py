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


@stripe_cli.command("fees")
@with_appcontext
def fees_command() -> None:
    """Book Stripe's fee of each card gift (and its refunds) not known yet."""
    from campaigns.cli_support import cli_transaction
    from campaigns.giving.fee_lookup import record_fees

    with force_locale(cli_locale()):
        if not current_app.config.get("STRIPE_SECRET_KEY"):
            raise click.ClickException(
                _("STRIPE_SECRET_KEY is not set: there is no Stripe account to ask.")
            )
        with cli_transaction():
            report = record_fees()
        click.echo(
            _(
                "Fees: %(recorded)s recorded, %(duplicate)s already in the ledger, "
                "%(unanswered)s without an answer from Stripe (asked again later).",
                recorded=report["recorded"],
                duplicate=report["duplicate"],
                unanswered=report["unanswered"],
            )
        )


@stripe_cli.command("anomalies")
@with_appcontext
def anomalies_command() -> None:
    """List the open Stripe events no organisation owns (unknown accounts…)."""
    from campaigns.dashboard.attention import anomalies

    with force_locale(cli_locale()):
        count, rows = anomalies(None, limit=1000)
        for event in rows:
            click.echo(
                "\t".join(
                    [
                        event.received_at.isoformat(timespec="seconds"),
                        event.id,
                        event.type,
                        event.stripe_account_id or "-",
                        event.detail,
                    ]
                )
            )
        click.echo(_("%(n)s open events no organisation owns.", n=count))
