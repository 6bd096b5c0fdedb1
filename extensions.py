"""Flask extensions, created unbound and attached in ``app.create_app``."""

import sqlite3

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
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


def limits_off() -> bool:
    """``exempt_when`` of a route's limit: one limiter serves every app a process
    builds (tests), so the current app's RATELIMIT_ENABLED decides."""
    from flask import current_app

    return not current_app.config.get("RATELIMIT_ENABLED", True)


def _sqlite_on_connect(dbapi_connection, connection_record) -> None:
    """WAL, foreign keys and a busy timeout, so the demo server and the CLI can
    share one SQLite file; SAVEPOINTs need pysqlite's own transactions off
    (``campaigns.unit_of_work`` emits BEGIN or BEGIN IMMEDIATE itself)."""
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


def init_app(app) -> None:
    """The SQLite connection set-up, for every engine (process-wide, once)."""
    if not event.contains(Engine, "connect", _sqlite_on_connect):
        event.listen(Engine, "connect", _sqlite_on_connect)


def dialect_insert(model):
    """An INSERT with the dialect's ON CONFLICT clauses (PostgreSQL or SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
