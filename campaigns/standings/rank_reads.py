"""Reads of the Redis leaderboards: one board, one page's rank, the page just
above; each one round trip (see ``campaigns.standings.ranks`` for the scores)."""

from __future__ import annotations

from campaigns.standings.ranks import Keys, member, run_script, unscore


def board(
    cause_id: int, board: str, *, limit: int, offset: int = 0, parent_id: int | None = None
) -> list[tuple[int, int, int, int]]:
    """(page id, raised, donors, rank) of one board, best first, ties by page id."""
    keys = Keys(cause_id)
    key = keys.members(parent_id) if parent_id is not None else keys.board(board)
    if limit <= 0:
        return []
    _ok, before, flat = run_script(cause_id, "board", key, offset, offset + limit - 1)
    rows, rank, previous = [], 0, None
    for position, (name, value) in enumerate(zip(flat[::2], flat[1::2], strict=True)):
        if value != previous:
            # The first of a group of equal scores: RANK() counts everyone above.
            rank = int(before) + 1 if position == 0 else offset + position + 1
            previous = value
        raised, donors = unscore(value)
        rows.append((int(name), raised, donors, rank))
    return rows


def rank(cause_id: int, board: str, page_id: int) -> tuple[int, int, int] | None:
    """(rank, raised, donors) of one page, or None when it is not ranked."""
    result = run_script(cause_id, "rank", Keys(cause_id).board(board), member(page_id))
    if len(result) == 1:
        return None
    raised, donors = unscore(result[1])
    return int(result[2]) + 1, raised, donors


def above(cause_id: int, board: str, page_id: int) -> tuple[int, int, int, int] | None:
    """(page id, raised, donors, rank) of the first page of the nearest rank above."""
    result = run_script(cause_id, "above", Keys(cause_id).board(board), member(page_id))
    if len(result) < 5:
        return None
    raised, donors = unscore(result[4])
    return int(result[3]), raised, donors, int(result[2]) + 1
