"""Leaderboards: pages and events of a cause ranked by money raised, donor
count breaking ties (equal on both: equal rank). Closed pages keep their
place; hidden and draft pages are not ranked.

Two backends give the same answers: indexed SQL (the embedded default), and
Redis sorted sets when ``REDIS_URL`` is set (``campaigns.standings.ranks``). A session
that wrote to a cause and has not committed reads that cause from SQL, which
sees its own writes; so does any read while Redis cannot answer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import select

from campaigns.giving import discretion
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page
from campaigns.standings import board_reads, rank_reads, ranks
from campaigns.standings.boards import BOARDS, RANKED_STATUSES, ranked_query
from extensions import db


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


def _entry_of(rank, page_id: int, page: tuple, raised, donors) -> Entry:
    """An entry from its figures and the page's slug, title, kind, city and parent."""
    slug, title, kind, city, parent_id = page
    return Entry(
        rank=int(rank),
        page_id=page_id,
        slug=slug,
        title=title,
        kind=str(kind),
        city=city or "",
        parent_id=parent_id,
        raised_minor=int(raised),
        donor_count=int(donors),
    )


def _entry(row) -> Entry:
    """An entry from a row of ``ranked``."""
    page = (row.slug, row.title, row.kind, row.city, row.parent_id)
    return _entry_of(row.rank, row.page_id, page, row.raised, row.donors)


def _redis_for(cause_id: int) -> bool:
    """Whether this cause's ranks may come from Redis in this session now."""
    if not ranks.enabled():
        return False
    if db.session.new or db.session.dirty:
        db.session.flush()  # what a SQL read would do first (autoflush)
    return cause_id not in ranks.uncommitted(db.session)


def _metadata(page_ids: list[int]) -> dict[int, tuple]:
    """slug, title, kind, city and parent of pages ranked in Redis, by id."""
    out: dict[int, tuple] = {}
    for start in range(0, len(page_ids), 500):
        rows = db.session.execute(
            select(Page.id, Page.slug, Page.title, Page.kind, Page.city, Page.parent_id).where(
                Page.id.in_(page_ids[start : start + 500])
            )
        )
        out.update({row[0]: tuple(row[1:]) for row in rows})
    return out


def _entries(rows: list[tuple[int, int, int, int]]) -> list[Entry]:
    meta = _metadata([row[0] for row in rows])
    return [
        _entry_of(rank, page_id, meta[page_id], raised, donors)
        for page_id, raised, donors, rank in rows
        if page_id in meta
    ]


def _board_of(page: Page) -> str:
    return "events" if page.is_event else "pages"


def _discreet(cause_id: int, entries: list[Entry]) -> list[Entry]:
    """Entries whose figure would tell a hidden gift's amount, shown as the
    organisation chose (``campaigns.giving.discretion``); their rank stays."""
    if not entries:
        return entries
    rows = [
        (e.page_id, e.kind in ranks.EVENT_KINDS, e.raised_minor, e.donor_count) for e in entries
    ]
    if not any(raised > 0 and donors <= 1 for _, _, raised, donors in rows):
        return entries
    shown = discretion.masked(rows, db.session.get(Cause, cause_id).organisation)
    return [
        dataclasses.replace(e, raised_minor=shown[e.page_id]) if e.page_id in shown else e
        for e in entries
    ]


def board(
    cause_id: int,
    board: str = "pages",
    *,
    limit: int = 10,
    offset: int = 0,
    parent_id: int | None = None,
) -> list[Entry]:
    """The top of one board (``parent_id``: the member pages of one event)."""
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r}")
    # Member boards hold personal pages: an "events" board of an event is empty in SQL.
    if _redis_for(cause_id) and not (parent_id is not None and board == "events"):
        try:
            rows = rank_reads.board(
                cause_id, board, limit=limit, offset=offset, parent_id=parent_id
            )
        except ranks.Unavailable:
            pass
        else:
            return _entries(rows)
    return sql_board(cause_id, board, limit=limit, offset=offset, parent_id=parent_id)


def public_board(cause_id: int, name: str = "pages", **options) -> list[Entry]:
    """``board`` as the public sees it (pages, the API, the live stream, open
    data): a figure that would tell a hidden gift's amount rounded or hidden.
    Messages and rank snapshots read ``board``, the real figures."""
    return _discreet(cause_id, board(cause_id, name, **options))


def public_rank_of(page: Page) -> Entry | None:
    """``rank_of`` as the public sees it (see ``public_board``)."""
    entry = rank_of(page)
    return _discreet(page.cause_id, [entry])[0] if entry else None


def sql_board(
    cause_id: int,
    board: str = "pages",
    *,
    limit: int = 10,
    offset: int = 0,
    parent_id: int | None = None,
) -> list[Entry]:
    """``board`` from SQL, whatever the configuration: the cause's boards from
    the rank index, an event's member board ranked whole (it is small)."""
    if parent_id is None:
        if board not in BOARDS:
            raise ValueError(f"unknown board {board!r}")
        return _entries(board_reads.top(cause_id, board, limit=limit, offset=offset))
    ranked = ranked_query(cause_id, board, parent_id)
    rows = db.session.execute(
        select(ranked).order_by(ranked.c.rank, ranked.c.page_id).limit(limit).offset(offset)
    ).all()
    return [_entry(row) for row in rows]


def rank_of(page: Page) -> Entry | None:
    """The page's place in its board (pages or events), or None if unranked."""
    if page.status not in RANKED_STATUSES:
        return None
    if _redis_for(page.cause_id):
        try:
            found = rank_reads.rank(page.cause_id, _board_of(page), page.id)
        except ranks.Unavailable:
            pass
        else:
            if found is None:
                return None
            rank, raised, donors = found
            meta = (page.slug, page.title, page.kind, page.city, page.parent_id)
            return _entry_of(rank, page.id, meta, raised, donors)
    return sql_rank_of(page)


def sql_rank_of(page: Page) -> Entry | None:
    """``rank_of`` from SQL, whatever the configuration."""
    if page.status not in RANKED_STATUSES:
        return None
    found = board_reads.rank(page.id)
    if found is None:
        return None
    rank, raised, donors = found
    meta = (page.slug, page.title, page.kind, page.city, page.parent_id)
    return _entry_of(rank, page.id, meta, raised, donors)


def neighbour_above(page: Page) -> Entry | None:
    """The nearest page ranked strictly above this one: "the gap to the next rank"."""
    if page.status in RANKED_STATUSES and _redis_for(page.cause_id):
        try:
            found = rank_reads.above(page.cause_id, _board_of(page), page.id)
        except ranks.Unavailable:
            pass
        else:
            return _entries([found])[0] if found else None
    return sql_neighbour_above(page)


def sql_neighbour_above(page: Page) -> Entry | None:
    """``neighbour_above`` from SQL, whatever the configuration."""
    if page.status not in RANKED_STATUSES:
        return None
    found = board_reads.above(page.id)
    return _entries([found])[0] if found else None
