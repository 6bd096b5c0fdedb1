"""SQL ranks from an index: a page's rank is 1 + the pages ahead of it,
counted without ranking the board.

Every ranked page has a ``BoardEntry`` (its cause, board, raised and donors)
and each board a tally of its pages per *band* of raised (``BoardBand``). A
band is a coarse, increasing function of raised (``band_of``: the number of
digits and the first three), so the pages ahead of a page are the pages of the
bands above (a sum over at most a few hundred tallies) plus the pages of its
own band with more raised, or as much and more donors (a short index range).
Ties rank as ``RANK()`` over (raised, donors) does: equal figures, equal rank.

The entries follow the database in the same transaction: a flush that adds a
ledger row or changes a page marks its pages (and its event), and before the
commit, or before a rank is read in that transaction, their entries are
recomputed from the page and its totals, under the page's row lock, so that
two writers of one page (a gift and a moderator) never leave a stale entry or
a wrong tally. Bulk writes that bypass the session (``relais totals
rebuild``) call :func:`rebuild`. The reads (a rank, the page above, a slice,
a board's size) are in ``campaigns/standings/board_reads.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from flask import Flask
from flask_sqlalchemy.session import Session
from sqlalchemy import (
    Integer,
    String,
    bindparam,
    case,
    cast,
    delete,
    event,
    func,
    select,
)

from campaigns.fairplay import counting as fair_play
from campaigns.giving.models import Donation
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page
from campaigns.signals import rankings_changed
from campaigns.standings.boards import RANKED_STATUSES
from campaigns.standings.models import BoardBand, BoardEntry
from campaigns.totals.models import Total, TotalScope
from campaigns.totals.services import page_scope_column
from extensions import db, dialect_insert

STALE = "relais.board_stale"  # session.info: page ids whose entries may be behind
# session.info: the marked pages' entries were refreshed and nothing was marked
# since (every write that moves a page's figures flushes a ledger row or a page,
# or sends ``rankings_changed``): the commit need not refresh them once more.
SETTLED = "relais.board_settled"


def band_of(raised: int) -> int:
    """The band of a raised amount: 0 up to zero, then digits * 1000 + the
    first three digits (1..9 -> 1001..1009, 10..99 -> 2010..2099, 100..999 ->
    3100..3999, 1000..1009 -> 4100 …), increasing with raised and less than
    1 % wide; ``band_sql`` is the same in SQL."""
    if raised <= 0:
        return 0
    digits = str(raised)
    return len(digits) * 1000 + int(digits[:3])


def band_sql(raised):
    text = cast(raised, String)
    return case(
        (raised > 0, func.length(text) * 1000 + cast(func.substr(text, 1, 3), Integer)), else_=0
    )


def board_of_kind(is_event: bool) -> str:
    return "events" if is_event else "pages"


# --- what a flush changed --------------------------------------------------------


def touched_by(session) -> Iterator[tuple[int | None, tuple[int | None, ...]]]:
    """(cause id, page ids) of each ledger row, page and cause a flush writes;
    read in ``after_flush``, while the session still lists them."""
    for obj in session.new:
        if isinstance(obj, Donation):
            yield obj.cause_id, (obj.page_id, obj.event_id)
        elif isinstance(obj, Page):
            yield obj.cause_id, (obj.id,)
    for obj in session.dirty:
        if isinstance(obj, Page) and session.is_modified(obj):
            yield obj.cause_id, (obj.id,)
        elif isinstance(obj, Cause) and session.is_modified(obj):
            yield obj.id, ()


def _note(session, page_ids: Iterable[int | None]) -> None:
    ids = {p for p in page_ids if p is not None}
    if ids:
        session.info.setdefault(STALE, set()).update(ids)
        session.info.pop(SETTLED, None)


def _mark(session, _context) -> None:
    for _cause_id, page_ids in touched_by(session):
        _note(session, page_ids)


def settle(session=None) -> None:
    """Bring the marked pages' entries up to date (a read of this transaction's
    ranks sees its own writes): once, until something is marked again. The
    pages' row locks, taken here, are held until the commit."""
    session = session or db.session
    if session.new or session.dirty:
        session.flush()
    if session.info.get(STALE) and not session.info.get(SETTLED):
        refresh(session.info[STALE], session)
        session.info[SETTLED] = True


