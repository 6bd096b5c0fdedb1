"""Gifts received outside Stripe (cash, cheque, transfer) awaiting approval."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db

if TYPE_CHECKING:
    from campaigns.pages.models import Page


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
