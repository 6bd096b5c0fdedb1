"""The SQL rank index (``board_index``) answers exactly as ranking the whole
board with RANK() does: after any sequence of gifts, refunds, status changes
and event moves, inside the transaction and after it, under concurrent
writers, and after ``relais totals rebuild``."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, func, literal, select, text

from campaigns.giving import ledger
from campaigns.model_types import utcnow
from campaigns.pages import services as page_services
from campaigns.pages.models import Page, PageStatus
from campaigns.standings import board_index, leaderboards
from campaigns.standings.boards import BOARDS, RANKED_STATUSES, ranked_query
from campaigns.standings.models import BoardBand, BoardEntry
from extensions import db as _db
from tests.conftest import own_database, race
from tests.factories import CauseFactory, EventPageFactory, PageFactory, refund_row


def window_board(cause_id: int, board: str) -> list[tuple[int, int, int, int]]:
    """(page id, raised, donors, rank) of a whole board, ranked with RANK() OVER."""
    ranked = ranked_query(cause_id, board)
    rows = _db.session.execute(
        select(ranked.c.page_id, ranked.c.raised, ranked.c.donors, ranked.c.rank).order_by(
            ranked.c.rank, ranked.c.page_id
        )
    ).all()
    return [tuple(int(x) for x in row) for row in rows]


def tallies_match_entries() -> bool:
    entries = Counter(
        {
            tuple(row[:3]): row[3]
            for row in _db.session.execute(
                select(
                    BoardEntry.cause_id, BoardEntry.board, BoardEntry.band, func.count()
                ).group_by(BoardEntry.cause_id, BoardEntry.board, BoardEntry.band)
            )
        }
    )
    bands = Counter(
        {
            (c, b, band): n
            for c, b, band, n in _db.session.execute(
                select(BoardBand.cause_id, BoardBand.board, BoardBand.band, BoardBand.pages)
            )
            if n
        }
    )
    return entries == bands


def assert_index_agrees(cause_id: int) -> None:
    """Every page's rank, the page above it and every slice of each board, from
    the index, equal the whole board ranked."""
    for board in BOARDS:
        whole = window_board(cause_id, board)
        for offset, limit in ((0, 100), (0, 1), (1, 2), (2, 3), (4, 10)):
            got = [
                (e.page_id, e.raised_minor, e.donor_count, e.rank)
                for e in leaderboards.sql_board(cause_id, board, limit=limit, offset=offset)
            ]
            assert got == whole[offset : offset + limit], (board, offset, limit)
        by_id = {row[0]: row for row in whole}
        pages = _db.session.scalars(select(Page).where(Page.cause_id == cause_id)).all()
        for page in pages:
            if (board == "events") != page.is_event:
                continue
            entry = leaderboards.sql_rank_of(page)
            if page.id not in by_id:
                assert entry is None or page.status not in RANKED_STATUSES, page.slug
                continue
            _id, raised, donors, rank = by_id[page.id]
            assert (entry.rank, entry.raised_minor, entry.donor_count) == (rank, raised, donors)
            above = [row for row in whole if row[3] < rank]
            nearest = [row for row in above if row[3] == above[-1][3]] if above else []
            got = leaderboards.sql_neighbour_above(page)
            if not nearest:
                assert got is None, page.slug
            else:
                assert (got.page_id, got.rank) == (nearest[0][0], nearest[0][3]), page.slug
    assert tallies_match_entries()


def test_bands_increase_with_raised_and_sql_computes_the_same(db):
    values = [-500, 0, 1, 9, 10, 99, 100, 101, 999, 1000, 1009, 1010, 9999, 10_000, 12_345_678]
    values += [10**k - 1 for k in range(1, 16)] + [10**k for k in range(1, 16)]
    values.sort()
    bands = [board_index.band_of(v) for v in values]
    assert bands == sorted(bands) and len(set(bands)) > 20
    assert board_index.band_of(1000) == board_index.band_of(1009) != board_index.band_of(1010)
    for value, band in zip(values, bands, strict=True):
        assert db.session.scalar(select(board_index.band_sql(literal(value, BigInteger)))) == band


def give(page, amount, email):
    return ledger.record_gift(page=page, cause=page.cause, amount_minor=amount, donor_email=email)


def test_ties_ranks_and_moves_inside_one_transaction(db):
    cause = CauseFactory()
    lyon = EventPageFactory(cause=cause, city="Lyon")
    a, b, c, d = (PageFactory(cause=cause) for _ in range(4))
    give(a, 5000, "x@x.org")
    give(b, 2500, "y@x.org")
    give(b, 2500, "z@x.org")
    give(c, 1000, "x@x.org")
    give(d, 1000, "y@x.org")
    assert [(e.page_id, e.rank) for e in leaderboards.sql_board(cause.id)] == [
        (b.id, 1),
        (a.id, 2),
        (c.id, 3),
        (d.id, 3),
    ]
    assert_index_agrees(cause.id)
    page_services.join_event(d.owner, d, lyon)
    give(d, 7000, "w@x.org")  # d moves to the top, lyon gets its first money
    assert leaderboards.sql_rank_of(d).rank == 1
    assert leaderboards.sql_rank_of(lyon).raised_minor == 7000
    c.status = PageStatus.HIDDEN  # not flushed yet: the next read sees it
    assert leaderboards.sql_rank_of(a).rank == 3
    assert_index_agrees(cause.id)
    db.session.commit()
    assert_index_agrees(cause.id)


def test_entries_refreshed_in_a_savepoint_that_rolls_back_are_refreshed_again(db):
    """A rank read settles the entries once; a savepoint rolled back after it
    took those entries with it, so the commit refreshes them once more."""
    cause = CauseFactory()
    a, b = PageFactory(cause=cause), PageFactory(cause=cause)
    give(a, 1000, "x@x.org")
    give(b, 2000, "y@x.org")
    db.session.commit()
    b.status = PageStatus.HIDDEN  # outside the savepoint, not read yet
    db.session.flush()
    savepoint = db.session.begin_nested()
    assert leaderboards.sql_rank_of(a).rank == 1  # settles b's entry inside it
    savepoint.rollback()
    db.session.commit()
    assert leaderboards.sql_board(cause.id) and leaderboards.sql_rank_of(b) is None
    assert_index_agrees(cause.id)


def test_a_transaction_touching_more_pages_than_a_chunk_refreshes_them_all(db, monkeypatch):
    """Pages changed in bulk in one transaction: the refresh goes in
    chunks (bounded bound parameters) and ends where ranking the board would."""
    monkeypatch.setattr(board_index, "CHUNK", 4)
    cause = CauseFactory()
    pages = [PageFactory(cause=cause) for _ in range(11)]
    for n, page in enumerate(pages):
        give(page, 1000 * (n % 4 + 1), f"d{n}@x.org")
    assert_index_agrees(cause.id)
    for page in pages[::2]:
        page.status = PageStatus.CLOSED
    for page in pages[1::3]:
        page.status = PageStatus.HIDDEN
    db.session.flush()
    assert_index_agrees(cause.id)
    db.session.commit()
    assert_index_agrees(cause.id)
    assert tallies_match_entries()


# One small cause, any sequence of changes; the index equals the window after each.
operation = st.one_of(
    st.tuples(st.just("gift"), st.integers(0, 4), st.sampled_from([100, 900, 1000, 2500])),
    st.tuples(st.just("refund"), st.integers(0, 30)),
    st.tuples(st.just("status"), st.integers(0, 4), st.sampled_from(list(PageStatus))),
    st.tuples(st.just("join"), st.integers(0, 3)),
    st.tuples(
        st.just("commit"),
    ),
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=12))
def test_any_sequence_of_changes_keeps_the_index_equal_to_the_whole_board(db, operations):
    cause = CauseFactory()
    event = EventPageFactory(cause=cause)
    pages = [PageFactory(cause=cause) for _ in range(4)] + [event]
    gifts = []
    for op in operations:
        if op[0] == "gift":
            page = pages[op[1]]
            gifts.append(give(page, op[2], f"donor{len(gifts) % 3}@x.org"))
        elif op[0] == "refund" and gifts:
            refund_row(gifts[op[1] % len(gifts)], 100, utcnow())
        elif op[0] == "status":
            pages[op[1]].status = op[2]
        elif op[0] == "join" and pages[op[1]].parent_id is None:
            pages[op[1]].parent = event
        elif op[0] == "commit":
            db.session.commit()
        assert_index_agrees(cause.id)


def test_concurrent_gifts_and_moderation_leave_exact_tallies(app, tmp_path):
    """Gifts to pages of one band, while the same pages are hidden, closed and
    published again, on real commits: the entries and tallies end equal to a
    rebuild from the pages and totals."""
    with own_database(app, tmp_path, "board") as own:
        with own.app_context():
            cause = CauseFactory()
            pages = [PageFactory(cause=cause) for _ in range(4)]
            _db.session.commit()
            ids, cause_id = [p.id for p in pages], cause.id

        def work(n: int) -> str:
            page = _db.session.get(Page, ids[n % 4])
            if n % 3 == 2:
                page.status = (PageStatus.HIDDEN, PageStatus.CLOSED, PageStatus.PUBLISHED)[
                    n % 4 % 3
                ]
                return "moderated"
            give(page, 1000 + n, f"d{n}@x.org")
            return "gift"

        outcomes = race(own.app_context, work, range(24))
        assert set(outcomes) <= {"gift", "moderated"}, outcomes
        with own.app_context():
            assert tallies_match_entries()
            have = _db.session.execute(select(BoardEntry).order_by(BoardEntry.page_id)).scalars()
            have = [(e.page_id, e.band, e.raised_minor, e.donor_count) for e in have]
            board_index.rebuild(cause_id)
            want = _db.session.execute(select(BoardEntry).order_by(BoardEntry.page_id)).scalars()
            assert have == [(e.page_id, e.band, e.raised_minor, e.donor_count) for e in want]
            assert_index_agrees(cause_id)
            _db.session.rollback()


def test_totals_rebuild_rebuilds_the_index(db, runner, backend):
    if backend == "postgresql":
        pytest.skip("the command locks tables: covered on SQLite inside the test transaction")
    cause = CauseFactory()
    a, b = PageFactory(cause=cause), PageFactory(cause=cause)
    give(a, 1000, "x@x.org")
    give(b, 3000, "y@x.org")
    db.session.execute(text("UPDATE board_entries SET raised_minor = 0, band = 0"))
    result = runner.invoke(args=["totals", "rebuild"])
    assert result.exit_code == 0, result.output
    assert [e.page_id for e in leaderboards.sql_board(cause.id)] == [b.id, a.id]
    assert_index_agrees(cause.id)


def load_migration(topic: str):
    (path,) = (Path(__file__).parents[3] / "migrations" / "versions").glob(f"*_{topic}.py")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_fills_the_index_as_the_session_keeps_it(db):
    cause = CauseFactory()
    event = EventPageFactory(cause=cause)
    pages = [PageFactory(cause=cause, parent=event if n % 2 else None) for n in range(5)]
    for n, page in enumerate(pages):
        give(page, 100 * (n % 3) + 100, f"d{n}@x.org")
    refund_row(give(pages[1], 12_345, "r@x.org"), 12_345, utcnow())
    pages[0].status = PageStatus.HIDDEN
    pages[2].status = PageStatus.CLOSED
    board_index.settle()
    kept = sorted(db.session.execute(select(BoardEntry.__table__)).all())
    bands = sorted(db.session.execute(select(BoardBand.__table__).where(BoardBand.pages != 0)))
    migration = load_migration("board_index")
    for rebuild in (
        lambda: [db.session.execute(text(sql)) for sql in migration.BACKFILL],
        board_index.rebuild,
    ):
        db.session.execute(text("DELETE FROM board_bands"))
        db.session.execute(text("DELETE FROM board_entries"))
        rebuild()
        assert sorted(db.session.execute(select(BoardEntry.__table__)).all()) == kept
        assert sorted(db.session.execute(select(BoardBand.__table__))) == bands
