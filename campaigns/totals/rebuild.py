"""``rebuild``: every stored total and donor set replaced with the ledger's.

Set-based: a million-row ledger is grouped by the database, never loaded into
Python. ``totals.drift()`` checks the result with another computation (COUNT
DISTINCT over the ledger).
"""

from __future__ import annotations

from sqlalchemy import case, delete, func, select, text, tuple_, update

from campaigns.giving.models import Donation
from campaigns.totals import written
from campaigns.totals.models import Total, TotalDonor, TotalScope
from campaigns.totals.services import (
    DONOR_KINDS,
    SCOPE_COLUMNS,
    cover_amount,
    fee_amount,
    gift_count,
    raised_amount,
)
from extensions import db, dialect_insert


def rebuild() -> int:
    """Replace stored totals with the ledger's; returns the number of scopes.

    On PostgreSQL each of the two steps (the donor sets, then the sums) reads
    the ledger once, every scope at a time (GROUPING SETS, hashed), and the
    donor sets' key is built after their rows; SQLite, which has no grouping
    sets, reads the ledger once per scope. Donor counts come from the donor
    sets in one grouped pass."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    written.forget()
    # DELETE, not TRUNCATE: readers keep seeing the old totals until the commit
    # (the caller locks out writers only).
    db.session.execute(delete(Total))
    donors = TotalDonor.__table__
    if postgresql:
        # Grouping and de-duplicating millions of rows: in memory, not on disk.
        db.session.execute(text("SET LOCAL work_mem = '512MB'"))
        db.session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        # Only writers read the donor sets, and they wait for the rebuild: the
        # sets are emptied at once and their key built once, after the rows
        # (one sort), instead of maintained for each of millions of rows.
        db.session.execute(text(f"TRUNCATE {donors.name}"))
        db.session.execute(
            text(f"ALTER TABLE {donors.name} DROP CONSTRAINT {donors.primary_key.name}")
        )
    else:
        db.session.execute(delete(TotalDonor))
    counted = Donation.kind.in_(DONOR_KINDS)
    for scopes in [list(SCOPE_COLUMNS)] if postgresql else [[s] for s in SCOPE_COLUMNS]:
        label, scope_id, group_by = _by_scope(scopes)
        donor_sets = (
            select(label, scope_id, Donation.donor_id)
            .where(counted, Donation.donor_id.is_not(None))
            .group_by(*group_by(Donation.donor_id))
            .having(scope_id.is_not(None))
        )
        db.session.execute(
            dialect_insert(TotalDonor).from_select(["scope", "scope_id", "donor_id"], donor_sets)
        )
        sums = (
            select(
                label,
                scope_id,
                db.literal(0),
                func.sum(raised_amount()),
                func.coalesce(func.sum(gift_count()), 0),
                db.literal(0),
                func.sum(fee_amount()),
                func.sum(cover_amount()),
            )
            .group_by(*group_by())
            .having(scope_id.is_not(None))
        )
        db.session.execute(
            dialect_insert(Total).from_select(
                [
                    "scope",
                    "scope_id",
                    "slot",
                    "raised_minor",
                    "donation_count",
                    "donor_count",
                    "fees_minor",
                    "covers_minor",
                ],
                sums,
            )
        )
    if postgresql:
        key = ", ".join(column.name for column in donors.primary_key.columns)
        db.session.execute(
            text(
                f"ALTER TABLE {donors.name} ADD CONSTRAINT {donors.primary_key.name} "
                f"PRIMARY KEY ({key})"
            )
        )
    counts = (
        select(TotalDonor.scope, TotalDonor.scope_id, func.count().label("donors"))
        .group_by(TotalDonor.scope, TotalDonor.scope_id)
        .subquery()
    )
    db.session.execute(
        update(Total)
        .values(donor_count=counts.c.donors)
        .where(Total.scope == counts.c.scope, Total.scope_id == counts.c.scope_id)
    )
    # (psycopg reports no row count for INSERT … SELECT: count what is there.)
    return db.session.scalar(select(func.count()).select_from(Total))


def _by_scope(scopes: list[TotalScope]):
    """(scope label, scope id, GROUP BY maker) grouping ledger rows by each of
    ``scopes``: one grouping set per scope when there are several (a row of
    the result belongs to the one scope whose column it was grouped by; the
    others are NULL there), a plain GROUP BY for one."""
    columns = [SCOPE_COLUMNS[scope] for scope in scopes]
    if len(columns) == 1:
        return db.literal(scopes[0].value), columns[0], lambda *more: [columns[0], *more]
    label = case(
        *(
            (func.grouping(c) == 0, db.literal(s.value))
            for s, c in zip(scopes, columns, strict=True)
        )
    )
    return (
        label,
        func.coalesce(*columns),
        lambda *more: [func.grouping_sets(*(tuple_(c, *more) for c in columns))],
    )
