"""Exactly one scheduler: the leader holds a lock for as long as it lives.

PostgreSQL: a session advisory lock on a connection kept open; SQLite: an
exclusive ``flock`` on a file beside the database. Both are released by the
operating system or the server when the process dies, so a waiting
scheduler takes over.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

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
            connection = self.engine.connect()
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ).scalar()
            connection.commit()
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

    def release(self) -> None:
        if self._connection is not None:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            self._connection.close()
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
