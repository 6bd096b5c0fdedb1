"""Flask extensions, created unbound and attached in ``app.create_app``."""

import sqlite3

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record) -> None:
    """WAL, foreign keys and a busy timeout, so the demo server and the CLI can
    share one SQLite file; SAVEPOINTs need pysqlite's own transactions off."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection) -> None:
    if connection.dialect.name == "sqlite":
        # A unit of work that reads then writes money (webhooks) asks for
        # BEGIN IMMEDIATE: it waits for the write lock up front, instead of
        # failing with "database is locked" when it tries to write later.
        immediate = connection.get_execution_options().get("sqlite_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write() -> None:
    """Start the session's transaction as a writer (BEGIN IMMEDIATE on SQLite).

    Call it first in a unit of work that reads totals or ledger rows and then
    writes from what it read; on PostgreSQL use row locks as well. Inside a
    caller's transaction (a test's, a producer's) there is nothing to start."""
    if not db.session().in_transaction():
        db.session.connection(execution_options={"sqlite_immediate": True})


def locked_row(row):
    """``row`` re-read under a row lock (PostgreSQL) inside a writer transaction
    (BEGIN IMMEDIATE on SQLite), so two reviewers never both see it as it was.

    The writer transaction can only be asked for before the first read: a view
    that has already read (the login) ends that transaction and calls
    ``begin_write`` itself before loading the row."""
    begin_write()
    model = type(row)
    return db.session.scalars(
        select(model)
        .where(model.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


# PostgreSQL aborts one of two transactions that wait on each other (deadlock)
# or that cannot both be serialised; running the loser again is correct.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


def is_retryable(error: BaseException) -> bool:
    """A database error that a fresh attempt of the whole transaction may not hit."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES


def run_transaction(work, attempts: int = 3):
    """``work()`` in a write transaction, committed; rolled back and run again
    when PostgreSQL aborted it as a deadlock or serialisation failure."""
    from sqlalchemy.exc import DBAPIError

    for attempt in range(1, attempts + 1):
        begin_write()
        try:
            result = work()
            db.session.commit()
            return result
        except DBAPIError as error:
            db.session.rollback()
            if attempt == attempts or not is_retryable(error):
                raise
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


def dialect_insert(model):
    """An INSERT with the dialect's ON CONFLICT clauses (PostgreSQL or SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
