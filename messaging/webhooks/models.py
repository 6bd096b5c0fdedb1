"""An organisation's receivers of outgoing events (Standard Webhooks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class WebhookEndpoint(db.Model):
    """One URL an organisation's staff registered, with the events it wants.

    Each delivery is an outbox row on the ``webhook`` channel naming this
    endpoint; the URL and the secret are read when the row is sent, so an edit
    or a rotation applies to deliveries still waiting."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(300), default="")
    # The event types it receives, e.g. ["gift.recorded", "page.published"].
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    # "whsec_…" (Standard Webhooks), encrypted at rest like social credentials.
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # After a rotation the old secret signs too, until it expires, so a receiver
    # can change its secret without losing a delivery.
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when Relais disabled it after repeated failures (the screen's banner).
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    # Dead letters in a row since the last delivery that got a 2xx.
    consecutive_dead: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
