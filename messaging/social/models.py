"""Agents' connected X and Facebook accounts (credentials encrypted)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class SocialAccount(db.Model):
    """Credentials an agent connected to post for themselves (encrypted at rest)."""

    __tablename__ = "social_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))  # x | facebook
    # Facebook Page id to post to; X handle for display.
    account_ref: Mapped[str] = mapped_column(String(120), default="")
    credentials_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("agent_id", "provider"),)
