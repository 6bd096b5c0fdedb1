"""The organisation's dashboard: what staff watch during a campaign.

Every function takes ids and only reads. Figures per cause, project, event and
page come from the stored totals (``campaigns.totals.services``), never from summing
the ledger per request; the time series (``campaigns.dashboard.charts``) and the
unattributed money have no stored total and are read from the ledger. Each
function runs a fixed number of queries whatever the number of pages, so the
dashboard stays fast during a campaign's busiest night.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, func, select, union_all

from campaigns.errors import NotFound
from campaigns.organisations.models import Cause, CauseStatus, Project
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.signals import first_answer, message_counts
from campaigns.signals import share_funnel as share_funnel_signal
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db


def wall_clock() -> ZoneInfo:
    """The organisers' time zone: the one services.parse_datetime reads naive
    times in and the pages show times in (organisations have no zone of their own)."""
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Europe/Paris")


@dataclass(frozen=True)
class Row:
    """A cause, project, event or page with its stored figures."""

    id: int
    slug: str
    title: str
    goal_minor: int
    raised_minor: int
    donation_count: int
    donor_count: int
    kind: str = ""
    status: str = ""
    city: str = ""
    # Stripe's fees on what was raised (gross): net is raised minus fees.
    fees_minor: int = 0
    # What donors added to cover the fees, when not counted as raised (covers.py).
    covers_minor: int = 0

    @property
    def net_minor(self) -> int:
        return self.raised_minor + self.covers_minor - self.fees_minor

    @property
    def goal_percent(self) -> int | None:
        if not self.goal_minor:
            return None
        return max(0, int(self.raised_minor * 100 // self.goal_minor))


# --- causes -------------------------------------------------------------------


def causes(organisation_id: int) -> list[Cause]:
    return list(
        db.session.scalars(
            select(Cause)
            .where(Cause.organisation_id == organisation_id)
            .order_by(Cause.created_at, Cause.id)
        )
    )


def choose_cause(all_causes: list[Cause], slug: str | None) -> Cause | None:
    """The cause named by ``slug``, else the first published one, else the first."""
    if slug:
        for cause in all_causes:
            if cause.slug == slug:
                return cause
        raise NotFound(_("This organisation has no cause at this address. Choose one in the list."))
    published = [c for c in all_causes if c.status == CauseStatus.PUBLISHED]
    return (published or all_causes or [None])[0]


def cause_rows(all_causes: list[Cause]) -> list[Row]:
    figures = totals.figures(TotalScope.CAUSE, [c.id for c in all_causes])
    return [_row(c, figures[c.id], status=str(c.status)) for c in all_causes]


def projects(cause_id: int) -> list[Row]:
    found = db.session.scalars(
        select(Project).where(Project.cause_id == cause_id).order_by(Project.position, Project.id)
    ).all()
    figures = totals.figures(TotalScope.PROJECT, [p.id for p in found])
    return [
        Row(
            p.id,
            p.slug,
            p.name,
            p.goal_minor,
            *_numbers(figures[p.id]),
            fees_minor=figures[p.id].fees_minor,
            covers_minor=figures[p.id].covers_minor,
        )
        for p in found
    ]


def _numbers(figures: totals.Figures) -> tuple[int, int, int]:
    return figures.raised_minor, figures.donation_count, figures.donor_count


def _row(cause: Cause, figures: totals.Figures, **extra) -> Row:
    return Row(
        cause.id,
        cause.slug,
        cause.title,
        cause.goal_minor,
        *_numbers(figures),
        fees_minor=figures.fees_minor,
        covers_minor=figures.covers_minor,
        **extra,
    )


# --- pages, events and cities (stored totals) -----------------------------------


def _figures(scope: TotalScope, cause_id: int):
    return totals.figures_subquery(scope, select(Page.id).where(Page.cause_id == cause_id))


def _ranked_pages(cause_id: int, *, events: bool, limit: int) -> list[Row]:
    figures = _figures(TotalScope.EVENT if events else TotalScope.PAGE, cause_id)
    raised = func.coalesce(figures.c.raised, 0)
    donors = func.coalesce(figures.c.donors, 0)
    rows = db.session.execute(
        select(
            Page.id,
            Page.slug,
            Page.title,
            Page.goal_minor,
            raised,
            func.coalesce(figures.c.gifts, 0),
            donors,
            Page.kind,
            Page.status,
            Page.city,
            func.coalesce(figures.c.fees, 0),
            func.coalesce(figures.c.covers, 0),
        )
        .outerjoin(figures, figures.c.page_id == Page.id)
        .where(
            Page.cause_id == cause_id,
            Page.is_event if events else Page.kind == PageKind.PERSONAL,
            Page.status != PageStatus.DRAFT,
        )
        .order_by(raised.desc(), donors.desc(), Page.id)
        .limit(limit)
    ).all()
    return [
        Row(
            r[0],
            r[1],
            r[2],
            r[3],
            int(r[4]),
            int(r[5]),
            int(r[6]),
            str(r[7]),
            str(r[8]),
            r[9],
            fees_minor=int(r[10]),
            covers_minor=int(r[11]),
        )
        for r in rows
    ]


def top_pages(cause_id: int, limit: int = 20) -> list[Row]:
    """Personal pages by money raised on them (drafts cannot receive money)."""
    return _ranked_pages(cause_id, events=False, limit=limit)


def events(cause_id: int, limit: int = 100) -> list[Row]:
    """Event and team pages by money raised on them and on their member pages."""
    return _ranked_pages(cause_id, events=True, limit=limit)


def page_counts(cause_id: int) -> dict[str, int]:
    """How many personal pages and how many events a cause has (drafts left out)."""
    is_event = case((Page.is_event, "events"), else_="pages")
    rows = db.session.execute(
        select(is_event.label("page_group"), func.count())
        .where(Page.cause_id == cause_id, Page.status != PageStatus.DRAFT)
        .group_by("page_group")
    )
    counts = {"pages": 0, "events": 0}
    counts.update({group: int(n) for group, n in rows})
    return counts


@dataclass(frozen=True)
class City:
    name: str
    raised_minor: int
    donation_count: int
    page_count: int


def top_cities(cause_id: int, limit: int = 10) -> list[City]:
    """Cities by money raised: an event counts with its member pages, and a
    personal page outside any event counts where it says it is."""
    event_figures = _figures(TotalScope.EVENT, cause_id)
    page_figures = _figures(TotalScope.PAGE, cause_id)
    in_cause = (Page.cause_id == cause_id, Page.status != PageStatus.DRAFT, Page.city != "")
    parts = union_all(
        select(
            Page.city.label("city"),
            func.coalesce(event_figures.c.raised, 0).label("raised"),
            func.coalesce(event_figures.c.gifts, 0).label("gifts"),
        )
        .outerjoin(event_figures, event_figures.c.page_id == Page.id)
        .where(*in_cause, Page.is_event),
        select(
            Page.city.label("city"),
            func.coalesce(page_figures.c.raised, 0).label("raised"),
            func.coalesce(page_figures.c.gifts, 0).label("gifts"),
        )
        .outerjoin(page_figures, page_figures.c.page_id == Page.id)
        .where(*in_cause, Page.kind == PageKind.PERSONAL, Page.parent_id.is_(None)),
    ).subquery()
    raised = func.sum(parts.c.raised)
    rows = db.session.execute(
        select(parts.c.city, raised, func.sum(parts.c.gifts), func.count())
        .group_by(parts.c.city)
        .order_by(raised.desc(), parts.c.city)
        .limit(limit)
    ).all()
    return [City(r[0], int(r[1] or 0), int(r[2] or 0), int(r[3])) for r in rows]


# --- messaging (it answers the signals; campaigns never imports it) -------------

OUTBOX_STATES = ("queued", "in_flight", "sent", "failed", "dead", "review")


def outbox_health(organisation_id: int) -> dict[str, int]:
    """Messages per delivery state, every state present (zero when none)."""
    counts = first_answer(message_counts, organisation_id) or {}
    return {state: counts.get(state, 0) for state in OUTBOX_STATES}


@dataclass(frozen=True)
class Channel:
    channel: str
    clicks: int
    gifts: int
    amount_minor: int

    @property
    def conversion_percent(self) -> float | None:
        """Gifts per hundred clicks (a gift may come without a counted click)."""
        if not self.clicks:
            return None
        return round(self.gifts * 100 / self.clicks, 1)


def share_funnel(cause: Cause) -> list[Channel]:
    """Clicks → gifts → net amount per share channel for the cause's pages."""
    stats = first_answer(share_funnel_signal, cause) or {}
    return [
        Channel(channel, s["clicks"], s["gifts"], s["amount_minor"]) for channel, s in stats.items()
    ]
