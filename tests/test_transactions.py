"""Write transactions: a PostgreSQL deadlock is retried, a ledger row's hot
slot is its gift's."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from campaigns.totals import services as totals
from campaigns.unit_of_work import is_retryable, run_transaction
from extensions import db
from tests.conftest import TEST_DATABASE_URL, drop_database, make_migrated_app


def test_refunds_disputes_and_matches_use_their_gifts_slot():
    gift = SimpleNamespace(id=13, original_id=None, matched_gift_id=None)
    refund = SimpleNamespace(id=42, original_id=13, matched_gift_id=None)
    match = SimpleNamespace(id=50, original_id=None, matched_gift_id=13)
    other = SimpleNamespace(id=14, original_id=None, matched_gift_id=None)
    assert totals.slot_of(gift) == totals.slot_of(refund) == totals.slot_of(match)
    assert totals.slot_of(gift) == 13 % totals.HOT_SLOTS
    assert totals.slot_of(other) != totals.slot_of(gift)


@pytest.mark.slow
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_deadlocked_transaction_is_run_again_and_both_commit(tmp_path):
    name = f"relais_deadlock_{os.getpid()}"
    app = make_migrated_app("postgresql", tmp_path, name)
    try:
        with app.app_context():
            db.session.execute(text("CREATE TABLE probe (id int PRIMARY KEY, n int NOT NULL)"))
            db.session.execute(text("INSERT INTO probe VALUES (1, 0), (2, 0)"))
            db.session.commit()
        barrier = threading.Barrier(2)
        attempts: dict[int, int] = {1: 0, 2: 0}
        errors: list[BaseException] = []

        def worker(first: int, second: int) -> None:
            def work():
                attempts[first] += 1
                db.session.execute(text("UPDATE probe SET n = n + 1 WHERE id = :i"), {"i": first})
                if attempts[first] == 1:
                    barrier.wait(timeout=20)  # both hold one row, then want the other's
                db.session.execute(text("UPDATE probe SET n = n + 1 WHERE id = :i"), {"i": second})

            with app.app_context():
                try:
                    run_transaction(work)
                except BaseException as error:  # reported to the test thread
                    errors.append(error)

        threads = [threading.Thread(target=worker, args=pair) for pair in [(1, 2), (2, 1)]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        # PostgreSQL aborted one of them (a retry can deadlock once more, so
        # either may have run twice); each committed exactly once.
        assert max(attempts.values()) >= 2
        with app.app_context():
            rows = db.session.execute(text("SELECT id, n FROM probe ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(1, 2), (2, 2)]
            db.engine.dispose()
    finally:
        drop_database("postgresql", name)


def test_only_deadlocks_and_serialisation_failures_are_retried():
    class Orig(Exception):
        def __init__(self, sqlstate):
            self.sqlstate = sqlstate

    def error(sqlstate):
        return DBAPIError("statement", {}, Orig(sqlstate))

    assert is_retryable(error("40P01")) and is_retryable(error("40001"))
    assert not is_retryable(error("23505"))  # a unique key: a duplicate, not a retry
    assert not is_retryable(ValueError("no database here"))
