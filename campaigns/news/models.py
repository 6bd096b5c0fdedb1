"""Field news: dated updates from a project or a page, and the donors' choice
to hear them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db

if TYPE_CHECKING:
    from campaigns.organisations.models import Cause, Project
    from campaigns.pages.models import Page


class FieldUpdate(db.Model):
    """News from the field on one project or one page (the domain's ``Update``),
    mailed once to the donors who gave to it and asked to hear back."""

    __tablename__ = "field_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"))
    # Kept (as None) when the author deletes their account: the news stays.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(120))  # a stored file name
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Set when the mail to the donors was queued: an update is mailed once.
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cause: Mapped[Cause] = relationship()
    project: Mapped[Project | None] = relationship()
    page: Mapped[Page | None] = relationship()
    author = relationship("Agent")

    __table_args__ = (
        CheckConstraint("(project_id IS NULL) <> (page_id IS NULL)", name="one_subject"),
        Index("ix_field_updates_page_posted", "page_id", "posted_at"),
        Index("ix_field_updates_project_posted", "project_id", "posted_at"),
    )


class NewsConsent(db.Model):
    """A donor's answer to "send me news from the field", per gift: the pending
    gift the thank-you page names (its Donation points back at it). A row that
    says no is kept: it records that the donor withdrew."""

    __tablename__ = "news_consents"

    pending_gift_id: Mapped[int] = mapped_column(ForeignKey("pending_gifts.id"), primary_key=True)
    is_agreed: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