def _before_commit(session) -> None:
    if session.new or session.dirty:
        session.flush()
    stale, settled = session.info.pop(STALE, None), session.info.pop(SETTLED, None)
    if stale and not settled:
        refresh(stale, session)


def _forget(session, previous) -> None:
    # A savepoint rolled back may have taken refreshed entries with it.
    session.info.pop(SETTLED, None)
    if previous.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(STALE, None)


def _rankings_changed(_sender, cause_id: int | None = None, page_ids=(), **_kwargs) -> None:
    """``rankings_changed``: these pages' entries are recomputed before the commit."""
    _note(db.session, page_ids)


def init_app(app: Flask) -> None:
    """Keep the entries with each transaction (the session events are process-wide)."""
    # blinker keeps one receiver per function and process: connecting again is a no-op.
    rankings_changed.connect(_rankings_changed)
    for name, fn in (
        ("after_flush", _mark),
        ("before_commit", _before_commit),
        ("after_soft_rollback", _forget),
    ):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


# --- writes ----------------------------------------------------------------------


def _figure(column):
    return (
        select(func.coalesce(func.sum(column), 0))
        .where(Total.scope == page_scope_column(), Total.scope_id == Page.id)
        .scalar_subquery()
    )


# Pages read, and entries written, per statement: bounded under the drivers'
# limits on bound parameters (PostgreSQL 65,535; SQLite 32,766), so that a
# transaction that creates or changes thousands of pages refreshes in chunks.
CHUNK = 2000


def refresh(page_ids: Iterable[int], session=None) -> None:
    """Recompute these pages' entries and their bands' tallies from the pages
    and their totals (as this transaction sees them)."""
    session = session or db.session
    ids = sorted(set(page_ids))
    upserts, gone, tallies = [], [], Counter()
    for start in range(0, len(ids), CHUNK):
        _compare(session, ids[start : start + CHUNK], upserts, gone, tallies)
    for start in range(0, len(gone), CHUNK):
        part = gone[start : start + CHUNK]
        session.execute(delete(BoardEntry).where(BoardEntry.page_id.in_(part)))
    for start in range(0, len(upserts), CHUNK // 2):
        stmt = dialect_insert(BoardEntry).values(upserts[start : start + CHUNK // 2])
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[BoardEntry.page_id],
                set_={c: stmt.excluded[c] for c in _ENTRY_COLUMNS[1:]},
            )
        )
    _add_tallies(session, {k: n for k, n in tallies.items() if n})


def _compare(session, ids: list[int], upserts: list, gone: list, tallies: Counter) -> None:
    """What changes for these pages (ids in order): entries to write or drop,
    and the tallies' moves."""
    # The pages' row locks, in id order, then a fresh read (READ COMMITTED):
    # a concurrent writer of one of these pages has committed its entry and
    # tallies before this one reads them, so none is counted twice. FOR NO KEY
    # UPDATE: gifts' foreign keys (KEY SHARE on the page) do not wait for it.
    session.execute(_LOCK_PAGES, {"ids": ids})
    rows = session.execute(_PAGES_AND_ENTRIES, {"ids": ids}).all()
    # Gifts staff excluded from rankings stay in the totals: taken off here.
    excluded = fair_play.excluded_for(ids, session)
    for page_id, cause_id, is_event, status, raised, donors, *stored in rows:
        want = None
        if status in RANKED_STATUSES:
            scope = TotalScope.EVENT if is_event else TotalScope.PAGE
            off_raised, off_donors = excluded.get((str(scope), page_id), (0, 0))
            raised, donors = int(raised) - off_raised, int(donors) - off_donors
            want = (cause_id, board_of_kind(is_event), band_of(raised), raised, donors)
        have = tuple(stored) if stored[0] is not None else None
        if want == have:
            continue
        if have:
            tallies[have[:3]] -= 1
        if want:
            tallies[want[:3]] += 1
            upserts.append(dict(zip(_ENTRY_COLUMNS, (page_id, *want), strict=True)))
        else:
            gone.append(page_id)


_ENTRY_COLUMNS = ("page_id", "cause_id", "board", "band", "raised_minor", "donor_count")
_ids = bindparam("ids", expanding=True)
_LOCK_PAGES = (
    select(Page.id).where(Page.id.in_(_ids)).order_by(Page.id).with_for_update(key_share=True)
)
_PAGES_AND_ENTRIES = (
    select(
        Page.id,
        Page.cause_id,
        Page.is_event,
        Page.status,
        _figure(Total.raised_minor),
        _figure(Total.donor_count),
        BoardEntry.cause_id,
        BoardEntry.board,
        BoardEntry.band,
        BoardEntry.raised_minor,
        BoardEntry.donor_count,
    )
    .outerjoin(BoardEntry, BoardEntry.page_id == Page.id)
    .where(Page.id.in_(_ids))
)


def _add_tallies(session, tallies: dict[tuple[int, str, int], int]) -> None:
    if not tallies:
        return
    # In key order: concurrent writers lock the tallies in the same order.
    stmt = dialect_insert(BoardBand).values(
        [
            {"cause_id": c, "board": b, "band": band, "pages": n}
            for (c, b, band), n in sorted(tallies.items())
        ]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[BoardBand.cause_id, BoardBand.board, BoardBand.band],
            set_={"pages": BoardBand.pages + stmt.excluded.pages},
        )
    )


