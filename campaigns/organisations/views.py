"""Public screens of organisations: the home page and a cause's page.

They are routes of the ``campaigns`` blueprint, defined in ``campaigns/pages/views.py``.
"""

from __future__ import annotations

from flask import (
    render_template,
)
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from campaigns.fund_use import services as expenses
from campaigns.giving import discretion
from campaigns.organisations.models import Cause, CauseStatus
from campaigns.page_cache import cached_for_anonymous
from campaigns.pages.models import Page, PageKind
from campaigns.pages.views import bp
from campaigns.standings import leaderboards
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures, figures_one
from campaigns.web import PUBLIC_STATUSES, visible_cause
from extensions import db

TOP_PAGES = 10


@bp.get("/")
def home():
    causes = db.session.scalars(
        select(Cause).where(Cause.status == CauseStatus.PUBLISHED).order_by(Cause.created_at)
    ).all()
    numbers = figures(TotalScope.CAUSE, [c.id for c in causes])
    totals = {c.id: discretion.total("cause", c.id, c.organisation, numbers[c.id]) for c in causes}
    return render_template("campaigns/home.html", causes=causes, totals=totals)


@bp.get("/c/<slug>")
@cached_for_anonymous
def cause_detail(slug: str):
    cause = visible_cause(slug)
    events = db.session.scalars(
        select(Page)
        .where(
            Page.cause_id == cause.id,
            Page.kind.in_((PageKind.EVENT, PageKind.TEAM)),
            Page.status.in_(PUBLIC_STATUSES),
        )
        .order_by(func.lower(Page.city), Page.starts_at, Page.title)
    ).all()
    # The same ranking as the public leaderboard (raised, then donors).
    entries = leaderboards.public_board(cause.id, "pages", limit=TOP_PAGES)
    by_id = {
        p.id: p
        for p in db.session.scalars(
            select(Page)
            .where(Page.id.in_([e.page_id for e in entries]))
            .options(selectinload(Page.owner))
        )
    }
    top = [(by_id[e.page_id], e.raised_minor) for e in entries]
    money = expenses.cause_money([cause.id]).get(cause.id)
    return render_template(
        "campaigns/cause.html",
        cause=cause,
        total=discretion.total(
            "cause", cause.id, cause.organisation, figures_one(TotalScope.CAUSE, cause.id)
        ),
        events=events,
        event_totals=discretion.page_figures(
            events, figures(TotalScope.EVENT, [e.id for e in events])
        ),
        top_pages=top,
        project_totals=figures(TotalScope.PROJECT, [p.id for p in cause.projects]),
        spent=money.spent if money else {},
    )
