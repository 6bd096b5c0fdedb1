"""Leaderboards: pages and events of a cause ranked by money raised, donor
count breaking ties (equal on both: equal rank). Closed pages keep their
place; hidden and draft pages are not ranked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select

from campaigns.models import Page, PageKind, PageStatus, Total, TotalScope
from extensions import db

BOARDS = ("pages", "events")
RANKED_STATUSES = (PageStatus.PUBLISHED, PageStatus.CLOSED)


@dataclass(frozen=True)
class Entry:
    rank: int
    page_id: int
    slug: str
    title: str
    kind: str
    city: str
    parent_id: int | None
    raised_minor: int
    donor_count: int


def _ranked(cause_id: int, board: str, parent_id: int | None = None):
    """A subquery of every ranked page of one board with its figures and rank."""
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r}")
    scope = TotalScope.EVENT if board == "events" else TotalScope.PAGE
    figures = (
        select(
            Total.scope_id.label("page_id"),
            func.sum(Total.raised_minor).label("raised"),
            func.sum(Total.donor_count).label("donors"),
        )
        .where(Total.scope == scope)
        .group_by(Total.scope_id)
        .subquery()
    )
    raised = func.coalesce(figures.c.raised, 0)
    donors = func.coalesce(figures.c.donors, 0)
    kinds = (PageKind.EVENT, PageKind.TEAM) if board == "events" else (PageKind.PERSONAL,)
    query = (
        select(
            Page.id.label("page_id"),
            Page.slug,
            Page.title,
            Page.kind,
            Page.city,
            Page.parent_id,
            raised.label("raised"),
            donors.label("donors"),
            func.rank().over(order_by=(raised.desc(), donors.desc())).label("rank"),
        )
        .outerjoin(figures, figures.c.page_id == Page.id)
        .where(
            and_(
                Page.cause_id == cause_id,
                Page.kind.in_(kinds),
                Page.status.in_(RANKED_STATUSES),
            )
        )
    )
    if parent_id is not None:
        query = query.where(Page.parent_id == parent_id)
    return query.subquery()


def _entry(row) -> Entry:
    return Entry(
        rank=int(row.rank),
        page_id=row.page_id,
        slug=row.slug,
        title=row.title,
        kind=str(row.kind),
        city=row.city or "",
        parent_id=row.parent_id,
        raised_minor=int(row.raised),
        donor_count=int(row.donors),
    )


def board(
    cause_id: int,
    board: str = "pages",
    *,
    limit: int = 10,
    offset: int = 0,
    parent_id: int | None = None,
) -> list[Entry]:
    """The top of one board (``parent_id``: the member pages of one event)."""
    ranked = _ranked(cause_id, board, parent_id)
    rows = db.session.execute(
        select(ranked).order_by(ranked.c.rank, ranked.c.page_id).limit(limit).offset(offset)
    ).all()
    return [_entry(row) for row in rows]


def rank_of(page: Page) -> Entry | None:
    """The page's place in its board (pages or events), or None if unranked."""
    if page.status not in RANKED_STATUSES:
        return None
    board_name = "events" if page.kind in (PageKind.EVENT, PageKind.TEAM) else "pages"
    ranked = _ranked(page.cause_id, board_name)
    row = db.session.execute(select(ranked).where(ranked.c.page_id == page.id)).first()
    return _entry(row) if row else None


def neighbour_above(page: Page) -> Entry | None:
    """The nearest page ranked strictly above this one: "the gap to the next rank"."""
    mine = rank_of(page)
    if mine is None or mine.rank == 1:
        return None
    ranked = _ranked(page.cause_id, "events" if page.kind != PageKind.PERSONAL else "pages")
    row = db.session.execute(
        select(ranked)
        .where(ranked.c.rank < mine.rank)
        .order_by(ranked.c.rank.desc(), ranked.c.page_id)
        .limit(1)
    ).first()
    return _entry(row) if row else None
