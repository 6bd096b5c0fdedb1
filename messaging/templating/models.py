"""Message templates staff write, and the events that trigger automatic ones."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db
from messaging.outbox.models import Channel


class Trigger(StrEnum):
    """What a template is for: a broadcast staff send, or an automatic message."""

    BROADCAST = "broadcast"
    SUGGESTED = "suggested"  # ready-to-share posts in an agent's share kit
    WELCOME = "welcome"  # a page was published
    FIRST_GIFT = "first_gift"
    GOAL_50 = "goal_50"
    GOAL_100 = "goal_100"
    GIFTS = "gifts"  # gifts on your page, batched (at most one an hour)
    RANK_CHANGE = "rank_change"
    RANK_PASSED = "rank_passed"  # a page was passed by one that moved up
    DAILY_DIGEST = "daily_digest"  # the last days of a cause
    NUDGE = "nudge"  # a page inactive for N days
    BADGE = "badge"  # a page earned a badge no milestone message announces


class MessageTemplate(db.Model):
    """Text an organisation's staff write, per channel and locale, rendered in
    a sandbox on plain data."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int | None] = mapped_column(ForeignKey("causes.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[Trigger] = mapped_column(String(20), default=Trigger.BROADCAST)
    channel: Mapped[Channel] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10), default="fr")
    subject: Mapped[str] = mapped_column(String(300), default="")  # email only
    body: Mapped[str] = mapped_column(Text)  # text (and the post itself for x/facebook/copy)
    body_html: Mapped[str] = mapped_column(Text, default="")  # email only, optional
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
