"""Embeds: framable by any site (and nothing else is), in the asked language,
never for a draft; CORS on public reads of the API and the stream only."""

from __future__ import annotations

import pytest

from campaigns.organisations.models import CauseStatus
from campaigns.pages.models import PageStatus
from tests.factories import CauseFactory, MembershipFactory, PageFactory

EMBEDS = ("/embed/c/twestival/goal", "/embed/c/twestival/leaderboard", "/embed/p/lyon-runs")


@pytest.fixture
def published(db, page):
    db.session.commit()
    return page


def test_every_embed_is_framable_by_any_site(client, published):
    for url in EMBEDS:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "frame-ancestors *" in response.headers["Content-Security-Policy"], url
        assert "X-Frame-Options" not in response.headers, url
        body = response.get_data(as_text=True)
        assert 'target="_blank"' in body and "data-live-stream" in body, url
    # Nothing else is: the page itself still refuses to be framed.
    page = client.get("/p/lyon-runs")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_embeds_show_the_figures_in_the_asked_language(client, published):
    english = client.get("/embed/c/twestival/goal?lang=en").get_data(as_text=True)
    french = client.get("/embed/c/twestival/goal?lang=fr").get_data(as_text=True)
    assert 'lang="en"' in english and "raised" in english
    assert 'lang="fr"' in french and "collecté" in french
    # An unknown language is ignored, not an error.
    assert client.get("/embed/c/twestival/goal?lang=xx").status_code == 200


def test_no_embed_for_a_draft_cause_or_a_hidden_page(client, db, cause):
    draft = CauseFactory(organisation=cause.organisation, slug="draft", status=CauseStatus.DRAFT)
    PageFactory(cause=cause, slug="hidden", status=PageStatus.HIDDEN)
    PageFactory(cause=draft, slug="in-draft")
    db.session.commit()
    for url in ("/embed/c/draft/goal", "/embed/c/draft/leaderboard", "/embed/p/hidden"):
        assert client.get(url).status_code == 404, url
    assert client.get("/embed/c/nothing/goal").status_code == 404


def test_public_reads_of_the_api_and_the_stream_allow_any_origin(client, published):
    origin = {"Origin": "https://blog.example"}
    for url in ("/api/v1/causes", "/api/v1/causes/twestival", "/api/v1/pages/lyon-runs"):
        response = client.get(url, headers=origin)
        assert response.headers["Access-Control-Allow-Origin"] == "*", url
        assert "Access-Control-Allow-Credentials" not in response.headers
    preflight = client.options(
        "/api/v1/causes/twestival/stream",
        headers={**origin, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Last-Event-ID" in preflight.headers["Access-Control-Allow-Headers"]
    assert "POST" not in preflight.headers["Access-Control-Allow-Methods"]
    # Writes are not opened to other sites' scripts.
    write = client.post("/api/v1/pages", json={}, headers=origin)
    assert "Access-Control-Allow-Origin" not in write.headers
    # Nor are the HTML pages.
    assert "Access-Control-Allow-Origin" not in client.get("/", headers=origin).headers


def test_the_share_kit_and_the_staff_cause_page_give_the_embed_code(client, db, as_agent, page):
    as_agent(page.owner)
    kit = client.get(f"/p/{page.slug}/share").get_data(as_text=True)
    assert "http://localhost/embed/p/lyon-runs" in kit and "&lt;iframe" in kit
    staffer = MembershipFactory(organisation=page.cause.organisation).agent
    as_agent(staffer)
    org = page.cause.organisation.slug
    form = client.get(f"/staff/{org}/causes/{page.cause.slug}").get_data(as_text=True)
    assert "http://localhost/embed/c/twestival/goal" in form
    assert "http://localhost/embed/c/twestival/leaderboard" in form
