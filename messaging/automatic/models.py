"""Automatic messages: which are on per cause, and rank snapshots for rank changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db
from messaging.templating.models import Trigger


class AutoMessageSetting(db.Model):
    """Whether an organisation sends one kind of automatic message."""

    __tablename__ = "auto_message_settings"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    trigger: Mapped[Trigger] = mapped_column(String(20), primary_key=True)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    # Per-trigger knobs, e.g. {"inactive_days": 7} for nudges, {"days_before_end": 3}.
    options: Mapped[dict] = mapped_column(JSON, default=dict)


class RankSnapshot(db.Model):
    """A page's rank in a leaderboard at one time: the source of "you moved up"."""

    __tablename__ = "rank_snapshots"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"))
    board: Mapped[str] = mapped_column(String(20))  # pages | events
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    raised_minor: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_rank_snapshots_board_time", "cause_id", "board", "taken_at"),)
