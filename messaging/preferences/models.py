"""What each person agreed to receive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class MessagingPreference(db.Model):
    """An agent's choices: opt-outs per channel and quiet hours."""

    __tablename__ = "messaging_preferences"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    is_email_opted_out: Mapped[bool] = mapped_column(default=False)
    is_social_opted_out: Mapped[bool] = mapped_column(default=False)
    # Local hours [start, end) when nothing is sent; None: no quiet hours.
    quiet_start_hour: Mapped[int | None] = mapped_column(Integer)
    quiet_end_hour: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(60), default="Europe/Paris")
    # Signed into unsubscribe links; changing it invalidates old links.
    unsubscribe_salt: Mapped[str] = mapped_column(String(32), default="")


class EmailOptOut(db.Model):
    """An address that asked for no more campaign email (a donor without an
    account, from the link in field news). Kept as a hash of the address: the
    list must outlive an erasure, and it says nothing of who was on it."""

    __tablename__ = "email_opt_outs"

    # sha256 of the lower-cased address.
    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
