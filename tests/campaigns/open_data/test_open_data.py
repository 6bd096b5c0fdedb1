"""Open data: every dataset in JSON and CSV, no donor personal data, the
k-donor floor, a datapackage.json that validates (Frictionless), cheap polling
(ETag, Last-Modified), and 429 with Retry-After."""

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import frictionless
import pytest

from agents.models import MembershipRole
from campaigns.fund_use import services as expenses
from campaigns.giving import ledger
from campaigns.open_data import views as open_data_views
from campaigns.open_data.datasets import DATASETS
from campaigns.organisations.models import CauseStatus
from campaigns.pages import services as page_services
from extensions import limiter
from tests import factories
from tests.conftest import make_migrated_app
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    PageFactory,
    ProjectFactory,
)

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def spend(staffer, project, amount_minor, title, *, publish=True, document=None):
    """An expense of 14 March 2026 with a description and, if given, a document."""
    return factories.spend(
        staffer,
        project,
        amount_minor,
        title,
        publish=publish,
        spent_on=date(2026, 3, 14),
        description=f"About {title}",
        document=document,
    )


@pytest.fixture
def world(db):
    cause = CauseFactory(slug="twestival")
    event = EventPageFactory(cause=cause, city="Lyon")
    crowd, single = PageFactory(cause=cause), PageFactory(cause=cause)
    page_services.join_event(crowd.owner, crowd, event)
    for n in range(3):
        ledger.record_gift(
            page=crowd,
            cause=cause,
            amount_minor=1000,
            donor_name=f"Secret Donor {n}",
            donor_email=f"secret{n}@x.org",
            message="private words",
            # The reçu fiscal's postal address: personal data, never open.
            extra={
                "donor_address_line": f"{n} impasse Cachee",
                "donor_postal_code": "99123",
                "donor_city": "Villecachee",
                "donor_country": "FR",
            },
        )
    ledger.record_gift(
        page=single,
        cause=cause,
        amount_minor=7777,
        donor_name="Lonely Giver",
        donor_email="lonely@x.org",
    )
    # Expenses: recorded by a staff member whose name and email must never show.
    staffer = AgentFactory(name="Staffer Secretname", email="staffer-secret@x.org")
    MembershipFactory(agent=staffer, organisation=cause.organisation, role=MembershipRole.STAFF)
    well = ProjectFactory(cause=cause, slug="well-34", name="Well #34")
    pump = spend(staffer, well, 5000, "Pump", document=expenses.Document(PDF, "pdf"))
    spend(staffer, well, 1234, "Draft plan", publish=False)
    hidden_cause = CauseFactory(organisation=cause.organisation, status=CauseStatus.DRAFT)
    spend(staffer, ProjectFactory(cause=hidden_cause), 999, "Not public yet")
    db.session.commit()
    return {
        "cause": cause,
        "event": event,
        "crowd": crowd,
        "single": single,
        "well": well,
        "pump": pump,
        "staffer": staffer,
    }


def test_every_dataset_in_json_and_csv_without_personal_data(client, world):
    for name in DATASETS:
        for fmt in ("json", "csv"):
            response = client.get(f"/open/{name}.{fmt}")
            assert response.status_code == 200, (name, fmt)
            text = response.text
            for secret in (
                "Secret Donor",
                "secret0@x.org",
                "private words",
                "Lonely",
                "lonely@",
                "Staffer Secretname",
                "staffer-secret@",
                "impasse Cachee",
                "99123",
                "Villecachee",
            ):
                assert secret not in text, (name, fmt, secret)


def test_a_page_below_k_donors_shows_no_amount(client, world):
    rows = {r["slug"]: r for r in client.get("/open/pages.json").get_json()["pages"]}
    assert rows[world["crowd"].slug]["raised_minor"] == 3000
    assert rows[world["single"].slug]["raised_minor"] is None  # one donor: hidden
    assert rows[world["single"].slug]["donor_count"] == 1
    assert rows[world["crowd"].slug]["parent"] == world["event"].slug
    causes = client.get("/open/causes.json").get_json()["causes"]
    assert causes[0]["raised_minor"] == 3000 + 7777  # causes always show totals
    assert "7777" not in client.get("/open/leaderboards.csv").text


