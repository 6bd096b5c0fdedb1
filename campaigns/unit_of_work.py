"""The unit of work: one helper runs a request, a job or a command.

A unit begins as a writer when it may write (``BEGIN IMMEDIATE`` on SQLite
before its first read: a deferred transaction that reads, then writes fails
at once with "database is locked" when another connection wrote in between,
where an immediate one waits out the busy timeout), commits once at the end,
rolls back on any error, and is run again when PostgreSQL aborted it as a
deadlock or serialisation failure. After-commit hooks run once the
transaction has committed and are discarded when it rolls back (Indico's
``RH.process`` and its after-commit queue are the model).

- Requests: :func:`init_app` wraps every view of the app. Any method but
  GET/HEAD/OPTIONS (and a GET view marked :func:`writes`) begins as a writer
  before the login is read; a reading unit that meets SQLite's lock when it
  writes after all is run once more as a writer. A response of 400 or more
  changes nothing (bad input is rolled back even when the view returns a form).
- Jobs: ``messaging.scheduling.scheduler.run_job`` runs each job through
  :func:`run_transaction`.
- Commands: ``campaigns.cli_support.cli_transaction`` is a :func:`transaction`.

Services never commit; they ``add`` and ``flush``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps

from flask import Flask, current_app, has_app_context, request
from flask import session as web_session
from flask_sqlalchemy.session import Session
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from extensions import db

log = logging.getLogger(__name__)

ATTEMPTS = 5
# Before each new attempt, a random pause of up to BACKOFF_SECONDS × 2^(attempt-1):
# transactions that deadlocked together do not meet again at once.
BACKOFF_SECONDS = 0.01
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HOOKS = "relais.after_commit"  # app.extensions: hook(app, session) after every commit
QUEUE = "relais.after_commit_queue"  # session.info: callbacks of the transaction under way

# PostgreSQL aborts one of two transactions that wait on each other (deadlock)
# or that cannot both be serialised; running the loser again is correct.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


@dataclass
class _Unit:
    write: bool
    parent: _Unit | None = None
    keep: bool = True  # commit at the end (False: the answer was an error)
    committed: bool = False  # some of it is committed already: never replayed


_current: ContextVar[_Unit | None] = ContextVar("relais_unit_of_work", default=None)


# --- errors ----------------------------------------------------------------------------


def is_retryable(error: BaseException) -> bool:
    """A database error that a fresh attempt of the whole transaction may not hit."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES


