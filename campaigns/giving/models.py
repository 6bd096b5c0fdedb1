"""The donation ledger, pending gifts, Stripe events and receipt numbers."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db

if TYPE_CHECKING:
    from campaigns.organisations.models import Cause, Project
    from campaigns.pages.models import Page


class DonationKind(StrEnum):
    GIFT = "gift"
    OFFLINE = "offline"
    REFUND = "refund"
    DISPUTE = "dispute"
    DISPUTE_REVERSAL = "dispute_reversal"
    # A refund Stripe reported as failed: the money is back with the charity.
    REFUND_REVERSAL = "refund_reversal"
    # What collecting a gift cost: Stripe's fee on its charge, refund or dispute
    # (negative; a fee Stripe gives back is positive), one row per balance transaction.
    FEE = "fee"
    # Staff moved an unattributed gift to the page it was meant for: the money
    # leaves the cause's unattributed part (out) and lands on the page (in);
    # the fees it cost so far move with it (fee_transfer, one row each side).
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    FEE_TRANSFER = "fee_transfer"
    # A sponsor's match of one gift (campaigns.matching): its part of the match
    # (positive), and what a refund of the gift gives back of it (release, negative).
    MATCH = "match"
    MATCH_RELEASE = "match_release"
    # What a donor added to cover the fees (campaigns.giving.covers), a row of
    # its own beside the gift (``cover_of_id`` names the row it is the cover
    # part of). ``cover``: kept apart from what was raised (``covers_minor``),
    # the default; ``cover_raised``: counted as raised, for an organisation
    # that decided so (``Organisation.counts_covers``, fixed when the row is
    # written). A refund, dispute or transfer of covered money has its cover
    # part as a further row of the same kind (negative when it leaves).
    COVER = "cover"
    COVER_RAISED = "cover_raised"


# Rows that are no money given or given back but what collecting it cost: the
# totals keep them apart (``fees_minor``), never in what was raised.
COST_KINDS = (DonationKind.FEE, DonationKind.FEE_TRANSFER)
TRANSFER_KINDS = (DonationKind.TRANSFER_OUT, DonationKind.TRANSFER_IN, DonationKind.FEE_TRANSFER)
# A sponsor's money matching a gift: counted as raised, never as a gift or a donor.
MATCH_KINDS = (DonationKind.MATCH, DonationKind.MATCH_RELEASE)
# The donor's fee cover: never part of what the gift "holds" (its match, its
# transfer), always part of its receipt (a gift to the charity too).
COVER_KINDS = (DonationKind.COVER, DonationKind.COVER_RAISED)


def donor_id_for(donor_key: str) -> int | None:
    """The donor's 64-bit id: the first 8 bytes of the SHA-256 of ``donor_key``,
    as a signed integer (None without a key).

    The totals' donor sets hold it instead of the 64-character key: a third of
    the bytes to group, sort and index when they are rebuilt. Two donors of one
    scope share an id with a chance of about n²/2^65 (n donors): negligible."""
    if not donor_key:
        return None
    return int.from_bytes(hashlib.sha256(donor_key.encode()).digest()[:8], "big", signed=True)


def donor_id_sql(key: str) -> str:
    """``donor_id_for`` in PostgreSQL, of the SQL expression ``key``."""
    return (
        f"CASE WHEN {key} <> '' THEN ('x' || left(encode(sha256(convert_to({key}, 'UTF8')), "
        "'hex'), 16))::bit(64)::bigint END"
    )


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
    # ``donor_id_for(donor_key)``, kept with it by ``_donor_id``: the donor in
    # the totals' donor sets. Not a foreign key; None without a donor key.
    donor_id: Mapped[int | None] = mapped_column(BigInteger)
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
    # The gift a refund, dispute, fee or transfer row belongs to.
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
    # Refund reversal rows: the failed refund (re_…), so it gives money back once.
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255))
    # Stripe Connect: the connected account (acct_…) the money was paid into;
    # None for the site's own Stripe account. Its refunds are asked of that account.
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # Fee rows: the balance transaction (txn_…) the fee was read from, so it is booked once.
    stripe_balance_transaction_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Match rows: the gift they match (not ``original_id``: a match is the
    # sponsor's money, never part of what the gift holds or its receipt).
    matched_gift_id: Mapped[int | None] = mapped_column(ForeignKey("donations.id"), index=True)
    # Cover rows: the row (gift, refund, dispute, transfer) they are the cover
    # part of; unique, so a row gets its cover part once.
    cover_of_id: Mapped[int | None] = mapped_column(ForeignKey("donations.id"), unique=True)
    # A monthly gift's paid invoice (campaigns.monthly): one gift row per invoice.
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    monthly_gift_id: Mapped[int | None] = mapped_column(ForeignKey("monthly_gifts.id"), index=True)
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
        UniqueConstraint("kind", "stripe_refund_id"),
        # Per organisation: two organisations may choose the same prefix.
        UniqueConstraint("organisation_id", "receipt_number"),
        # One donor's recent gifts: fair play's check for bursts of small gifts.
        Index("ix_donations_donor_key_created", "donor_key", "created_at"),
    )

    @validates("donor_key")
    def _donor_id(self, _key: str, donor_key: str) -> str:
        # Every way a row gets its key (the constructor, ``row:<id>`` after the
        # flush) sets its id too; bulk UPDATEs set both (``erase_donor``).
        self.donor_id = donor_id_for(donor_key)
        return donor_key


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
    # What the donor added to cover the fees (campaigns.giving.covers), paid
    # with the gift: Checkout charges amount + cover.
    cover_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Monthly: Checkout in subscription mode (campaigns.monthly).
    is_monthly: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[PendingGiftStatus] = mapped_column(String(20), default=PendingGiftStatus.PENDING)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("cover_minor >= 0", name="cover_not_negative"),
    )


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
    # A Connect event: the connected account it happened on (the event's ``account``).
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # The event's object, kept for refunds and disputes that arrived before
    # their gift: they are applied from it when the gift is recorded.
    payload: Mapped[dict | None] = mapped_column(JSON)
    stripe_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FeeLookup(db.Model):
    """What the ``record-fees`` job has asked Stripe about one card gift: its
    charge's fee once known, and its refunds' fees up to ``refunds_seen`` refund
    rows. Bookkeeping of the job, not the ledger (the fees are ledger rows)."""

    __tablename__ = "fee_lookups"

    gift_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("donations.id"), primary_key=True
    )
    is_charge_known: Mapped[bool] = mapped_column(default=False)
    refunds_seen: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceiptCounter(db.Model):
    """Gap-free receipt numbers: taken in the same transaction as the gift."""

    __tablename__ = "receipt_counters"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