def test_datapackage_describes_the_csv_files(client, world):
    package = client.get("/open/datapackage.json").get_json()
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    assert {r["name"] for r in package["resources"]} == set(DATASETS)
    for resource in package["resources"]:
        assert resource["format"] == "csv" and resource["path"].endswith(".csv")
        path = "/open/" + resource["path"].rsplit("/", 1)[1]
        header = next(csv.reader(io.StringIO(client.get(path).text)))
        assert header == [f["name"] for f in resource["schema"]["fields"]]
        assert all(
            f["type"] in {"string", "integer", "date", "datetime"}
            for f in resource["schema"]["fields"]
        )


def test_pollers_get_304_with_the_etag(client, world):
    first = client.get("/open/causes.json")
    again = client.get("/open/causes.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/open/nothing.json").status_code == 404
    assert client.get("/open/causes.xml").status_code == 404


# --- fund use ---------------------------------------------------------------------


def test_expenses_are_published_ones_of_public_causes_without_their_author(client, world):
    rows = client.get("/open/expenses.json").get_json()["expenses"]
    assert [r["title"] for r in rows] == ["Pump"]  # no draft, no draft cause
    pump = rows[0]
    assert set(pump) == {
        "id",
        "cause",
        "project",
        "title",
        "description",
        "amount_minor",
        "currency",
        "spent_at",
        "document_url",
    }
    assert (pump["cause"], pump["project"], pump["amount_minor"]) == ("twestival", "well-34", 5000)
    assert (pump["currency"], pump["spent_at"]) == ("EUR", "2026-03-14")
    assert pump["description"] == "About Pump"
    document = client.get(pump["document_url"].removeprefix("http://localhost"))
    assert document.status_code == 200 and document.data == PDF
    staffer = world["staffer"]
    for value in pump.values():
        assert str(value) not in (str(staffer.id), staffer.email, staffer.name)
    row = next(csv.DictReader(io.StringIO(client.get("/open/expenses.csv").text)))
    assert row["title"] == "Pump" and row["amount_minor"] == "5000"
    projects = {p["slug"]: p for p in client.get("/open/projects.json").get_json()["projects"]}
    assert projects["well-34"]["spent_minor"] == 5000  # published only


def test_the_k_floor_holds_for_each_pages_share_of_fund_use(client, world):
    rows = {r["page"]: r for r in client.get("/open/fund_use.json").get_json()["fund_use"]}
    # One project spent 5,000; the cause's 10,777 are all undesignated. Three
    # donors gave 3,000 on the crowd page (a member of the event): 3,000 of
    # 10,777, so 5,000 × 3,000 / 10,777 = 1,391.85 of the spending.
    crowd, event = rows[world["crowd"].slug], rows[world["event"].slug]
    assert (crowd["contribution_minor"], crowd["funded_minor"], crowd["donor_count"]) == (
        3000,
        1392,
        3,
    )
    assert (event["contribution_minor"], event["funded_minor"]) == (3000, 1392)
    # One donor: neither the share nor what it funded can be read.
    single = rows[world["single"].slug]
    assert (single["contribution_minor"], single["funded_minor"]) == (None, None)
    assert single["donor_count"] == 1
    csv_rows = {
        r["page"]: r for r in csv.DictReader(io.StringIO(client.get("/open/fund_use.csv").text))
    }
    assert csv_rows[world["single"].slug]["funded_minor"] == ""
    assert "7777" not in client.get("/open/fund_use.csv").text


def test_daily_series_per_page_keep_the_k_floor_per_day(client, world):
    rows = client.get("/open/daily_pages.json").get_json()["daily_pages"]
    by_page = {r["page"]: r for r in rows}
    crowd, event, single = world["crowd"].slug, world["event"].slug, world["single"].slug
    assert by_page[crowd]["raised_minor"] == 3000  # three donors that day
    assert by_page[crowd]["donation_count"] == 3
    assert by_page[event]["raised_minor"] == 3000  # an event counts its members' gifts
    assert by_page[single]["raised_minor"] is None  # one donor that day: hidden
    assert by_page[single]["donation_count"] == 1
    assert "7777" not in client.get("/open/daily_pages.csv").text