def rebuild(cause_id: int | None = None) -> int:
    """Replace the entries and tallies (of one cause, or all) with the
    database's pages and totals; returns the number of ranked pages."""
    entries, bands = delete(BoardEntry), delete(BoardBand)
    pages = select(Page.id).where(Page.status.in_(RANKED_STATUSES))
    if cause_id is not None:
        entries = entries.where(BoardEntry.cause_id == cause_id)
        bands = bands.where(BoardBand.cause_id == cause_id)
        pages = pages.where(Page.cause_id == cause_id)
    db.session.execute(entries)
    db.session.execute(bands)
    # Gifts staff excluded from rankings stay in the totals: taken off here.
    off_page = fair_play.excluded_subquery(TotalScope.PAGE)
    off_event = fair_play.excluded_subquery(TotalScope.EVENT)

    def off(column):
        return func.coalesce(
            case((Page.is_event, off_event.c[column]), else_=off_page.c[column]), 0
        )

    figures = (
        select(
            Page.id.label("page_id"),
            Page.cause_id.label("cause_id"),
            case((Page.is_event, "events"), else_="pages").label("board"),
            (_figure(Total.raised_minor) - off("raised")).label("raised"),
            (_figure(Total.donor_count) - off("donors")).label("donors"),
        )
        .outerjoin(off_page, off_page.c.scope_id == Page.id)
        .outerjoin(off_event, off_event.c.scope_id == Page.id)
        .where(Page.id.in_(pages))
        .subquery()
    )
    db.session.execute(
        dialect_insert(BoardEntry).from_select(
            list(_ENTRY_COLUMNS),
            select(
                figures.c.page_id,
                figures.c.cause_id,
                figures.c.board,
                band_sql(figures.c.raised),
                figures.c.raised,
                figures.c.donors,
            ),
        )
    )
    grouped = select(BoardEntry.cause_id, BoardEntry.board, BoardEntry.band, func.count()).group_by(
        BoardEntry.cause_id, BoardEntry.board, BoardEntry.band
    )
    if cause_id is not None:
        grouped = grouped.where(BoardEntry.cause_id == cause_id)
    db.session.execute(
        dialect_insert(BoardBand).from_select(["cause_id", "board", "band", "pages"], grouped)
    )
    count = select(func.count()).select_from(BoardEntry)
    if cause_id is not None:
        count = count.where(BoardEntry.cause_id == cause_id)
    return db.session.scalar(count)
