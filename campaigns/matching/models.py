"""Match challenges: a sponsor's promise to match the gifts of a page, an
event or a cause in a window, up to a cap, and what each gift holds of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class MatchScope(StrEnum):
    PAGE = "page"  # gifts to this (personal) page
    EVENT = "event"  # gifts to the event (or team) page and any of its pages
    CAUSE = "cause"  # every gift of the cause


class Match(db.Model):
    """A match challenge. ``matched_minor`` is what it holds now (the sum of its
    ledger rows); it changes only under this row's lock (``FOR UPDATE``)."""

    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), index=True)
    # The page or event page of a page or event match; None for a cause match.
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True)
    scope: Mapped[MatchScope] = mapped_column(String(10))
    sponsor_name: Mapped[str] = mapped_column(String(200))
    sponsor_email: Mapped[str] = mapped_column(String(255), default="")
    # Each unit given is matched by ratio_num / ratio_den units (2:1 = 2/1).
    ratio_num: Mapped[int] = mapped_column(Integer)
    ratio_den: Mapped[int] = mapped_column(Integer, default=1)
    cap_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    matched_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    statement_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("cap_minor > 0", name="cap_positive"),
        CheckConstraint("ratio_num > 0 AND ratio_den > 0", name="ratio_positive"),
        CheckConstraint("matched_minor >= 0 AND matched_minor <= cap_minor", name="within_cap"),
    )

    @property
    def left_minor(self) -> int:
        return self.cap_minor - self.matched_minor


class MatchedGift(db.Model):
    """One gift of a match's window: what it would get without the cap
    (``full_minor``: the ratio times what the gift still holds) and what it
    holds of the match now. Once per (match, gift): the unique key makes a
    gift recorded twice, or by two workers at once, matched once."""

    __tablename__ = "matched_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), index=True)
    gift_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("donations.id"), index=True
    )
    full_minor: Mapped[int] = mapped_column(BigInteger)
    matched_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("match_id", "gift_id"),
        CheckConstraint("matched_minor >= 0 AND matched_minor <= full_minor", name="within_full"),
    )
