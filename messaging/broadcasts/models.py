"""Broadcasts: a message staff send to an audience, now or later."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db

if TYPE_CHECKING:
    from messaging.templating.models import MessageTemplate


class Audience(StrEnum):
    ALL = "all"  # every agent with a page in the cause
    HOSTS = "hosts"  # owners and co-hosts of event pages
    BELOW_GOAL = "below_goal"  # pages below X % of their goal
    NO_GIFT = "no_gift"  # pages with no gift yet
    EVENT = "event"  # agents of one event (its host, co-hosts and member pages)


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENT = "sent"  # expanded into the outbox (recurring ones go back to scheduled)
    CANCELLED = "cancelled"


class Broadcast(db.Model):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("message_templates.id"))
    audience: Mapped[Audience] = mapped_column(String(20), default=Audience.ALL)
    # Below-goal percentage, or the event page id, depending on the audience.
    audience_value: Mapped[int | None] = mapped_column(Integer)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "" (once), "daily" or "weekly".
    recurrence: Mapped[str] = mapped_column(String(10), default="")
    status: Mapped[BroadcastStatus] = mapped_column(String(20), default=BroadcastStatus.DRAFT)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    template: Mapped[MessageTemplate] = relationship()

    __table_args__ = (
        Index(
            "ix_broadcasts_due",
            "send_at",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
    )
