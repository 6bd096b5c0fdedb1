"""Running totals per scope, kept equal to the ledger."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Integer,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db


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
    # What collecting ``raised_minor`` cost (Stripe's fees, positive): never part of it.
    fees_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # What donors added to cover the fees, kept apart from ``raised_minor``
    # (kind ``cover``); net is raised + covers - fees.
    covers_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class TotalDonor(db.Model):
    """Who has given in a scope (``Donation.donor_id``), so donor counts stay distinct."""

    __tablename__ = "total_donors"

    scope: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[int] = mapped_column(Integer)
    donor_id: Mapped[int] = mapped_column(BigInteger)

    # Integers first: a rebuild sorts millions of rows to build this key, and
    # the scope's text decides only between rows of equal id and donor.
    __table_args__ = (PrimaryKeyConstraint("scope_id", "donor_id", "scope"),)
