"""Public screens of organisations: the home page and a cause's page.

They are routes of the ``campaigns`` blueprint, defined in ``campaigns/pages/views.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import (
    current_app,
    render_template,
    request,
)
from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from campaigns import page_cache
from campaigns.discovery import search
from campaigns.fund_use import allocation
from campaigns.giving import discretion
from campaigns.organisations.models import Cause, CauseStatus
from campaigns.page_cache import cached_for_anonymous
from campaigns.pages.models import Page
from campaigns.pages.views import bp
from campaigns.runtime import last_good
from campaigns.standings import leaderboards
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures, figures_one
from campaigns.web import PUBLIC_STATUSES, visible_cause
from extensions import db

TOP_PAGES = 10


@bp.get("/")
@last_good.kept()
def home():
    causes = db.session.scalars(
        select(Cause).where(Cause.status == CauseStatus.PUBLISHED).order_by(Cause.created_at)
    ).all()
    numbers = figures(TotalScope.CAUSE, [c.id for c in causes])
    totals = {c.id: discretion.total("cause", c.id, c.organisation, numbers[c.id]) for c in causes}
    return render_template("campaigns/home.html", causes=causes, totals=totals)


@dataclass(frozen=True)
class EventFilter:
    city: str = ""
    day: date | None = None
    error: str = ""

    @property
    def is_set(self) -> bool:
        return bool(self.city or self.day)


def event_filter(args) -> EventFilter:
    """The city and day a visitor asked the cause page's events for."""
    city = (args.get("city") or "").strip()[:120]
    raw = (args.get("date") or "").strip()
    if not raw:
        return EventFilter(city=city)
    try:
        return EventFilter(city=city, day=date.fromisoformat(raw[:10]))
    except ValueError:
        return EventFilter(city=city, error=_("Give the date as YYYY-MM-DD."))


def events_of(cause: Cause, chosen: EventFilter):
    """Public events and teams of a cause, upcoming first (soonest first), then
    past and undated ones; in a city and on a day (the organiser's) if asked."""
    now = datetime.now(UTC)
    upcoming = case((Page.starts_at >= now, 0), else_=1)
    query = (
        select(Page)
        .where(
            Page.cause_id == cause.id,
            Page.is_event,
            Page.status.in_(PUBLIC_STATUSES),
        )
        .order_by(func.lower(Page.city), upcoming, Page.starts_at, Page.title)
    )
    if chosen.city:
        query = query.where(search.in_city(chosen.city))
    if chosen.day:
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        start = datetime.combine(chosen.day, time(0), zone)
        query = query.where(Page.starts_at >= start, Page.starts_at < start + timedelta(days=1))
    return query


@bp.get("/c/<slug>")
@last_good.kept(filters=("city", "date"))
@cached_for_anonymous
def cause_detail(slug: str):
    cause = visible_cause(slug)
    # The same for everyone allowed to see it (visible_cause has just checked).
    return page_cache.for_signed_in(cause.status, lambda: _cause_html(cause))


def _cause_html(cause: Cause) -> str:
    chosen = event_filter(request.args)
    events = db.session.scalars(events_of(cause, chosen)).all()
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
    money = allocation.cause_money([cause.id]).get(cause.id)
    return render_template(
        "campaigns/cause.html",
        cause=cause,
        total=discretion.total(
            "cause", cause.id, cause.organisation, figures_one(TotalScope.CAUSE, cause.id)
        ),
        events=events,
        event_filter=chosen,
        event_totals=discretion.page_figures(
            events, figures(TotalScope.EVENT, [e.id for e in events])
        ),
        top_pages=top,
        project_totals=figures(TotalScope.PROJECT, [p.id for p in cause.projects]),
        spent=money.spent if money else {},
    )
