"""``relais ranks rebuild|check``: the Redis leaderboards."""

from __future__ import annotations

import click
import redis
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from campaigns.cli_support import cli_locale
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page
from campaigns.standings import rank_reads, ranks
from campaigns.standings.boards import BOARDS
from campaigns.standings.leaderboards import sql_board
from extensions import db

# --- command line ------------------------------------------------------------------

ranks_cli = click.Group("ranks", help="Leaderboards in Redis (REDIS_URL): rebuild or check them.")


def _causes(slug: str | None) -> list[Cause]:
    if not ranks.enabled():
        raise click.ClickException(
            _(
                "Leaderboards come from the database when REDIS_URL is not set: there is "
                "nothing to do. Set REDIS_URL to keep them in Redis."
            )
        )
    query = select(Cause).order_by(Cause.id)
    if slug is not None:
        query = query.where(Cause.slug == slug)
    causes = list(db.session.scalars(query))
    if slug is not None and not causes:
        raise click.ClickException(
            _(
                "There is no cause %(slug)s. Check the slug, or leave out --cause to do "
                "every cause.",
                slug=slug,
            )
        )
    return causes


def _redis_problem(error: Exception) -> click.ClickException:
    return click.ClickException(
        _(
            "Redis could not be used (%(error)s). Check REDIS_URL and run the command again.",
            error=error,
        )
    )


CAUSE_OPTION = click.option(
    "--cause", "slug", default=None, metavar="SLUG", help="Only this cause (its slug)."
)


@ranks_cli.command("rebuild")
@CAUSE_OPTION
@with_appcontext
def rebuild_command(slug: str | None) -> None:
    """Rebuild the leaderboards in Redis from the database (every cause, or one).

    Run it after `relais totals rebuild` or a Redis outage."""
    with force_locale(cli_locale()):
        causes = _causes(slug)
        try:
            pages = sum(ranks.rebuild(cause.id) for cause in causes)
        except (redis.RedisError, ranks.Unavailable) as error:
            raise _redis_problem(error) from None
        click.echo(
            _(
                "Rebuilt the leaderboards of %(n)s causes in Redis (%(pages)s ranked pages).",
                n=len(causes),
                pages=pages,
            )
        )


@ranks_cli.command("check")
@CAUSE_OPTION
@with_appcontext
def check_command(slug: str | None) -> None:
    """Compare the leaderboards in Redis with the database's; exit 1 on a difference."""
    with force_locale(cli_locale()):
        differ = []
        try:
            for cause in _causes(slug):
                events = db.session.scalars(
                    select(Page.id).where(Page.cause_id == cause.id, Page.is_event)
                ).all()
                wanted = [(b, None) for b in BOARDS] + [("pages", e) for e in events]
                for name, parent in wanted:
                    sql = [
                        (e.page_id, e.raised_minor, e.donor_count, e.rank)
                        for e in sql_board(cause.id, name, limit=2**31, parent_id=parent)
                    ]
                    if rank_reads.board(cause.id, name, limit=2**31, parent_id=parent) != sql:
                        differ.append(cause.slug)
                        break
        except (redis.RedisError, ranks.Unavailable) as error:
            raise _redis_problem(error) from None
        if differ:
            click.echo(
                _(
                    "The leaderboards in Redis differ from the database for: %(slugs)s. "
                    "Run `relais ranks rebuild`.",
                    slugs=", ".join(differ),
                ),
                err=True,
            )
            raise SystemExit(1)
        click.echo(_("The leaderboards in Redis match the database."))
