"""Every ledger row carries its donor's 64-bit id (``donor_id_for``), the same
number whether Python or PostgreSQL computes it (the migration and the bench
fill it in SQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from campaigns.giving import ledger
from campaigns.giving.models import Donation, DonationKind, donor_id_for, donor_id_sql
from tests.factories import CauseFactory, PageFactory

KEYS = [
    ledger.donor_key_for("ana@example.org"),
    ledger.donor_key_for("Zoé.Éloïse@exemple.fr"),
    "row:1",
    "match:42",
    "clé à 2 € ✓",
    "x" * 64,
    *(f"row:{n}" for n in range(200)),
]


def test_python_and_postgresql_give_the_same_id(db, backend):
    if backend != "postgresql":
        pytest.skip("SQLite has no SHA-256; the migration computes it in Python there")
    statement = text(f"SELECT {donor_id_sql('CAST(:key AS text)')}")
    for key in KEYS:
        assert db.session.scalar(statement, {"key": key}) == donor_id_for(key), key
    assert db.session.scalar(statement, {"key": ""}) is None
    # Both halves of the signed range are there: the sign bit is read alike.
    assert min(map(donor_id_for, KEYS)) < 0 < max(map(donor_id_for, KEYS))


def test_every_ledger_row_carries_its_donors_id(db):
    cause = CauseFactory()
    page = PageFactory(cause=cause)
    known = ledger.record_gift(
        page=page, cause=cause, amount_minor=1000, donor_email=" Ana@Example.org"
    )
    cash = ledger.record_gift(page=page, cause=cause, amount_minor=500)  # no address
    refund = ledger.record_further_row(known, DonationKind.REFUND, -400)
    db.session.flush()
    db.session.expire_all()

    rows = {
        row.id: (row.donor_key, row.donor_id)
        for row in db.session.scalars(select(Donation).where(Donation.cause_id == cause.id))
    }
    key = ledger.donor_key_for("ana@example.org")
    assert rows[known.id] == rows[refund.id] == (key, donor_id_for(key))
    assert rows[cash.id] == (f"row:{cash.id}", donor_id_for(f"row:{cash.id}"))
    assert donor_id_for("") is None
