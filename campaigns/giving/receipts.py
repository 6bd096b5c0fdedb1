"""Receipt numbers: gap-free per organisation and year.

Numbers are issued after the gift is recorded, by one job (``issue_pending``)
in ledger order, not inside the webhook's transaction: a per-year counter that
every gift locks until commit would serialise every payment of an
organisation. Waiting gifts are taken with FOR UPDATE SKIP LOCKED (BEGIN
IMMEDIATE on SQLite: call ``campaigns.unit_of_work.begin_write`` first), and the counter's
row lock orders the numbers.
"""

from __future__ import annotations

from sqlalchemy import select, update

from campaigns.giving.models import Donation, DonationKind, ReceiptCounter
from campaigns.organisations.models import Organisation
from campaigns.signals import receipt_issued
from extensions import db, dialect_insert

RECEIPTED_KINDS = (DonationKind.GIFT, DonationKind.OFFLINE)


def next_number(organisation_id: int, year: int) -> int:
    """Take the next number of the organisation's year; the row lock it takes is
    held until commit, so two gifts never get the same number."""
    db.session.execute(
        dialect_insert(ReceiptCounter)
        .values(organisation_id=organisation_id, year=year, last_number=0)
        .on_conflict_do_nothing()
    )
    return db.session.execute(
        update(ReceiptCounter)
        .where(ReceiptCounter.organisation_id == organisation_id, ReceiptCounter.year == year)
        .values(last_number=ReceiptCounter.last_number + 1)
        .returning(ReceiptCounter.last_number)
    ).scalar_one()


def assign(donation: Donation) -> str:
    """Give a gift its receipt number, e.g. 'EV-2026-000042'."""
    org = db.session.get(Organisation, donation.organisation_id)
    year = donation.created_at.year
    number = next_number(donation.organisation_id, year)
    prefix = org.receipt_prefix or org.slug.upper()
    donation.receipt_number = f"{prefix}-{year}-{number:06d}"
    return donation.receipt_number


def issue_pending(limit: int = 500) -> int:
    """Number the gifts still waiting for a receipt, oldest first, and tell
    listeners (the receipt mail); returns how many. The caller commits."""
    waiting = db.session.scalars(
        select(Donation)
        .join(Organisation, Organisation.id == Donation.organisation_id)
        .where(
            Donation.receipt_number.is_(None),
            Donation.kind.in_(RECEIPTED_KINDS),
            Organisation.issues_tax_receipts.is_(True),
        )
        .order_by(Donation.id)
        .limit(limit)
        # Two issuers (a job and the demo's inline call) never number the same gift.
        .with_for_update(skip_locked=True, of=Donation)
    ).all()
    for donation in waiting:
        assign(donation)
        db.session.flush()
        receipt_issued.send(donation)
    return len(waiting)


def numbers_are_gap_free(organisation_id: int, year: int) -> bool:
    """True when the year's receipts are exactly 1…N (a check for tests and audits)."""
    prefix_rows = db.session.scalars(
        select(Donation.receipt_number).where(
            Donation.organisation_id == organisation_id, Donation.receipt_number.is_not(None)
        )
    ).all()
    numbers = sorted(int(n.rsplit("-", 1)[1]) for n in prefix_rows if f"-{year}-" in n)
    return numbers == list(range(1, len(numbers) + 1))
