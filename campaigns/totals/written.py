"""The figures this transaction's own upserts returned, for the scopes kept in
one row (pages, events, projects: ``slot`` 0), so that the listeners of a gift
(milestones, badges, the rank index) read the page and event totals it has just
written without asking the database again.

Exact, not a cache of something that may move: the upsert holds the row's lock
until the commit, so no other transaction can change that row meanwhile, and
what it returned is what a read would return. Forgotten at the commit, at any
rollback (a savepoint's included) and when the totals are rebuilt; a scope
split into slots (causes, organisations) is never kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from extensions import db

KEY = "relais.totals_written"  # session.info: (scope value, scope id) -> figures tuple


def remember(rows: Iterable[tuple]) -> None:
    """(scope, scope id, raised, gifts, donors, fees, covers) as an upsert returned them."""
    known = db.session.info.setdefault(KEY, {})
    for scope, scope_id, *figures in rows:
        known[(str(scope), scope_id)] = tuple(int(value or 0) for value in figures)


def known(scope, ids: Iterable[int]) -> dict[int, tuple]:
    """The remembered figures of these ids of one scope (the others are read)."""
    remembered = db.session.info.get(KEY)
    if not remembered:
        return {}
    scope = str(scope)
    return {i: remembered[(scope, i)] for i in ids if (scope, i) in remembered}


def forget(session=None) -> None:
    (session or db.session).info.pop(KEY, None)


def _forget(session, *_args) -> None:
    session.info.pop(KEY, None)


def _ended(session, transaction) -> None:
    if transaction.parent is None:  # committed, rolled back or closed: the whole of it
        session.info.pop(KEY, None)


def init_app(_app: Flask) -> None:
    # Session events are process-wide; apps are created many times (tests).
    for name, fn in (("after_transaction_end", _ended), ("after_soft_rollback", _forget)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
