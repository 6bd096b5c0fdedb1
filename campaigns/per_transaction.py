"""Settings read once per transaction: what a gift's listeners each ask again
(an organisation's automatic messages, their templates, the badges it turned
off) is read the first time and kept until the transaction ends.

Exact within the transaction: everything kept is forgotten at the commit, at
any rollback, and as soon as a flush writes a row of a class a caller named
(a staff form that changes a setting, then reads it, reads it anew).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import Flask
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from extensions import db

T = TypeVar("T")
KEY = "relais.per_transaction"  # session.info: key -> value
_watched: set[type] = set()  # classes whose writes forget everything kept


def remembered(key: Hashable, read: Callable[[], T], *, watch: tuple[type, ...]) -> T:
    """``read()`` the first time in this transaction, then what it returned;
    ``watch``: the models ``read`` reads (a write of one forgets it)."""
    _watched.update(watch)
    session = db.session
    kept = session.info.get(KEY)
    if kept and _writes_watched(session):  # changed, not flushed yet
        kept = None
    if kept is None:
        kept = session.info[KEY] = {}
    if key not in kept:
        kept[key] = read()
    return kept[key]


def _writes_watched(session) -> bool:
    return any(type(obj) in _watched for obj in (*session.new, *session.dirty, *session.deleted))


def _forget(session, *_args) -> None:
    session.info.pop(KEY, None)


def _ended(session, transaction) -> None:
    if transaction.parent is None:  # committed, rolled back or closed: the whole of it
        session.info.pop(KEY, None)


def _after_flush(session, _context) -> None:
    if KEY in session.info and _writes_watched(session):
        session.info.pop(KEY, None)


def init_app(_app: Flask) -> None:
    # Session events are process-wide; apps are created many times (tests).
    for name, fn in (
        ("after_transaction_end", _ended),
        ("after_soft_rollback", _forget),
        ("after_flush", _after_flush),
    ):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