def test_a_hidden_day_cannot_be_read_by_subtraction(db, client, world):
    """Three donors today and one, two days ago: showing today's 3,000 next to
    the page's published total would give the lone gift away."""
    crowd, cause = world["crowd"], world["cause"]
    ledger.record_gift(
        page=crowd,
        cause=cause,
        amount_minor=4321,
        donor_name="Early Bird",
        donor_email="early@x.org",
        created_at=datetime.now(UTC) - timedelta(days=2),
    )
    db.session.commit()
    rows = client.get("/open/daily_pages.json").get_json()["daily_pages"]
    mine = [r for r in rows if r["page"] == crowd.slug]
    assert sorted(r["donation_count"] for r in mine) == [1, 3]
    assert all(r["raised_minor"] is None for r in mine)  # all or nothing for the page
    event = [r for r in rows if r["page"] == world["event"].slug]
    assert event and all(r["raised_minor"] is None for r in event)  # event minus members
    assert "4321" not in client.get("/open/daily_pages.csv").text


# --- the data package validates -----------------------------------------------------


def local_package(client, folder) -> dict:
    """The published package with each file downloaded next to it."""
    package = client.get("/open/datapackage.json").get_json()
    for resource in package["resources"]:
        name = resource["path"].rsplit("/", 1)[1]
        (folder / name).write_text(client.get(f"/open/{name}").text, encoding="utf-8")
        resource["path"] = name
    (folder / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    return package


def test_datapackage_validates_against_the_frictionless_schemas(client, world, tmp_path):
    published = client.get("/open/datapackage.json").get_json()
    assert [e.message for e in frictionless.Package.metadata_validate(published)] == []
    package = local_package(client, tmp_path)
    assert {r["name"] for r in package["resources"]} == set(DATASETS)
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "type", "note"])
    assert report.stats["tasks"] == len(DATASETS)


def test_the_validation_catches_a_wrong_file(client, world, tmp_path):
    local_package(client, tmp_path)
    broken = (tmp_path / "expenses.csv").read_text().replace(",5000,", ",five thousand,")
    (tmp_path / "expenses.csv").write_text(broken)
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert not report.valid
    failed = {task.name: [e.type for e in task.errors] for task in report.tasks if not task.valid}
    assert failed == {"expenses": ["type-error"]}


# --- Last-Modified --------------------------------------------------------------------


@pytest.fixture
def clock(app, monkeypatch):
    """A controlled clock for the Last-Modified dates, and no versions seen yet."""
    now = [datetime(2031, 5, 1, 12, 0, 0, 400000, tzinfo=UTC)]
    monkeypatch.setattr(open_data_views, "_now", lambda: now[0])
    app.extensions.pop("open_data_versions", None)
    yield now
    app.extensions.pop("open_data_versions", None)


def test_every_data_response_has_last_modified_and_an_etag(client, world, clock):
    paths = ["/open/datapackage.json"] + [
        f"/open/{n}.{f}" for n in DATASETS for f in ("json", "csv")
    ]
    for path in paths:
        response = client.get(path)
        assert response.headers["Last-Modified"] == "Thu, 01 May 2031 12:00:00 GMT", path
        assert response.headers["ETag"], path
        again = client.get(path, headers={"If-Modified-Since": response.headers["Last-Modified"]})
        assert again.status_code == 304 and again.data == b"", path


