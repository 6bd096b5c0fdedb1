"""Finding a page or an event: by a word of the title, the city or the owner's
name, accents and case ignored, never a draft or hidden page."""

from __future__ import annotations

import pytest

from campaigns.organisations.models import CauseStatus
from campaigns.pages.models import PageStatus
from tests.factories import AgentFactory, CauseFactory, EventPageFactory, PageFactory


@pytest.fixture
def pages(db, cause):
    owner = AgentFactory(name="Zoé Lefèvre")
    found = {
        "lyon": EventPageFactory(
            cause=cause, slug="lyon-night", title="La nuit de Lyon", city="Lyon"
        ),
        "eau": PageFactory(
            cause=cause, slug="eau-vive-run", title="Eau Vive en courant", owner=owner
        ),
        "orleans": EventPageFactory(
            cause=cause, slug="orleans", title="Soirée", city="Orléans", venue="Le Bateau"
        ),
        "draft": PageFactory(
            cause=cause, slug="draft-lyon", title="Lyon draft", status=PageStatus.DRAFT
        ),
        "hidden": PageFactory(
            cause=cause, slug="hidden-lyon", title="Lyon hidden", status=PageStatus.HIDDEN
        ),
    }
    other = CauseFactory(organisation=cause.organisation, slug="secret", status=CauseStatus.DRAFT)
    found["draft-cause"] = PageFactory(
        cause=other, slug="secret-lyon", title="Lyon in a draft cause"
    )
    db.session.commit()
    return found


def slugs(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [p["slug"] for p in response.get_json()["pages"]]


def test_search_by_title_city_and_owner_ignoring_accents_and_case(client, pages):
    assert slugs(client, "/api/v1/pages?q=lyon") == ["lyon-night"]
    assert slugs(client, "/api/v1/pages?q=eau%20vive") == ["eau-vive-run"]
    assert slugs(client, "/api/v1/pages?q=ORLEANS") == ["orleans"]
    assert slugs(client, "/api/v1/pages?q=zoe%20lefevre") == ["eau-vive-run"]
    assert slugs(client, "/api/v1/pages?q=bateau") == ["orleans"]
    assert slugs(client, "/api/v1/pages?q=nothing-like-this") == []


def test_drafts_hidden_pages_and_draft_causes_never_appear(client, pages):
    for url in ("/api/v1/pages?q=lyon", "/search?q=lyon"):
        body = client.get(url).get_data(as_text=True)
        for slug in ("draft-lyon", "hidden-lyon", "secret-lyon"):
            assert slug not in body, (url, slug)


def test_city_and_cause_filters(client, pages, cause):
    assert slugs(client, "/api/v1/pages?city=orleans") == ["orleans"]
    # The city filter is the city, not a word of a title.
    assert slugs(client, "/api/v1/pages?city=nuit") == []
    assert sorted(slugs(client, f"/api/v1/pages?cause={cause.slug}")) == [
        "eau-vive-run",
        "lyon-night",
        "orleans",
    ]
    assert slugs(client, "/api/v1/pages?cause=secret") == []


def test_api_shape_and_paging_are_the_cause_lists(client, pages):
    body = client.get("/api/v1/pages?cause=twestival&per_page=2").get_json()
    assert {"pages", "page", "per_page", "total", "total_pages", "next", "previous"} <= set(body)
    assert body["total"] == 3 and body["total_pages"] == 2 and len(body["pages"]) == 2
    assert body["previous"] is None and "page=2" in body["next"]
    second = client.get(body["next"].replace("http://localhost", "")).get_json()
    assert len(second["pages"]) == 1 and second["next"] is None
    page = body["pages"][0]
    assert {"slug", "kind", "title", "city", "raised", "goal", "url"} <= set(page)


def test_api_refuses_an_empty_search_and_bad_paging(client, pages):
    response = client.get("/api/v1/pages")
    assert response.status_code == 400 and "q" in response.get_json()["errors"]
    assert client.get("/api/v1/pages?q=lyon&per_page=0").status_code == 400
    assert client.get("/api/v1/pages?q=lyon&page=abc").status_code == 400


def test_a_renamed_or_erased_owner_is_found_by_the_new_name_only(client, db, pages):
    owner = pages["eau"].owner
    owner.name = "Camille Martin"
    db.session.commit()
    assert slugs(client, "/api/v1/pages?q=camille") == ["eau-vive-run"]
    assert slugs(client, "/api/v1/pages?q=zoe") == []


def test_search_page_lists_results_with_a_count(client, pages):
    body = client.get("/search?q=Lyon").get_data(as_text=True)
    assert "La nuit de Lyon" in body and "1 page found" in body
    assert "Nothing matches" in client.get("/search?q=zzzz").get_data(as_text=True)
    # Odd input is a search like any other, never a 500.
    for odd in ("%25", "_", "%5C", "a" * 5000, "\u00e9\u0301", "lyon&page=99999999999"):
        assert client.get(f"/search?q={odd}&page=x").status_code == 200, odd
    assert client.get("/search?q=%00").status_code == 400  # refused for every form


def test_like_wildcards_in_the_query_are_literal(client, pages):
    # "%" holds no word: nothing to search for, said so.
    assert client.get("/api/v1/pages?q=%25").status_code == 400
    assert slugs(client, "/api/v1/pages?q=_") == []
