"""Exactly one scheduler: the leader holds a lock for as long as it lives.

PostgreSQL: a session advisory lock on a connection kept open; SQLite: an
exclusive ``flock`` on a file beside the database. Both are released by the
operating system or the server when the process dies, so a waiting
scheduler takes over.

The PostgreSQL lock lives exactly as long as its connection: when the server
restarts or the connection drops, the lock is gone although this process
still thinks it leads, and a scheduler started next would lead too.
``holds()`` asks the lock's own connection; the scheduler calls it every few
seconds and stops its jobs as soon as it fails.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

# An arbitrary 64-bit key: "relais-scheduler".
ADVISORY_KEY = 0x72656C6169735343


class Leadership:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection = None
        self._file = None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this process leads."""
        if self.engine.dialect.name == "postgresql":
            try:
                connection = self.engine.connect()
            except DBAPIError as error:  # the database is down: keep waiting
                log.warning("cannot reach the database to lead: %s", error.orig)
                return False
            try:
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
                ).scalar()
                connection.commit()
            except DBAPIError as error:
                log.warning("cannot take the leader lock: %s", error.orig)
                connection.invalidate()
                connection.close()
                return False
            if taken:
                self._connection = connection
                return True
            connection.close()
            return False
        path = lock_path(self.engine)
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def holds(self) -> bool:
        """Whether this process still holds the lock (it asks the lock's own
        connection: a dropped connection has taken the lock with it)."""
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1")).scalar()
                self._connection.commit()
                return True
            except DBAPIError as error:
                log.error("the leader lock's connection is gone: %s", error.orig)
                self._forget_connection()
                return False
        return self._file is not None

    def _forget_connection(self) -> None:
        try:
            self._connection.invalidate()
            self._connection.close()
        except DBAPIError:
            pass
        self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
                )
                self._connection.close()
            except DBAPIError:  # gone already: so is the lock
                self._forget_connection()
            self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def lock_path(engine: Engine) -> Path:
    database = engine.url.database or ""
    if not database or database == ":memory:":
        return Path(tempfile.gettempdir()) / "relais-scheduler.lock"
    return Path(database).with_suffix(".scheduler.lock")
