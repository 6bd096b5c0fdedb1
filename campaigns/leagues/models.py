"""Leagues: a contest across the organisations of one instance, with a window
and rules, and the organisations (or causes) taking part."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class ContestRule(StrEnum):
    RAISED = "raised"  # raised in the window, donors breaking ties
    DONORS = "donors"  # unique donors in the window, raised breaking ties


class Contest(db.Model):
    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[ContestRule] = mapped_column(String(10), default=ContestRule.RAISED)
    # Every entrant counts in this currency: an organisation in another one cannot take part.
    currency: Mapped[str] = mapped_column(String(3))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entries: Mapped[list[ContestEntry]] = relationship(
        back_populates="contest", order_by="ContestEntry.id"
    )


class ContestEntry(db.Model):
    """An organisation taking part, with all its causes, or one of its causes."""

    __tablename__ = "contest_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int | None] = mapped_column(ForeignKey("causes.id"), index=True)

    contest: Mapped[Contest] = relationship(back_populates="entries")

    __table_args__ = (UniqueConstraint("contest_id", "organisation_id", "cause_id"),)
