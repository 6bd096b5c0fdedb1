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


receipts_cli = click.Group("receipts", help="Receipts: the yearly reçu fiscal of each donor.")


@receipts_cli.command("yearly")
@click.option("--year", type=int, required=True, help="The calendar year, e.g. 2026.")
@click.option("--org", "org_slug", required=True, help="The organisation's slug.")
@click.option("--email", default=None, help="Only this donor's address.")
@with_appcontext
def yearly_command(year: int, org_slug: str, email: str | None) -> None:
    """Sum each donor's gifts of the year (one-off, monthly, offline), covers
    included, refunds taken off: the figures of the yearly reçu fiscal."""
    from sqlalchemy import select

    from campaigns.giving.yearly import statement
    from campaigns.money import format_money
    from campaigns.organisations.models import Organisation
    from extensions import db

    with force_locale(cli_locale()):
        if not 1900 <= year <= 9998:
            raise click.BadParameter(_("Give a year such as 2026."), param_hint="--year")
        org = db.session.scalar(select(Organisation).where(Organisation.slug == org_slug))
        if org is None:
            raise click.ClickException(_("No organisation has the slug %(slug)s.", slug=org_slug))
        rows = statement(org.id, year, email)
        if not rows:
            click.echo(_("No gift with a donor address in %(year)s.", year=year))
            return
        locale = cli_locale()
        for row in rows:
            click.echo(
                "\t".join(
                    (
                        row.email,
                        row.name or "-",
                        _(
                            "%(n)s gifts (%(monthly)s monthly)",
                            n=row.gifts,
                            monthly=row.monthly_gifts,
                        ),
                        _(
                            "covers %(amount)s",
                            amount=format_money(row.covers_minor, row.currency, locale),
                        ),
                        _(
                            "refunded %(amount)s",
                            amount=format_money(row.refunded_minor, row.currency, locale),
                        ),
                        _(
                            "deductible %(amount)s",
                            amount=format_money(row.deductible_minor, row.currency, locale),
                        ),
                    )
                )
            )
