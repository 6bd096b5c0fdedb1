"""The yearly reçu fiscal on the web: the staff list of a year's donors and
its CSV (staff of that organisation only), and the donor's printable
statement, reached through their signed "my gifts" link only."""

from __future__ import annotations

import csv
import io

import pytest

from campaigns.donors import services as donors
from campaigns.giving import covers, ledger, yearly
from campaigns.giving.models import DonationKind
from campaigns.model_types import utcnow
from campaigns.money import format_money
from campaigns.totals import services as totals
from tests.factories import CauseFactory, MembershipFactory, OrganisationFactory, PageFactory

ADA, BOB = "ada@example.org", "bob@example.org"
# (email, name, gift, cover, refunded) to the first organisation.
GIFTS = [
    (ADA, "Ada Lovelace", 2500, 64, 0),
    (ADA, "Ada Lovelace", 1000, 41, 400),
    (BOB, "=HYPERLINK(1)", 700, 0, 0),  # a name a spreadsheet would run
]


@pytest.fixture
def world(db):
    org = OrganisationFactory(
        locale="en", legal_name="Association Eau Vive", address="12 rue de la Source"
    )
    other = OrganisationFactory(locale="en", name="Other Org")
    page = PageFactory(cause=CauseFactory(organisation=org))
    elsewhere = CauseFactory(organisation=other)
    for email, name, amount, cover, refunded in GIFTS:
        gift = ledger.record_gift(
            page=page,
            cause=page.cause,
            amount_minor=amount,
            donor_name=name,
            donor_email=email,
            extra={"donor_address_line": "3 quai Rambaud", "donor_postal_code": "69002"}
            if email == ADA
            else {},
        )
        covers.record_cover(gift, cover)
        if refunded:
            ledger.record_further_row(gift, DonationKind.REFUND, -refunded)
    # Ada gives to another organisation too: a statement of its own.
    ledger.record_gift(
        page=None, cause=elsewhere, amount_minor=9900, donor_email=ADA, is_for_cause=True
    )
    staff = MembershipFactory(organisation=org).agent
    outsider = MembershipFactory(organisation=other).agent
    db.session.commit()
    return {"org": org, "other": other, "staff": staff, "outsider": outsider}


def euros(amount_minor: int) -> str:
    return format_money(amount_minor, "EUR", "en")


def expected(email: str) -> int:
    return sum(g + c - r for e, _n, g, c, r in GIFTS if e == email)


def test_staff_see_each_donors_year_and_download_it(db, client, login_as, world):
    org, year = world["org"], utcnow().year
    login_as(world["staff"])
    response = client.get(f"/staff/{org.slug}/receipts/yearly")  # the newest year with gifts
    assert response.status_code == 200
    assert response.text.count("data-donor=") == 2
    assert "Other Org" not in response.text and "€99" not in response.text
    total = expected(ADA) + expected(BOB)
    assert f"2 donors, {euros(total)} deductible in all." in response.text
    assert f"/staff/{org.slug}/receipts/yearly?year={year}&amp;format=csv" in response.text
    assert 'aria-current="page">Yearly tax receipts' in response.text
    download = client.get(f"/staff/{org.slug}/receipts/yearly?year={year}&format=csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    by_email = {row["email"]: row for row in table}
    assert set(by_email) == {ADA, BOB}
    assert int(by_email[ADA]["deductible_minor"]) == expected(ADA)
    assert int(by_email[ADA]["covers_minor"]) == 64 + 41
    assert int(by_email[ADA]["refunded_minor"]) == 400
    assert by_email[BOB]["name"] == "'=HYPERLINK(1)"  # never run as a formula
    # The same figures as the command's (one statement, two readers).
    for row in yearly.statement(org.id, year):
        assert int(by_email[row.email]["deductible_minor"]) == row.deductible_minor
    empty = client.get(f"/staff/{org.slug}/receipts/yearly?year={year - 1}")
    assert empty.status_code == 200 and "data-donor=" not in empty.text
    assert totals.drift() == []


def test_a_year_that_is_no_year_is_a_sentence(db, client, login_as, world):
    login_as(world["staff"])
    for bad in ("abc", "12", "-2026", "99999"):
        response = client.get(f"/staff/{world['org'].slug}/receipts/yearly?year={bad}")
        assert response.status_code == 422, bad
        assert "four digits" in response.text


def test_only_the_organisations_staff_see_its_donors(db, client, login_as, world):
    path = f"/staff/{world['org'].slug}/receipts/yearly"
    anonymous = client.get(path)
    assert anonymous.status_code in (302, 401) and ADA not in anonymous.text
    assert client.get(path + "?format=csv").status_code in (302, 401)
    login_as(world["outsider"])
    assert client.get(path).status_code == 403
    refused = client.get(path + "?format=csv")
    assert refused.status_code == 403 and ADA not in refused.text


def test_the_donor_prints_their_statement_from_their_signed_link(db, client, world):
    org, other, year = world["org"], world["other"], utcnow().year
    token = donors.access_token(ADA)
    mine = client.get(f"/my-gifts/{token}")
    link = f"/my-gifts/{token}/yearly/{org.slug}/{year}"
    assert link in mine.text
    assert f"/my-gifts/{token}/yearly/{other.slug}/{year}" in mine.text
    response = client.get(link)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert f'data-figure="deductible">{euros(expected(ADA))}' in response.text
    assert f'data-figure="cover">{euros(64 + 41)}' in response.text
    assert "Association Eau Vive" in response.text and "3 quai Rambaud" in response.text
    assert "articles 200, 238 bis and 978" in response.text
    assert BOB not in response.text and "HYPERLINK" not in response.text
    assert "<script>" not in response.text
    theirs = client.get(f"/my-gifts/{token}/yearly/{other.slug}/{year}")
    assert f'data-figure="deductible">{euros(9900)}' in theirs.text


def test_a_link_shows_only_its_own_donors_statement(db, client, world, monkeypatch):
    org, other, year = world["org"], world["other"], utcnow().year
    bob = donors.access_token(BOB)
    response = client.get(f"/my-gifts/{bob}/yearly/{org.slug}/{year}")
    assert response.status_code == 200
    assert ADA not in response.text and "Ada Lovelace" not in response.text
    assert f'data-figure="deductible">{euros(expected(BOB))}' in response.text
    # Bob gave nothing to the other organisation, nor in another year.
    assert client.get(f"/my-gifts/{bob}/yearly/{other.slug}/{year}").status_code == 404
    assert client.get(f"/my-gifts/{bob}/yearly/{org.slug}/{year - 1}").status_code == 404
    assert client.get(f"/my-gifts/{bob}/yearly/no-such-org/{year}").status_code == 404
    ada = donors.access_token(ADA)
    tampered = ada[:-2] + ("AA" if not ada.endswith("AA") else "BB")
    forged = client.get(f"/my-gifts/{tampered}/yearly/{org.slug}/{year}")
    assert forged.status_code == 404 and "Ada" not in forged.text
    assert "Ask for a new one" in forged.text
    monkeypatch.setattr(donors, "LINK_HOURS", -1)  # every link has expired
    expired = client.get(f"/my-gifts/{ada}/yearly/{org.slug}/{year}")
    assert expired.status_code == 404 and "Ada" not in expired.text
