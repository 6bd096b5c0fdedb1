"""Heartbeats: when each scheduler and outbox worker last ran, and who leads.

Every background process writes one row (``scheduler:<host>:<pid>``,
``worker:<host>:<pid>``) every few seconds in a short transaction of its own.
``/readyz`` and the staff outbox page read them: an operator sees at a glance
that a scheduler leads and that workers are moving the outbox, and when each
was last seen. Rows of processes not seen for a day are removed.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Boolean, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db, dialect_insert

# A process is "alive" if seen this recently (it beats every few seconds).
FRESH = timedelta(seconds=60)
FORGET_AFTER = timedelta(days=1)
KINDS = ("scheduler", "worker")


class Heartbeat(db.Model):
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    detail: Mapped[str] = mapped_column(String(300), default="")


def process_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"[:200]


def beat(
    name: str, kind: str, *, started_at: datetime, is_leader: bool = False, detail: str = ""
) -> None:
    """Record that this process is alive now (its own short transaction)."""
    now = utcnow()
    values = {
        "name": name,
        "kind": kind,
        "is_leader": is_leader,
        "started_at": started_at,
        "seen_at": now,
        "detail": detail[:300],
    }
    statement = dialect_insert(Heartbeat).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"is_leader": is_leader, "seen_at": now, "detail": values["detail"]},
    )
    try:
        db.session.execute(statement)
        db.session.execute(delete(Heartbeat).where(Heartbeat.seen_at < now - FORGET_AFTER))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def forget(name: str) -> None:
    """A process that stops cleanly removes its row."""
    try:
        db.session.execute(delete(Heartbeat).where(Heartbeat.name == name))
        db.session.commit()
    except Exception:
        db.session.rollback()


def summary(now: datetime | None = None) -> dict:
    """Per kind: processes seen recently, the last time any was seen, and (for
    the scheduler) whether a fresh leader exists."""
    now = now or utcnow()
    rows = db.session.scalars(select(Heartbeat).order_by(Heartbeat.seen_at.desc())).all()
    out: dict = {}
    for kind in KINDS:
        mine = [row for row in rows if row.kind == kind]
        alive = [row for row in mine if now - row.seen_at <= FRESH]
        out[kind] = {
            "alive": len(alive),
            "last_seen_at": mine[0].seen_at.isoformat() if mine else None,
            "processes": [
                {
                    "name": row.name,
                    "is_leader": row.is_leader,
                    "seen_at": row.seen_at.isoformat(),
                    "started_at": row.started_at.isoformat(),
                    "alive": now - row.seen_at <= FRESH,
                    "detail": row.detail,
                }
                for row in mine
            ],
        }
    out["scheduler"]["has_leader"] = any(
        row["is_leader"] and row["alive"] for row in out["scheduler"]["processes"]
    )
    return out
