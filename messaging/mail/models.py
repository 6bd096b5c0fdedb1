"""Account mail kept as sent (shown at /mail in the demo)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class SentMail(db.Model):
    """A copy of every email Relais sent or, with no SMTP configured, kept.

    The demo has no SMTP server: its mail is kept here and shown on the
    "sent mail" page so confirmation and invitation links can be followed.
    """

    __tablename__ = "sent_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(255), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(String(80), default="")
    is_delivered: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
