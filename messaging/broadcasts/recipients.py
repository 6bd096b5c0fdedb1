"""Who a fan-out writes to, and where each of them stands: the (agent, page)
rows in one query, and the cause's money, ranks, gaps and events computed once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, union
from sqlalchemy.sql import Select

from agents.models import Agent
from campaigns.pages.models import Page, PageHost
from campaigns.standings import boards as standings_boards
from campaigns.standings import leaderboards as standings_leaderboards
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db


@dataclass(frozen=True)
class Recipient:
    agent_id: int
    agent_name: str
    agent_email: str | None
    agent_locale: str
    page_id: int
    page_slug: str
    page_title: str
    page_kind: str
    page_city: str
    page_goal: int
    page_parent_id: int | None


@dataclass(frozen=True)
class Standing:
    """A page's money and place on its board when the fan-out started."""

    rank: int | None = None
    raised_minor: int = 0
    donor_count: int = 0
    gap_minor: int | None = None  # to the nearest page ranked above; None at the top
    above_title: str = ""


@dataclass(frozen=True)
class EventInfo:
    title: str
    slug: str
    city: str
    raised_minor: int
    rank: int | None


@dataclass
class Places:
    """Standings of a cause's pages and the figures of its events."""

    pages: dict[int, Standing]
    events: dict[int, EventInfo]
    cause_raised: int


def people_of(pages: Select) -> Select:
    """(agent_id, page_id) for a query of pages (id, owner_id): each page's owner
    and co-hosts (events have them), without deleted or deactivated agents."""
    pages = pages.subquery()
    owners = select(pages.c.owner_id.label("agent_id"), pages.c.id.label("page_id"))
    cohosts = select(PageHost.agent_id.label("agent_id"), PageHost.page_id.label("page_id")).join(
        pages, pages.c.id == PageHost.page_id
    )
    pairs = union(owners, cohosts).subquery()
    return (
        select(pairs.c.agent_id, pairs.c.page_id)
        .join(Agent, Agent.id == pairs.c.agent_id)
        .where(Agent.active.is_(True), Agent.deleted_at.is_(None))
    )


def recipients(pairs: Select) -> list[Recipient]:
    """The agent and page fields for (agent_id, page_id) pairs, as plain rows."""
    sub = pairs.subquery()
    rows = db.session.execute(
        select(
            Agent.id,
            Agent.name,
            Agent.email,
            Agent.locale,
            Page.id,
            Page.slug,
            Page.title,
            Page.kind,
            Page.city,
            Page.goal_minor,
            Page.parent_id,
        )
        .select_from(sub)
        .join(Agent, Agent.id == sub.c.agent_id)
        .join(Page, Page.id == sub.c.page_id)
        .order_by(Agent.id, Page.id)
    ).all()
    return [
        Recipient(
            agent_id=r[0],
            # The same name Agent.display_name gives.
            agent_name=r[1] or (r[2] or "").split("@")[0],
            agent_email=r[2],
            agent_locale=r[3] or "",
            page_id=r[4],
            page_slug=r[5],
            page_title=r[6],
            page_kind=str(r[7]),
            page_city=r[8] or "",
            page_goal=int(r[9] or 0),
            page_parent_id=r[10],
        )
        for r in rows
    ]


def places(cause_id: int, only: Iterable[int] | None = None) -> Places:
    """Ranks, money and gaps of a cause's pages in bulk (both boards), the
    figures of its events and the cause's total.

    ``only``: a few page ids, ranked one by one in SQL instead of the whole
    cause in Python (a signal receiver for one page)."""
    pages: dict[int, Standing] = {}
    if only is not None:
        for page in db.session.scalars(select(Page).where(Page.id.in_(list(only)))):
            pages[page.id] = standing_of(page)
    else:
        for board in standings_boards.BOARDS:
            entries = standings_leaderboards.board(cause_id, board, limit=10_000_000)
            above, group_rank, group_first = None, None, None
            for entry in entries:
                if entry.rank != group_rank:
                    # The nearest page above is the first of the previous rank group.
                    above, group_rank, group_first = group_first, entry.rank, entry
                pages[entry.page_id] = Standing(
                    rank=entry.rank,
                    raised_minor=entry.raised_minor,
                    donor_count=entry.donor_count,
                    gap_minor=max(0, above.raised_minor - entry.raised_minor) if above else None,
                    above_title=above.title if above else "",
                )
    events = db.session.execute(
        select(Page.id, Page.title, Page.slug, Page.city).where(
            Page.cause_id == cause_id, Page.is_event
        )
    ).all()
    figures = totals.figures(TotalScope.EVENT, [e.id for e in events])
    ranks = {
        e.page_id: e.rank
        for e in standings_leaderboards.board(cause_id, "events", limit=10_000_000)
    }
    return Places(
        pages=pages,
        events={
            e.id: EventInfo(
                e.title, e.slug, e.city or "", figures[e.id].raised_minor, ranks.get(e.id)
            )
            for e in events
        },
        cause_raised=totals.figures_one(TotalScope.CAUSE, cause_id).raised_minor,
    )


def standing_of(page: Page) -> Standing:
    """One page's standing, ranked in SQL."""
    figures = totals.figures_one(totals.page_scope(page.kind), page.id)
    mine = standings_leaderboards.rank_of(page)
    above = standings_leaderboards.neighbour_above(page) if mine else None
    return Standing(
        rank=mine.rank if mine else None,
        raised_minor=figures.raised_minor,
        donor_count=figures.donor_count,
        gap_minor=max(0, above.raised_minor - mine.raised_minor) if above and mine else None,
        above_title=above.title if above else "",
    )
