"""Organisations, their causes and the projects a cause funds."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class CauseStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    locale: Mapped[str] = mapped_column(String(10), default="fr")
    # Minor units, e.g. [1000, 2500, 5000] for 10/25/50 EUR.
    suggested_amounts: Mapped[list] = mapped_column(JSON, default=lambda: [1000, 2500, 5000])
    min_amount_minor: Mapped[int] = mapped_column(Integer, default=200)
    max_amount_minor: Mapped[int] = mapped_column(Integer, default=1_000_000)
    open_data_k_floor: Mapped[int] = mapped_column(Integer, default=3)
    # A total that would tell a hidden gift's amount (one donor): "rounded" or
    # "hidden" until a second donor gives (campaigns/giving/discretion.py).
    hidden_gift_total: Mapped[str] = mapped_column(
        String(10), default="rounded", server_default="rounded"
    )
    # Receipts: "EV-2026-000123"; French associations d'intérêt général issue reçus fiscaux.
    receipt_prefix: Mapped[str] = mapped_column(String(10), default="")
    issues_tax_receipts: Mapped[bool] = mapped_column(default=True)
    # Stripe Connect: the organisation's own Stripe account (acct_…), and what
    # Stripe last said of it (``connect_checked_at``: when Stripe said it, so an
    # older account.updated delivered late changes nothing). Gifts are paid into
    # it once charges are enabled; before that, into the site's own account.
    # Donors may add the fees to their gift (campaigns.giving.covers); what they
    # add counts in goals and leaderboards only when ``counts_covers``.
    offers_fee_cover: Mapped[bool] = mapped_column(default=True, server_default=true())
    counts_covers: Mapped[bool] = mapped_column(default=False, server_default=false())
    connected_account_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    connect_charges_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    connect_details_submitted: Mapped[bool] = mapped_column(default=False, server_default=false())
    connect_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    causes: Mapped[list[Cause]] = relationship(back_populates="organisation")

    __table_args__ = (CheckConstraint("length(currency) = 3", name="currency_iso"),)


class Cause(db.Model):
    __tablename__ = "causes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300), default="")
    story: Mapped[str] = mapped_column(Text, default="")
    goal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[CauseStatus] = mapped_column(String(20), default=CauseStatus.DRAFT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="causes")
    projects: Mapped[list[Project]] = relationship(
        back_populates="cause", order_by="Project.position"
    )

    __table_args__ = (CheckConstraint("goal_minor >= 0", name="goal_not_negative"),)

    @property
    def currency(self) -> str:
        return self.organisation.currency


class Project(db.Model):
    """A designation a donor can choose within a cause."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    goal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)

    cause: Mapped[Cause] = relationship(back_populates="projects")

    __table_args__ = (UniqueConstraint("cause_id", "slug"),)
