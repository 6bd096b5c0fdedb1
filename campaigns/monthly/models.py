"""Monthly gifts: one Stripe subscription each; every paid invoice is a gift
row of the ledger (``Donation.monthly_gift_id``, unique ``stripe_invoice_id``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class MonthlyStatus(StrEnum):
    ACTIVE = "active"  # Stripe charges it every month
    PAST_DUE = "past_due"  # the last invoice failed: Stripe retries it
    CANCELED = "canceled"  # stopped (by the donor's link, staff or Stripe)


class MonthlyGift(db.Model):
    """A donor's monthly gift to a page (its cause once the page closes) or a
    cause. Made by whichever of ``checkout.session.completed`` and the first
    ``invoice.paid`` arrives first, found by its subscription id afterwards."""

    __tablename__ = "monthly_gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    # The connected account the subscription lives on (None: the site's own).
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), index=True)
    # The page it started from: each invoice is credited there while it is open.
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    pending_gift_id: Mapped[int | None] = mapped_column(ForeignKey("pending_gifts.id"), unique=True)
    # Each month: the gift and the fee cover the donor added (campaigns.giving.covers).
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    cover_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # Personal data (erased with the donor: campaigns.donors.services.erase_donor).
    donor_name: Mapped[str] = mapped_column(String(200), default="")
    donor_email: Mapped[str] = mapped_column(String(255), default="", index=True)
    is_anonymous: Mapped[bool] = mapped_column(default=False)
    # Erased on the donor's request: later events never write their address back.
    is_erased: Mapped[bool] = mapped_column(default=False, server_default=false())
    locale: Mapped[str] = mapped_column(String(10), default="fr")
    status: Mapped[MonthlyStatus] = mapped_column(String(20), default=MonthlyStatus.ACTIVE)
    # Part of the donor's stop link (with the id, signed): a new key voids old links.
    stop_key: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
