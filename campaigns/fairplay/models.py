"""Fair play: gifts flagged for review (self-gifts, bursts of small gifts),
what staff decided about each, and the card each gift was paid with."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db

if TYPE_CHECKING:
    from campaigns.giving.models import Donation

# The ledger's ids are 64-bit on PostgreSQL (``Donation.id``).
GIFT_ID = BigInteger().with_variant(Integer, "sqlite")


class FlagStatus(StrEnum):
    OPEN = "open"  # waiting for staff; still counted everywhere
    EXCLUDED = "excluded"  # left out of leaderboards and leagues (never the totals)
    CLEARED = "cleared"  # staff found it fair: counted


class FlagReason(StrEnum):
    SELF_GIFT = "self_gift"  # the page's owner (or a co-host) gave: their address or card
    VELOCITY = "velocity"  # one of a burst of small gifts from one card or address


class FairPlayFlag(db.Model):
    """One gift flagged for review, once per gift whatever the reasons."""

    __tablename__ = "fair_play_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    gift_id: Mapped[int] = mapped_column(GIFT_ID, ForeignKey("donations.id"), unique=True)
    cause_id: Mapped[int | None] = mapped_column(ForeignKey("causes.id"))
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True)
    is_self_gift: Mapped[bool] = mapped_column(default=False)
    is_velocity: Mapped[bool] = mapped_column(default=False)
    # What matched, per reason: {"self_gift": ["email", "card"], "velocity": ["card"]}.
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[FlagStatus] = mapped_column(String(10), default=FlagStatus.OPEN)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    gift: Mapped[Donation] = relationship()
    reviewed_by = relationship("Agent")

    __table_args__ = (
        # The queue: an organisation's flags by status, newest first.
        Index("ix_fair_play_flags_organisation_status", "organisation_id", "status", "id"),
        # Every ranking reads the excluded gifts.
        Index("ix_fair_play_flags_status_gift", "status", "gift_id"),
    )

    @property
    def reasons(self) -> list[str]:
        return [
            str(reason)
            for reason, on in (
                (FlagReason.SELF_GIFT, self.is_self_gift),
                (FlagReason.VELOCITY, self.is_velocity),
            )
            if on
        ]


class GiftCard(db.Model):
    """The card a gift was paid with, as Stripe fingerprints it (the same card
    has the same fingerprint on one Stripe account), when Stripe told us:
    kept here, not on the ledger row, since it may arrive after the gift."""

    __tablename__ = "gift_cards"

    gift_id: Mapped[int] = mapped_column(GIFT_ID, ForeignKey("donations.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the gift's time

    __table_args__ = (Index("ix_gift_cards_card", "organisation_id", "fingerprint", "given_at"),)