def test_if_modified_since_sees_every_change(db, client, world, clock):
    def get(since=None):
        headers = {"If-Modified-Since": since} if since else {}
        return client.get("/open/causes.json", headers=headers)

    first = get()
    clock[0] += timedelta(seconds=30)
    assert get(first.headers["Last-Modified"]).status_code == 304
    ledger.record_gift(page=world["crowd"], cause=world["cause"], amount_minor=500)
    db.session.commit()
    gift = get(first.headers["Last-Modified"])
    assert (
        gift.status_code == 200 and gift.headers["Last-Modified"] == "Thu, 01 May 2031 12:00:30 GMT"
    )
    # Renaming a cause leaves no timestamp in the database: still a change.
    clock[0] += timedelta(seconds=5)
    world["cause"].title = "Renamed"
    db.session.commit()
    renamed = get(gift.headers["Last-Modified"])
    assert renamed.status_code == 200 and "Renamed" in renamed.text
    assert renamed.headers["Last-Modified"] == "Thu, 01 May 2031 12:00:35 GMT"
    # A second change within the same second cannot get a later date yet: no
    # Last-Modified (the ETag still works) until the clock passes it.
    world["cause"].title = "Renamed again"
    db.session.commit()
    again = get(renamed.headers["Last-Modified"])
    assert again.status_code == 200 and "Last-Modified" not in again.headers
    assert again.headers["ETag"] != renamed.headers["ETag"]
    clock[0] += timedelta(seconds=1)
    later = get()
    assert later.headers["Last-Modified"] == "Thu, 01 May 2031 12:00:36 GMT"
    assert get(later.headers["Last-Modified"]).status_code == 304
    # An expense published is a change of the expenses file.
    expenses_first = client.get("/open/expenses.json")
    spend(world["staffer"], world["well"], 700, "Rope")
    db.session.commit()
    clock[0] += timedelta(seconds=3)
    changed = client.get(
        "/open/expenses.json",
        headers={"If-Modified-Since": expenses_first.headers["Last-Modified"]},
    )
    assert changed.status_code == 200 and "Rope" in changed.text


# --- rate limit ---------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path):
    """An app of its own with a tiny open-data limit; the shared limiter restored after."""
    enabled = limiter.enabled
    app = make_migrated_app(
        "sqlite",
        tmp_path,
        f"open-{uuid.uuid4().hex[:8]}",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        OPEN_DATA_RATE_LIMIT="2 per minute",
    )
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    yield client
    limiter.enabled = enabled


def test_too_many_requests_get_429_with_retry_after_in_their_format(limited, app):
    for _ in range(2):
        assert limited.get("/open/causes.json").status_code == 200
    as_json = limited.get("/open/causes.json")
    assert as_json.status_code == 429 and as_json.mimetype == "application/json"
    # Seconds until the one-minute window ends (61 when it has just begun).
    retry = int(as_json.headers["Retry-After"])
    assert 0 < retry <= 61
    body = as_json.get_json()
    assert body["status"] == 429 and 0 < body["retry_after"] <= 61
    assert "Too many requests" in body["error"]

    as_csv = limited.get("/open/pages.csv")
    assert as_csv.status_code == 429 and as_csv.mimetype == "text/csv"
    assert int(as_csv.headers["Retry-After"]) > 0
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["error", "status", "retry_after"] and rows[1][1] == "429"

    # Each view has its own count: the listing page is limited the same way.
    for _ in range(2):
        assert limited.get("/open/").status_code == 200
    listing = limited.get("/open/")
    assert listing.status_code == 429 and "Too many requests" in listing.text
    assert "Retry-After" in listing.headers
    # The shared test app (RATELIMIT_ENABLED=False) is not limited by the other app.
    shared = app.test_client()
    for _ in range(4):
        assert shared.get("/open/").status_code == 200


def test_an_event_total_cannot_give_a_small_members_gifts_away(db, client, world):
    """Event minus its members' published totals must not leave one donor's gift."""
    cause, event = world["cause"], world["event"]
    lone = PageFactory(cause=cause)
    page_services.join_event(lone.owner, lone, event)
    ledger.record_gift(
        page=lone, cause=cause, amount_minor=5555, donor_name="Lone", donor_email="lone@x.org"
    )
    db.session.commit()
    pages = {r["slug"]: r for r in client.get("/open/pages.json").get_json()["pages"]}
    assert pages[world["crowd"].slug]["raised_minor"] == 3000  # three donors: shown
    assert pages[event.slug]["raised_minor"] is None  # 8,555 - 3,000 would be the lone gift
    assert pages[event.slug]["donor_count"] == 4
    boards = client.get("/open/leaderboards.json").get_json()["leaderboards"]
    assert [r["raised_minor"] for r in boards if r["page"] == event.slug] == [None]
    for name in ("pages", "leaderboards", "fund_use", "daily_pages"):
        assert "8555" not in client.get(f"/open/{name}.csv").text, name


