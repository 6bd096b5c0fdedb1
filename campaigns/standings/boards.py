"""The boards of a cause and the SQL that ranks one (RANK() over raised, then donors;
gifts staff excluded from rankings left out, ``campaigns.fairplay.counting``).

Both the SQL leaderboards and the Redis ranks use this module.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select

from campaigns.fairplay import counting as fair_play
from campaigns.pages.models import EVENT_KINDS, Page, PageKind, PageStatus
from campaigns.totals.models import Total, TotalScope

BOARDS = ("pages", "events")
RANKED_STATUSES = (PageStatus.PUBLISHED, PageStatus.CLOSED)


def ranked_query(cause_id: int, board: str, parent_id: int | None = None):
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
    # Gifts staff excluded from rankings stay in the totals: taken off here.
    excluded = fair_play.excluded_subquery(scope)
    raised = func.coalesce(figures.c.raised, 0) - func.coalesce(excluded.c.raised, 0)
    donors = func.coalesce(figures.c.donors, 0) - func.coalesce(excluded.c.donors, 0)
    kinds = EVENT_KINDS if board == "events" else (PageKind.PERSONAL,)
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
        .outerjoin(excluded, excluded.c.scope_id == Page.id)
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
