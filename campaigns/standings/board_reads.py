"""Reads of the SQL rank index (``board_index``): a page's rank, the page
above it, a slice of a board and a board's size, each one index range and a
sum over the board's band tallies. Every read first settles what this
transaction changed (``board_index.settle``), so it sees its own writes.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, bindparam, func, select, tuple_

from campaigns.standings.board_index import settle
from campaigns.standings.models import BoardBand, BoardEntry
from extensions import db

# Built once: a rank is read per page view and per message, and building the
# statement costs more than running it.

_entries = BoardEntry.__table__
_bands = BoardBand.__table__


def _ahead(cause_id, board, band, raised, donors):
    """The number of pages ahead of these figures (columns or parameters) in
    one board: the bands above, then the pages of the same band with more."""
    other = _entries.alias("other")
    above = (
        select(func.coalesce(func.sum(_bands.c.pages), 0))
        .where(_bands.c.cause_id == cause_id, _bands.c.board == board, _bands.c.band > band)
        .scalar_subquery()
    )
    within = (
        select(func.count())
        .select_from(other)
        .where(
            other.c.cause_id == cause_id,
            other.c.board == board,
            other.c.band == band,
            tuple_(other.c.raised_minor, other.c.donor_count) > tuple_(raised, donors),
        )
        .scalar_subquery()
    )
    return above + within


def _params():
    return (
        bindparam("cause_id", type_=Integer),
        bindparam("board", type_=String),
        bindparam("band", type_=Integer),
        bindparam("raised", type_=BigInteger),
        bindparam("donors", type_=Integer),
    )


_e = _entries.c
_RANK = select(
    1 + _ahead(_e.cause_id, _e.board, _e.band, _e.raised_minor, _e.donor_count),
    _e.raised_minor,
    _e.donor_count,
).where(_e.page_id == bindparam("page_id"))
_cause, _board, _band, _raised, _donors = _params()
# The figures of the nearest rank above given figures (the next figures up in
# their board): one range of the board's index, read forwards.
_NEAREST = (
    select(_e.band, _e.raised_minor, _e.donor_count)
    .where(
        _e.cause_id == _cause,
        _e.board == _board,
        tuple_(_e.band, _e.raised_minor, _e.donor_count) > tuple_(_band, _raised, _donors),
    )
    .order_by(_e.band, _e.raised_minor, _e.donor_count)
    .limit(1)
)
_MINE = select(_e.cause_id, _e.board, _e.band, _e.raised_minor, _e.donor_count).where(
    _e.page_id == bindparam("page_id")
)
_FIRST_OF = select(func.min(_e.page_id), _ahead(*_params())).where(
    _e.cause_id == _cause,
    _e.board == _board,
    _e.band == _band,
    _e.raised_minor == _raised,
    _e.donor_count == _donors,
)
_AHEAD = select(_ahead(*_params()))
_TOP = (
    select(_e.page_id, _e.band, _e.raised_minor, _e.donor_count)
    .where(_e.cause_id == _cause, _e.board == _board)
    .order_by(_e.band.desc(), _e.raised_minor.desc(), _e.donor_count.desc(), _e.page_id)
    .limit(bindparam("limit", type_=BigInteger))  # ``relais ranks check`` asks for 2**31
    .offset(bindparam("offset", type_=BigInteger))
)


def _figures(cause_id, board, band, raised, donors) -> dict:
    return {"cause_id": cause_id, "board": board, "band": band, "raised": raised, "donors": donors}


_SIZE = select(func.coalesce(func.sum(_bands.c.pages), 0)).where(
    _bands.c.cause_id == bindparam("cause_id"), _bands.c.board == bindparam("board")
)


def size(cause_id: int, board: str) -> int:
    """How many pages one board ranks (the sum of its band tallies)."""
    settle()
    return int(db.session.scalar(_SIZE, {"cause_id": cause_id, "board": board}))


def rank(page_id: int) -> tuple[int, int, int] | None:
    """(rank, raised, donors) of one page, or None when it is not ranked."""
    settle()
    row = db.session.execute(_RANK, {"page_id": page_id}).first()
    return (int(row[0]), int(row[1]), int(row[2])) if row else None


def above(page_id: int) -> tuple[int, int, int, int] | None:
    """(page id, raised, donors, rank) of the first page (lowest id) of the
    nearest rank above this one, or None."""
    settle()
    mine = db.session.execute(_MINE, {"page_id": page_id}).first()
    if mine is None:
        return None
    cause_id, board = mine[:2]
    nearest = db.session.execute(_NEAREST, _figures(*mine)).first()
    if nearest is None:
        return None
    first, ahead = db.session.execute(_FIRST_OF, _figures(cause_id, board, *nearest)).one()
    return int(first), int(nearest[1]), int(nearest[2]), int(ahead) + 1


def top(cause_id: int, board: str, *, limit: int, offset: int = 0) -> list[tuple]:
    """(page id, raised, donors, rank) of a slice of one board, best first,
    ties by page id."""
    settle()
    if limit <= 0:
        return []
    params = {"cause_id": cause_id, "board": board, "limit": limit, "offset": offset}
    rows = db.session.execute(_TOP, params).all()
    if not rows:
        return []
    before = db.session.scalar(_AHEAD, _figures(cause_id, board, *rows[0][1:]))
    out, rank_, previous = [], 0, None
    for position, (page_id, _band, raised, donors) in enumerate(rows):
        if (raised, donors) != previous:
            # The first of a group of equal figures: RANK() counts everyone above.
            rank_ = int(before) + 1 if position == 0 else offset + position + 1
            previous = (raised, donors)
        out.append((page_id, int(raised), int(donors), rank_))
    return out