def test_the_daily_series_carries_fees_and_covers_equal_to_the_ledger(db, client):
    """Per cause and UTC day: covers kept apart (or counted as raised when the
    organisation says so), fees, refunds of a covered gift; each column the
    sum of the ledger's rows and, over the days, the cause's stored totals."""
    from campaigns.giving import covers
    from campaigns.giving.models import DonationKind
    from campaigns.totals import services as totals
    from campaigns.totals.models import TotalScope

    apart = CauseFactory(slug="covers-apart")
    counted = CauseFactory(
        slug="covers-counted", organisation=factories.OrganisationFactory(counts_covers=True)
    )
    yesterday = datetime.now(UTC).replace(hour=12) - timedelta(days=1)
    plan = {  # cause: [(day, gift, cover, fee, refunded)]
        apart: [(yesterday, 2500, 64, 63, 0), (None, 1000, 41, 40, 1041), (None, 700, 0, 36, 0)],
        counted: [(None, 4000, 85, 85, 0)],
    }
    for cause, gifts in plan.items():
        for n, (day, amount, cover, fee, refunded) in enumerate(gifts):
            gift = ledger.record_gift(
                page=None,
                cause=cause,
                amount_minor=amount,
                donor_email=f"d{n}@{cause.slug}.org",
                created_at=day,
                is_for_cause=True,
            )
            covers.record_cover(gift, cover)
            # The fee on the gift's day, as Stripe's balance transaction dates it.
            ledger.record_further_row(gift, DonationKind.FEE, -fee, created_at=gift.created_at)
            if refunded:
                gift_part, cover_part = covers.split_back(gift, refunded)
                refund = ledger.record_further_row(gift, DonationKind.REFUND, -gift_part)
                covers.add_part(gift, refund, -cover_part)
    db.session.commit()
    rows = client.get("/open/daily.json").get_json()["daily"]
    by_day = {(r["cause"], r["date"]): r for r in rows}
    today, before = str(datetime.now(UTC).date()), str(yesterday.date())
    a_today, a_before = by_day[(apart.slug, today)], by_day[(apart.slug, before)]
    # Yesterday: one gift and its cover; today: a covered gift refunded in full.
    assert (a_before["raised_minor"], a_before["covers_minor"], a_before["fees_minor"]) == (
        2500,
        64,
        63,
    )
    assert (a_today["raised_minor"], a_today["covers_minor"], a_today["fees_minor"]) == (
        700,
        0,
        40 + 36,
    )
    c_today = by_day[(counted.slug, today)]
    # Covers an organisation counts are in raised_minor, not again in covers_minor.
    assert (c_today["raised_minor"], c_today["covers_minor"]) == (4000 + 85, 0)
    for cause in plan:
        stored = totals.figures_one(TotalScope.CAUSE, cause.id)
        mine = [r for r in rows if r["cause"] == cause.slug]
        assert sum(r["raised_minor"] for r in mine) == stored.raised_minor
        assert sum(r["covers_minor"] for r in mine) == stored.covers_minor
        assert sum(r["fees_minor"] for r in mine) == stored.fees_minor
    assert totals.drift() == []
    table = list(csv.DictReader(io.StringIO(client.get("/open/daily.csv").get_data(as_text=True))))
    (line,) = [r for r in table if (r["cause"], r["date"]) == (apart.slug, before)]
    assert (line["covers_minor"], line["fees_minor"]) == ("64", "63")
    package = client.get("/open/datapackage.json").get_json()
    (daily_schema,) = [r for r in package["resources"] if r["name"] == "daily"]
    fields = {f["name"]: f for f in daily_schema["schema"]["fields"]}
    assert fields["covers_minor"]["type"] == "integer" and fields["covers_minor"]["description"]
