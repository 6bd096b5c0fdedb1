"""The yearly reçu fiscal: what each donor gave an organisation in one
calendar year — one-off gifts, every month of a monthly gift, cash and cheques
staff confirmed — with the fee covers they added (a gift too:
``campaigns.giving.covers``), less what was refunded or disputed.

One query, grouped by the donor's address (lower-cased): a donor who gave
without an address cannot be told apart, and has no yearly receipt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from campaigns.giving.models import COST_KINDS, COVER_KINDS, Donation, DonationKind
from extensions import db

GIFT_KINDS = (DonationKind.GIFT, DonationKind.OFFLINE)


@dataclass(frozen=True)
class DonorYear:
    email: str
    name: str
    gifts: int  # gift rows: each month of a monthly gift is one
    monthly_gifts: int  # of which monthly invoices
    given_minor: int  # the gifts themselves
    covers_minor: int  # fee covers added to them
    refunded_minor: int  # taken back (refunds, disputes), positive
    currency: str

    @property
    def deductible_minor(self) -> int:
        return max(0, self.given_minor + self.covers_minor - self.refunded_minor)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def statement(organisation_id: int, year: int, email: str | None = None) -> list[DonorYear]:
    """Each donor's year with ``organisation_id`` (one address with ``email``),
    by address. Rows that follow a gift count with the gift's year."""
    start, end = year_bounds(year)
    child = aliased(Donation)
    later = (
        select(
            child.original_id.label("gift_id"),
            func.sum(
                db.case(
                    (
                        child.kind.in_(COVER_KINDS) & (child.cover_of_id == child.original_id),
                        child.amount_minor,
                    ),
                    else_=0,
                )
            ).label("cover"),
            func.sum(
                db.case(
                    (
                        child.kind.in_(
                            (*COST_KINDS, *(DonationKind.TRANSFER_OUT, DonationKind.TRANSFER_IN))
                        ),
                        0,
                    ),
                    (child.kind.in_(COVER_KINDS) & (child.cover_of_id == child.original_id), 0),
                    else_=child.amount_minor,
                )
            ).label("back"),
        )
        .where(child.original_id.is_not(None))
        .group_by(child.original_id)
        .subquery()
    )
    address = func.lower(Donation.donor_email)
    query = (
        select(
            address,
            func.max(Donation.donor_name),
            func.count(Donation.id),
            func.count(Donation.stripe_invoice_id),
            func.sum(Donation.amount_minor),
            func.coalesce(func.sum(later.c.cover), 0),
            func.coalesce(func.sum(later.c.back), 0),
            func.max(Donation.currency),
        )
        .outerjoin(later, later.c.gift_id == Donation.id)
        .where(
            Donation.organisation_id == organisation_id,
            Donation.kind.in_(GIFT_KINDS),
            Donation.original_id.is_(None),
            Donation.donor_email != "",
            Donation.created_at >= start,
            Donation.created_at < end,
        )
        .group_by(address)
        .order_by(address)
    )
    if email:
        query = query.where(address == email.strip().lower())
    return [
        DonorYear(
            email=row[0],
            name=row[1] or "",
            gifts=int(row[2]),
            monthly_gifts=int(row[3]),
            given_minor=int(row[4] or 0),
            covers_minor=int(row[5] or 0),
            refunded_minor=-int(row[6] or 0),
            currency=row[7],
        )
        for row in db.session.execute(query)
    ]


def years_with_gifts(organisation_id: int | None = None, email: str | None = None) -> list:
    """The (organisation id, year) pairs that have a yearly statement, newest
    year first: those of ``organisation_id``, or of one donor's ``email``."""
    year = func.extract("year", Donation.created_at)
    query = (
        select(Donation.organisation_id, year)
        .where(
            Donation.kind.in_(GIFT_KINDS),
            Donation.original_id.is_(None),
            Donation.donor_email != "",
        )
        .group_by(Donation.organisation_id, year)
        .order_by(year.desc(), Donation.organisation_id)
    )
    if organisation_id is not None:
        query = query.where(Donation.organisation_id == organisation_id)
    if email is not None:
        query = query.where(func.lower(Donation.donor_email) == email.strip().lower())
    return [(int(org_id), int(found)) for org_id, found in db.session.execute(query)]


def newest_gift(organisation_id: int, year: int, email: str) -> Donation | None:
    """The donor's latest gift of the year that names a postal address (else
    their latest gift): the name and address a yearly statement prints."""
    start, end = year_bounds(year)
    has_address = (Donation.donor_address_line != "") | (Donation.donor_city != "")
    return db.session.scalars(
        select(Donation)
        .where(
            Donation.organisation_id == organisation_id,
            Donation.kind.in_(GIFT_KINDS),
            Donation.original_id.is_(None),
            func.lower(Donation.donor_email) == email.strip().lower(),
            Donation.created_at >= start,
            Donation.created_at < end,
        )
        .order_by(db.case((has_address, 0), else_=1), Donation.created_at.desc())
        .limit(1)
    ).first()
