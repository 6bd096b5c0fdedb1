"""Achievement badges a page earned, and which badges an organisation awards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class PageBadge(db.Model):
    """A badge a page earned, once: what later happens (a refund, a page
    passing it on the board) does not take it back."""

    __tablename__ = "page_badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("page_id", "code"),)


class BadgeSetting(db.Model):
    """A badge an organisation turned off (every badge is on by default)."""

    __tablename__ = "badge_settings"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    is_enabled: Mapped[bool] = mapped_column(default=True)
