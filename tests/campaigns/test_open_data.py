"""Open data: every dataset in JSON and CSV, no donor personal data, the
k-donor floor, a datapackage.json that describes the files, cheap polling."""

import csv
import io

import pytest

from campaigns import services
from campaigns.open_data import DATASETS
from tests.factories import CauseFactory, EventPageFactory, PageFactory


@pytest.fixture
def world(db):
    cause = CauseFactory()
    event = EventPageFactory(cause=cause, city="Lyon")
    crowd, single = PageFactory(cause=cause), PageFactory(cause=cause)
    services.join_event(crowd.owner, crowd, event)
    for n in range(3):
        services.record_gift(
            page=crowd,
            cause=cause,
            amount_minor=1000,
            donor_name=f"Secret Donor {n}",
            donor_email=f"secret{n}@x.org",
            message="private words",
        )
    services.record_gift(
        page=single,
        cause=cause,
        amount_minor=7777,
        donor_name="Lonely Giver",
        donor_email="lonely@x.org",
    )
    db.session.commit()
    return {"cause": cause, "event": event, "crowd": crowd, "single": single}


def test_every_dataset_in_json_and_csv_without_personal_data(client, world):
    for name in DATASETS:
        for fmt in ("json", "csv"):
            response = client.get(f"/open/{name}.{fmt}")
            assert response.status_code == 200, (name, fmt)
            text = response.text
            for secret in ("Secret Donor", "secret0@x.org", "private words", "Lonely", "lonely@"):
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
        assert all(f["type"] in {"string", "integer", "date"} for f in resource["schema"]["fields"])


def test_pollers_get_304_with_the_etag(client, world):
    first = client.get("/open/causes.json")
    again = client.get("/open/causes.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/open/nothing.json").status_code == 404
    assert client.get("/open/causes.xml").status_code == 404