def _sqlite_busy(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


# --- beginning as a writer -------------------------------------------------------------


def begin_write() -> None:
    """Start the session's transaction as a writer (BEGIN IMMEDIATE on SQLite).

    A writing unit does this itself; call it first in a reading unit (a GET)
    that writes after all (a click counter). Inside a caller's transaction (a
    test's, a producer's) there is nothing to start."""
    if not db.session().in_transaction():
        db.session.connection(execution_options={"sqlite_immediate": True})


def locked_row(row):
    """``row`` re-read under a row lock (PostgreSQL) inside a writer transaction
    (BEGIN IMMEDIATE on SQLite), so two reviewers never both see it as it was."""
    begin_write()
    model = type(row)
    return db.session.scalars(
        select(model)
        .where(model.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _sqlite_on_begin(connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    # Every transaction of a writing unit begins as a writer, also the one
    # after a checkpoint; a side connection (ranks.reading) says False.
    unit = _current.get()
    immediate = connection.get_execution_options().get(
        "sqlite_immediate", unit is not None and unit.write
    )
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# --- one unit --------------------------------------------------------------------------


@contextmanager
def transaction(*, write: bool = True) -> Iterator[_Unit]:
    """One attempt of a unit of work: commit at the end, roll back on any error.

    Nested in another unit, it commits its own work (a Stripe event recorded
    from a request); the outer unit is then never replayed."""
    unit = _Unit(write=write, parent=_current.get())
    token = _current.set(unit)
    try:
        if write:
            begin_write()
        yield unit
        if unit.keep:
            _commit(unit)
        else:
            db.session.rollback()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _current.reset(token)


def run_transaction(
    work: Callable,
    attempts: int = ATTEMPTS,
    *,
    write: bool = True,
    keep: Callable[[object], bool] | None = None,
    replayable: Callable[[], bool] | None = None,
):
    """``work()`` as one unit of work, committed (rolled back when ``keep`` of
    its result is false); run again when PostgreSQL aborted it as a deadlock
    or serialisation failure (after a short random pause, up to ``attempts``
    times in all), and once as a writer when a reading unit found SQLite
    locked. Returns what ``work`` returned."""
    attempt = 0
    while True:
        attempt += 1
        unit = None
        try:
            with transaction(write=write) as unit:
                result = work()
                unit.keep = keep is None or bool(keep(result))
            return result
        except DBAPIError as error:
            busy = not write and _sqlite_busy(error)
            if (
                attempt >= attempts
                or not (is_retryable(error) or busy)
                or (unit is not None and unit.committed)
                or (replayable is not None and not replayable())
            ):
                raise
            write = write or busy
            log.info("unit of work run again (attempt %s): %s", attempt + 1, error.orig)
            if not busy:
                time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** (attempt - 1)))


def _commit(unit: _Unit) -> None:
    db.session.commit()
    parent = unit.parent  # an enclosing unit is now partly committed
    while parent is not None:
        parent.committed = True
        parent = parent.parent


def checkpoint() -> None:
    """Commit what the unit wrote so far and go on, still a writer.

    For a view that must keep a row whatever an outside call says next (the
    give view commits its pending gift before asking Stripe for a Checkout
    Session: the webhook finds it even if the answer is lost), and for a job
    that commits batch by batch so it never holds SQLite's write lock for
    long. The unit is no longer replayed after a checkpoint: part of it stands."""
    db.session.commit()
    unit = _current.get()
    while unit is not None:
        unit.committed = True
        unit = unit.parent


def discard() -> None:
    """Roll back what the unit wrote so far and go on: a view that caught a
    refusal and answers with a success (a flash and a redirect)."""
    db.session.rollback()


# --- after commit ----------------------------------------------------------------------


def after_commit(callback: Callable[[], object]) -> None:
    """Run ``callback()`` once the transaction under way commits; forgotten if
    it rolls back."""
    db.session.info.setdefault(QUEUE, []).append(callback)


def on_commit(app: Flask, hook: Callable[[Flask, Session], object]) -> None:
    """Register ``hook(app, session)``, run after every commit in ``app``."""
    hooks = app.extensions.setdefault(HOOKS, [])
    if hook not in hooks:
        hooks.append(hook)


def _committed(session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint: the transaction around it may still roll back
    queued = session.info.pop(QUEUE, [])
    if not has_app_context():
        return
    app = current_app._get_current_object()
    # The commit stands whatever a hook does: a failure is logged, not raised.
    for hook in app.extensions.get(HOOKS, ()):
        try:
            hook(app, session)
        except Exception:
            log.exception("after-commit hook %s failed", getattr(hook, "__name__", hook))
    for callback in queued:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback %s failed", getattr(callback, "__name__", ""))


def _rolled_back(session, previous) -> None:
    if previous.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(QUEUE, None)


# --- requests --------------------------------------------------------------------------


def _replayable() -> bool:
    """A request can be run again when its body was kept (form, JSON, get_data)."""
    if not request.content_length:
        return True
    cached = vars(request)
    return "_cached_data" in cached or "form" in cached


def writes(view: Callable) -> Callable:
    """Mark a GET view that writes (a staff export's audit row): it begins as a
    writer, as a POST does. Put it under the route decorator."""
    view.relais_writes = True
    return view


def _writes() -> bool:
    if request.method not in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "relais_writes", False))


def _begin_request() -> None:
    # First of the before_request functions: the login and anything else read
    # before the view are already inside the writer transaction.
    if _writes():
        begin_write()


def request_unit(view: Callable) -> Callable:
    """``view`` as one unit of work (see the module's docstring)."""

    @wraps(view)
    def unit(*args, **kwargs):
        app = current_app._get_current_object()
        flashes = list(web_session.get("_flashes", ()))

        def work():
            # A rerun starts from the request as it came: no message flashed twice.
            if list(web_session.get("_flashes", ())) != flashes:
                web_session["_flashes"] = list(flashes)
            return app.make_response(view(*args, **kwargs))

        # An error goes on to the app's error handlers, rolled back (an integrity
        # error stays a 500 there: Stripe retries a webhook that met one).
        return run_transaction(
            work,
            write=_writes(),
            keep=lambda response: response.status_code < 400,
            replayable=_replayable,
        )

    unit.relais_unit_of_work = True  # functools.wraps copied relais_writes
    return unit


def _listen_once(target, name: str, fn: Callable) -> None:
    # Session and Engine events are process-wide; apps are created many times.
    if not event.contains(target, name, fn):
        event.listen(target, name, fn)


def init_app(app: Flask) -> None:
    """Every view of ``app`` becomes a unit of work; called last in create_app,
    after every blueprint is registered."""
    _listen_once(Engine, "begin", _sqlite_on_begin)
    _listen_once(Session, "after_commit", _committed)
    _listen_once(Session, "after_soft_rollback", _rolled_back)
    first = app.before_request_funcs.setdefault(None, [])
    if _begin_request not in first:
        first.insert(0, _begin_request)
    for endpoint, view in app.view_functions.items():
        if not getattr(view, "relais_unit_of_work", False):
            app.view_functions[endpoint] = request_unit(view)
