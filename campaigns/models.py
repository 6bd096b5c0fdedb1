"""Organisations, causes, projects, pages, the donation ledger and its totals."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(db.TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite too (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime; use timezone-aware UTC")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class CauseStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


class PageKind(StrEnum):
    PERSONAL = "personal"
    EVENT = "event"
    TEAM = "team"


class PageStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    HIDDEN = "hidden"
    CLOSED = "closed"


class DonationKind(StrEnum):
    GIFT = "gift"
    OFFLINE = "offline"
    REFUND = "refund"
    DISPUTE = "dispute"
    DISPUTE_REVERSAL = "dispute_reversal"


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
    # Receipts: "EV-2026-000123"; French associations d'intérêt général issue reçus fiscaux.
    receipt_prefix: Mapped[str] = mapped_column(String(10), default="")
    issues_tax_receipts: Mapped[bool] = mapped_column(default=True)
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

    @property
    def is_event(self) -> bool:
        return self.kind in (PageKind.EVENT, PageKind.TEAM)

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


class Donation(db.Model):
    """Append-only ledger. Refunds and disputes are further rows, never edits."""

    __tablename__ = "donations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[DonationKind] = mapped_column(String(20), default=DonationKind.GIFT)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int | None] = mapped_column(ForeignKey("causes.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True)
    # The event (or team) the page belonged to when the gift was made: gifts stay
    # counted there even if the page later leaves the event.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Identifies a donor for donor counts (hash of the email, or the row for cash).
    donor_key: Mapped[str] = mapped_column(String(64), default="")
    donor_name: Mapped[str] = mapped_column(String(200), default="")
    donor_email: Mapped[str] = mapped_column(String(255), default="")
    message: Mapped[str] = mapped_column(String(500), default="")
    is_anonymous: Mapped[bool] = mapped_column(default=False)
    is_unattributed: Mapped[bool] = mapped_column(default=False)
    # The donor's postal address, for the reçu fiscal (Cerfa 11580 names it):
    # Stripe's billing address, or what the donor typed. Personal data: staff
    # exports only, never open data. Country is ISO 3166 alpha-2.
    donor_address_line: Mapped[str] = mapped_column(String(200), default="", server_default="")
    donor_postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    donor_city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    donor_country: Mapped[str] = mapped_column(String(2), default="", server_default="")
    # The gift a refund or dispute row belongs to.
    original_id: Mapped[int | None] = mapped_column(ForeignKey("donations.id"), index=True)
    # How the money came: card (Stripe), cash, cheque, transfer.
    payment_method: Mapped[str] = mapped_column(String(20), default="card")
    stripe_event_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # Refund rows: Stripe's cumulative amount_refunded after this refund, so one
    # cumulative figure is recorded once per gift.
    stripe_refund_cumulative: Mapped[int | None] = mapped_column(BigInteger)
    stripe_dispute_id: Mapped[str | None] = mapped_column(String(255))
    pending_gift_id: Mapped[int | None] = mapped_column(ForeignKey("pending_gifts.id"), unique=True)
    offline_gift_id: Mapped[int | None] = mapped_column(ForeignKey("offline_gifts.id"), unique=True)
    # "EV-2026-000123": gap-free per organisation and year (reçu fiscal).
    receipt_number: Mapped[str | None] = mapped_column(String(40))
    # The share link the donor came through (messaging's attribution).
    share_link_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    page: Mapped[Page | None] = relationship(foreign_keys=[page_id])
    cause: Mapped[Cause | None] = relationship()
    project: Mapped[Project | None] = relationship()

    __table_args__ = (
        UniqueConstraint("original_id", "stripe_refund_cumulative"),
        UniqueConstraint("kind", "stripe_dispute_id"),
        # Per organisation: two organisations may choose the same prefix.
        UniqueConstraint("organisation_id", "receipt_number"),
    )


class PendingGiftStatus(StrEnum):
    PENDING = "pending"  # checkout started, nothing paid yet
    PAID = "paid"  # a webhook recorded the donation
    EXPIRED = "expired"


class PendingGift(db.Model):
    """What a donor asked for before paying; its ``reference`` is the Checkout
    Session's client_reference_id. Money is recorded from webhooks only."""

    __tablename__ = "pending_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), index=True)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    donor_name: Mapped[str] = mapped_column(String(200), default="")
    donor_email: Mapped[str] = mapped_column(String(255), default="")
    message: Mapped[str] = mapped_column(String(500), default="")
    is_anonymous: Mapped[bool] = mapped_column(default=False)
    is_amount_hidden: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str] = mapped_column(String(10), default="fr")
    # The donor's postal address, for the reçu fiscal (Cerfa 11580 names it):
    # Typed on the demo's give form (Stripe collects it otherwise). ISO country.
    donor_address_line: Mapped[str] = mapped_column(String(200), default="", server_default="")
    donor_postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    donor_city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    donor_country: Mapped[str] = mapped_column(String(2), default="", server_default="")
    share_code: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[PendingGiftStatus] = mapped_column(String(20), default=PendingGiftStatus.PENDING)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)


class StripeEventOutcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    ANOMALY = "anomaly"  # paid money we could not record as-is: staff look at it


class StripeEvent(db.Model):
    """Every Stripe event received once (its id is the primary key), and what
    became of it."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[StripeEventOutcome] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # The event's object, kept for refunds and disputes that arrived before
    # their gift: they are applied from it when the gift is recorded.
    payload: Mapped[dict | None] = mapped_column(JSON)
    stripe_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReceiptCounter(db.Model):
    """Gap-free receipt numbers: taken in the same transaction as the gift."""

    __tablename__ = "receipt_counters"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class OfflineGiftStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class OfflineGift(db.Model):
    """Cash or a cheque an agent collected; a ledger row once staff confirm it."""

    __tablename__ = "offline_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20), default="cash")  # cash | cheque
    donor_name: Mapped[str] = mapped_column(String(200), default="")
    donor_email: Mapped[str] = mapped_column(String(255), default="")
    # For the reçu fiscal, like a gift's (optional). ISO country.
    donor_address_line: Mapped[str] = mapped_column(String(200), default="", server_default="")
    donor_postal_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    donor_city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    donor_country: Mapped[str] = mapped_column(String(2), default="", server_default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    photo: Mapped[str | None] = mapped_column(String(120))
    collected_on: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[OfflineGiftStatus] = mapped_column(String(20), default=OfflineGiftStatus.PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    page: Mapped[Page] = relationship()

    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)


class TotalScope(StrEnum):
    PAGE = "page"  # gifts made on this page itself
    EVENT = "event"  # gifts on an event page and on its member pages
    CAUSE = "cause"
    PROJECT = "project"
    ORGANISATION = "organisation"


class Total(db.Model):
    """Running totals per scope, kept equal to the ledger.

    Hot scopes (cause, organisation) are spread over several slot rows so that
    concurrent gifts to different pages do not all wait on one row lock; a read
    sums the slots.
    """

    __tablename__ = "totals"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    raised_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    donation_count: Mapped[int] = mapped_column(Integer, default=0)
    donor_count: Mapped[int] = mapped_column(Integer, default=0)


class TotalDonor(db.Model):
    """Who has given in a scope, so donor counts stay distinct."""

    __tablename__ = "total_donors"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    donor_key: Mapped[str] = mapped_column(String(64), primary_key=True)


class Expense(db.Model):
    """Money spent on a project, shown to donors once published (fund use)."""

    __tablename__ = "expenses"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    spent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(String(200))  # "Well #34, Kati"
    description: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[str | None] = mapped_column(String(120))  # a stored file name
    is_published: Mapped[bool] = mapped_column(default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()

    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)


class AuditEntry(db.Model):
    """One staff action that changed money or visibility; append-only."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # The actor's name is copied: the entry outlives the account.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(40))  # "page.hide", "offline.confirm", …
    subject_type: Mapped[str] = mapped_column(String(40), default="")
    subject_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(500), default="")
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_audit_entries_organisation_created", "organisation_id", "created_at"),
    )
