"""Fundraising pages, their co-hosts and co-host invitations, teams' join requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.model_types import UTCDateTime, utcnow
from campaigns.organisations.models import CauseStatus
from extensions import db

if TYPE_CHECKING:
    from campaigns.organisations.models import Cause


class PageKind(StrEnum):
    PERSONAL = "personal"
    EVENT = "event"
    TEAM = "team"


# The kinds other pages can join; ``Page.is_event`` reads it, on a row and in SQL.
EVENT_KINDS = (PageKind.EVENT, PageKind.TEAM)


class PageStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    HIDDEN = "hidden"
    CLOSED = "closed"


class Page(db.Model):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), index=True)
    # Kept when the owner deletes their account: the page and its money stay.
    owner_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True)
    kind: Mapped[PageKind] = mapped_column(String(20), default=PageKind.PERSONAL)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    story: Mapped[str] = mapped_column(Text, default="")
    goal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    city: Mapped[str] = mapped_column(String(120), default="")
    venue: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    photo: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[PageStatus] = mapped_column(String(20), default=PageStatus.DRAFT)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    # Title, city, venue and owner folded for search (campaigns.discovery.search).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cause: Mapped[Cause] = relationship()
    owner = relationship("Agent", foreign_keys=[owner_id])
    parent: Mapped[Page | None] = relationship(remote_side=[id], back_populates="members")
    members: Mapped[list[Page]] = relationship(back_populates="parent", order_by="Page.id")
    cohosts: Mapped[list[PageHost]] = relationship(back_populates="page")

    __table_args__ = (
        CheckConstraint("goal_minor >= 0", name="goal_not_negative"),
        Index("ix_pages_cause_status_city", "cause_id", "status", "city"),
    )

    @property
    def currency(self) -> str:
        return self.cause.organisation.currency

    @hybrid_property
    def is_event(self) -> bool:
        """An event or a team: a page other pages can join (``Page.is_event`` in SQL too)."""
        return self.kind in EVENT_KINDS

    @is_event.inplace.expression
    @classmethod
    def _is_event_expression(cls):
        return cls.kind.in_(EVENT_KINDS)

    @property
    def accepts_gifts(self) -> bool:
        return self.status == PageStatus.PUBLISHED and self.cause.status == CauseStatus.PUBLISHED


class PageHost(db.Model):
    """A co-host of an event (or team) page: may edit it like its owner."""

    __tablename__ = "page_hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    page: Mapped[Page] = relationship(back_populates="cohosts")
    agent = relationship("Agent")

    __table_args__ = (UniqueConstraint("page_id", "agent_id"),)


class CohostInvite(db.Model):
    __tablename__ = "cohost_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    email: Mapped[str] = mapped_column(String(255))
    # sha256 of the token sent by email; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))

    page: Mapped[Page] = relationship()


class JoinRequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class TeamJoinRequest(db.Model):
    """A personal page asking to join a team: its captain (or a co-host)
    approves or declines. One row per team and page; asking again after a
    refusal opens it again."""

    __tablename__ = "team_join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    status: Mapped[JoinRequestStatus] = mapped_column(String(20), default=JoinRequestStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))

    team: Mapped[Page] = relationship(foreign_keys=[team_id])
    page: Mapped[Page] = relationship(foreign_keys=[page_id])

    __table_args__ = (UniqueConstraint("team_id", "page_id"),)


class Sponsor(db.Model):
    """A local business or partner that supports an event, shown on its page;
    staff may hide one (a partner the organisation cannot be seen with)."""

    __tablename__ = "sponsors"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(300), default="")
    logo: Mapped[str | None] = mapped_column(String(120))
    is_hidden: Mapped[bool] = mapped_column(default=False)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    page: Mapped[Page] = relationship()


class ReportReason(StrEnum):
    SPAM = "spam"
    SCAM = "scam"
    HATEFUL = "hateful"
    PRIVACY = "privacy"
    OTHER = "other"


class PageReport(db.Model):
    """A visitor's report that a page breaks the rules; anonymous (nothing
    personal is kept), reviewed by the organisation's staff."""

    __tablename__ = "page_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    reason: Mapped[ReportReason] = mapped_column(String(20))
    details: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
