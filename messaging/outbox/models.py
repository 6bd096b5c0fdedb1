"""The outbox: one row per message to deliver, and the channels it goes by."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class Channel(StrEnum):
    X = "x"
    FACEBOOK = "facebook"
    EMAIL = "email"
    COPY = "copy"
    WEBHOOK = "webhook"  # an organisation's endpoint (messaging.webhooks), never an agent


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"  # a worker has it; a social post in flight is never retried blindly
    SENT = "sent"
    FAILED = "failed"  # transient failure: retried at next_attempt_at (status back to queued)
    DEAD = "dead"  # gave up after N attempts; the last error is visible to staff
    REVIEW = "review"  # an ambiguous social-post failure: a person decides
    SKIPPED = "skipped"  # opted out, no credentials, no address
    CANCELLED = "cancelled"


class OutboxMessage(db.Model):
    """One message to one agent on one channel, sent after commit by a worker."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # e.g. "broadcast:12:run:3:agent:45:email": the same message is queued once.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # None for account mail (sign-up, password reset): it belongs to no organisation.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_templates.id"))
    # A webhook delivery: the endpoint it goes to (URL and secret read at send
    # time); message_id is then the event's stable id (the webhook-id header).
    webhook_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(20), default="")
    # Account mail, receipts, invitations: sent whatever the agent's marketing
    # choices (opt-out, quiet hours) and without the unsubscribe footer.
    is_transactional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    channel: Mapped[Channel] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(255), default="")  # email address
    subject: Mapped[str] = mapped_column(String(300), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    # Fixed once: a resent email carries the same Message-ID.
    message_id: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[OutboxStatus] = mapped_column(String(20), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str] = mapped_column(String(255), default="")  # tweet / post id
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Workers pick due rows through this partial index.
        Index(
            "ix_outbox_messages_due",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )
