"""Open-data CSV files neutralise spreadsheet formulas like the staff exports
(one guard, campaigns/csv_safety.py); the JSON keeps the text as typed."""

from __future__ import annotations

import csv
import io

from campaigns.dashboard import exports
from campaigns.giving import ledger
from tests.factories import CauseFactory, OrganisationFactory, PageFactory, ProjectFactory

FORMULA = '=HYPERLINK("http://evil.example","Click")'


def test_open_data_csv_cells_never_start_a_formula(client, db):
    org = OrganisationFactory(name="@SUM(1+1)")
    cause = CauseFactory(organisation=org, slug="formulas", title=FORMULA)
    ProjectFactory(cause=cause, slug="well", name="+cmd|' /C calc'!A0")
    page = PageFactory(cause=cause, title="-2+3 for water")
    for n in range(3):
        ledger.record_gift(page=page, cause=cause, amount_minor=1000, donor_email=f"d{n}@x.org")
    db.session.commit()

    seen = set()
    for name in ("organisations", "causes", "projects", "pages", "leaderboards"):
        text = client.get(f"/open/{name}.csv").text
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), (name, cell)
                seen.add(cell)
    assert "'" + FORMULA in seen
    assert "'@SUM(1+1)" in seen
    assert "'+cmd|' /C calc'!A0" in seen
    assert "'-2+3 for water" in seen
    assert any(c["title"] == FORMULA for c in client.get("/open/causes.json").get_json()["causes"])


def test_the_staff_exports_use_the_same_guard():
    assert exports.safe_cell(FORMULA) == "'" + FORMULA
    assert exports.safe_cell(-5) == -5  # numbers are numbers, negative or not
