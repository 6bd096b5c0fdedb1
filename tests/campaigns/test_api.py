"""The JSON API: the read contract, pagination, tokens and every refusal.

Fixture data is committed before each request (a savepoint in the test's
outer transaction), so a refused request's rollback cannot hide it and the
tests can check that a refusal wrote nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from agents.services import create_token, revoke_token
from campaigns.giving.ledger import record_gift
from campaigns.organisations.models import CauseStatus
from campaigns.pages.models import Page, PageHost, PageKind, PageStatus
from tests.conftest import count_queries
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)

CAUSE_KEYS = {"slug", "title", "organisation", "goal", "raised", "donation_count", "page_count"}
PAGE_KEYS = {"slug", "kind", "title", "parent", "city", "raised", "donation_count", "status"}


def eur(amount_minor: int) -> dict:
    return {"amount_minor": amount_minor, "currency": "EUR"}


def bearer(clear: str) -> dict:
    return {"Authorization": f"Bearer {clear}"}


@pytest.fixture
def agent(db):
    return AgentFactory()


@pytest.fixture
def token(db, agent):
    _, clear = create_token(agent)
    db.session.commit()
    return clear


@pytest.fixture
def other_token(db):
    _, clear = create_token(AgentFactory())
    db.session.commit()
    return clear


@pytest.fixture
def cause(db):
    return CauseFactory(organisation=OrganisationFactory(slug="eau-vive"), slug="twestival")


def page_count(db) -> int:
    return db.session.scalar(select(func.count(Page.id)))


def snapshot(page: Page) -> tuple:
    return (page.title, page.slug, page.goal_minor, page.status, page.parent_id, page.starts_at)


# --- reads ---------------------------------------------------------------------


def test_causes_list_the_public_causes_with_totals_and_page_counts(client, db, cause):
    closed = CauseFactory(organisation=cause.organisation, status=CauseStatus.CLOSED)
    CauseFactory(organisation=cause.organisation, status=CauseStatus.DRAFT)
    event_page = EventPageFactory(cause=cause)
    member = PageFactory(cause=cause, parent=event_page)
    PageFactory(cause=cause, status=PageStatus.DRAFT)
    PageFactory(cause=cause, status=PageStatus.HIDDEN)
    PageFactory(cause=cause, status=PageStatus.CLOSED)
    record_gift(page=member, cause=cause, amount_minor=2500, donor_email="a@example.org")
    record_gift(page=event_page, cause=cause, amount_minor=1000, donor_email="a@example.org")
    record_gift(page=None, cause=cause, amount_minor=500, donor_email="b@example.org")
    db.session.commit()

    response = client.get("/api/v1/causes")

    assert response.status_code == 200
    causes = response.get_json()["causes"]
    assert [c["slug"] for c in causes] == ["twestival", closed.slug]
    first = causes[0]
    assert set(first) >= CAUSE_KEYS
    assert first["title"] == cause.title
    assert first["organisation"] == "eau-vive"
    assert first["goal"] == eur(10_000_00)
    assert first["raised"] == eur(4000)
    assert first["donation_count"] == 3
    assert first["donor_count"] == 2
    assert first["page_count"] == 3  # the event, its member and the closed page
    assert first["event_count"] == 1
    assert first["status"] == "published"
    assert causes[1]["status"] == "closed"
    assert causes[1]["raised"] == eur(0)


def test_cause_list_queries_do_not_grow_with_the_causes(client, db):
    def queries_for_listing():
        with count_queries(db, "SELECT") as statements:
            assert client.get("/api/v1/causes").status_code == 200
        return len(statements)

    for _ in range(2):
        PageFactory(cause=CauseFactory())
    db.session.commit()
    few = queries_for_listing()
    for _ in range(6):
        PageFactory(cause=CauseFactory(organisation=OrganisationFactory()))
    db.session.commit()
    assert queries_for_listing() == few


def test_one_cause_and_404s(client, db, cause):
    draft = CauseFactory(status=CauseStatus.DRAFT)
    db.session.commit()

    body = client.get("/api/v1/causes/twestival").get_json()
    assert set(body) >= CAUSE_KEYS
    assert body["slug"] == "twestival"
    assert body["page_count"] == 0

    for url in (
        f"/api/v1/causes/{draft.slug}",
        "/api/v1/causes/nope",
        f"/api/v1/causes/{draft.slug}/pages",
        "/api/v1/pages/nope",
        "/api/v1/organisations/nope",
        "/api/v1/nothing-here",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.is_json and response.get_json()["error"], url


def test_wrong_method_is_a_json_405(client, db, cause):
    response = client.delete("/api/v1/causes/twestival")
    assert response.status_code == 405
    assert response.get_json()["status"] == 405


def test_cause_pages_shape_and_what_is_public(client, db, cause):
    event_page = EventPageFactory(cause=cause, city="Lyon", goal_minor=2000_00)
    member = PageFactory(cause=cause, parent=event_page)
    solo = PageFactory(cause=cause, status=PageStatus.CLOSED)
    draft = PageFactory(cause=cause, status=PageStatus.DRAFT)
    hidden = PageFactory(cause=cause, status=PageStatus.HIDDEN)
    PageFactory()  # another cause
    record_gift(page=member, cause=cause, amount_minor=3000, donor_email="x@example.org")
    record_gift(page=event_page, cause=cause, amount_minor=1000, donor_email="y@example.org")
    db.session.commit()

    body = client.get("/api/v1/causes/twestival/pages").get_json()

    pages = body["pages"]
    assert [p["slug"] for p in pages] == [event_page.slug, member.slug, solo.slug]
    assert {draft.slug, hidden.slug}.isdisjoint(p["slug"] for p in pages)
    by_slug = {p["slug"]: p for p in pages}
    assert all(set(p) >= PAGE_KEYS for p in pages)
    event_json = by_slug[event_page.slug]
    assert event_json["kind"] == "event"
    assert event_json["parent"] is None
    assert event_json["city"] == "Lyon"
    assert event_json["raised"] == eur(4000)  # its own gift and its member's
    assert event_json["donation_count"] == 2
    assert event_json["goal"] == eur(2000_00)
    assert event_json["status"] == "published"
    assert by_slug[member.slug]["parent"] == event_page.slug
    assert by_slug[member.slug]["raised"] == eur(3000)
    assert by_slug[member.slug]["kind"] == "personal"
    assert by_slug[solo.slug]["status"] == "closed"
    assert (body["page"], body["per_page"], body["total"], body["next"]) == (1, 50, 3, None)


def test_cause_pages_are_paginated(client, db, cause):
    pages = [PageFactory(cause=cause) for _ in range(7)]
    db.session.commit()
    slugs = [p.slug for p in pages]

    first = client.get("/api/v1/causes/twestival/pages?per_page=3").get_json()
    assert [p["slug"] for p in first["pages"]] == slugs[:3]
    assert (first["total"], first["total_pages"], first["previous"]) == (7, 3, None)
    second = client.get(first["next"]).get_json()
    assert [p["slug"] for p in second["pages"]] == slugs[3:6]
    last = client.get("/api/v1/causes/twestival/pages?per_page=3&page=3").get_json()
    assert [p["slug"] for p in last["pages"]] == slugs[6:]
    assert last["next"] is None
    beyond = client.get("/api/v1/causes/twestival/pages?per_page=3&page=4")
    assert beyond.status_code == 200
    assert beyond.get_json()["pages"] == []
    far = client.get("/api/v1/causes/twestival/pages?page=999999999999999999")
    assert far.status_code == 200 and far.get_json()["pages"] == []
    everything = client.get("/api/v1/causes/twestival/pages?per_page=500").get_json()
    assert [p["slug"] for p in everything["pages"]] == slugs
    assert everything["per_page"] == 500


@pytest.mark.parametrize(
    "query",
    ["per_page=0", "per_page=-1", "per_page=abc", "per_page=501", "page=0", "page=-2", "page=x"],
)
def test_bad_pagination_is_a_400_that_says_why(client, db, cause, query):
    db.session.commit()
    response = client.get(f"/api/v1/causes/twestival/pages?{query}")
    assert response.status_code == 400
    body = response.get_json()
    name = query.split("=")[0]
    assert name in body["errors"]
    assert name in body["errors"][name]


def test_cause_pages_queries_do_not_grow_with_the_pages(client, db, cause):
    def queries_for_second_page():
        with count_queries(db, "SELECT") as statements:
            response = client.get("/api/v1/causes/twestival/pages?per_page=10&page=2")
            assert response.status_code == 200
        return len(statements), len(response.get_json()["pages"])

    # The second page holds only members, whose events are on the first one.
    events = [EventPageFactory(cause=cause) for _ in range(10)]
    # With a gift: a one-donor page costs the "hide my amount" check, once per list.
    record_gift(page=PageFactory(cause=cause, parent=events[0]), cause=cause, amount_minor=1000)
    db.session.commit()
    few, shown = queries_for_second_page()
    assert shown == 1
    for parent in events[1:]:
        member = PageFactory(cause=cause, parent=parent)
        record_gift(page=member, cause=cause, amount_minor=1000)
    db.session.commit()
    assert queries_for_second_page() == (few, 10)


def test_page_detail_lists_the_public_members_of_an_event(client, db, cause):
    event_page = EventPageFactory(cause=cause)
    members = [PageFactory(cause=cause, parent=event_page) for _ in range(2)]
    closed_member = PageFactory(cause=cause, parent=event_page, status=PageStatus.CLOSED)
    PageFactory(cause=cause, parent=event_page, status=PageStatus.DRAFT)
    PageFactory(cause=cause, parent=event_page, status=PageStatus.HIDDEN)
    record_gift(page=members[0], cause=cause, amount_minor=2000, donor_email="d@example.org")
    db.session.commit()

    body = client.get(f"/api/v1/pages/{event_page.slug}").get_json()

    assert set(body) >= PAGE_KEYS
    assert body["slug"] == event_page.slug
    assert body["raised"] == eur(2000)
    assert body["cause"] == "twestival"
    assert [m["slug"] for m in body["members"]] == [p.slug for p in [*members, closed_member]]
    assert all(set(m) >= PAGE_KEYS for m in body["members"])
    assert all(m["parent"] == event_page.slug for m in body["members"])
    assert body["members"][0]["raised"] == eur(2000)

    personal = client.get(f"/api/v1/pages/{members[1].slug}").get_json()
    assert personal["parent"] == event_page.slug
    assert "members" not in personal


def test_draft_and_hidden_pages_are_only_shown_to_their_editors(
    client, db, cause, agent, token, other_token
):
    draft = PageFactory(cause=cause, owner=agent, status=PageStatus.DRAFT)
    hidden = PageFactory(cause=cause, owner=agent, status=PageStatus.HIDDEN, hidden_reason="Spam")
    db.session.commit()

    for page in (draft, hidden):
        assert client.get(f"/api/v1/pages/{page.slug}").status_code == 404
        url = f"/api/v1/pages/{page.slug}"
        assert client.get(url, headers=bearer(other_token)).status_code == 404
        own = client.get(url, headers=bearer(token))
        assert own.status_code == 200
        assert own.get_json()["status"] == page.status
    assert client.get(f"/api/v1/pages/{hidden.slug}", headers=bearer(token)).get_json()[
        "hidden_reason"
    ] == ("Spam")
    listing = client.get("/api/v1/causes/twestival/pages", headers=bearer(token)).get_json()
    assert listing["pages"] == []


def test_staff_read_a_hidden_page_in_the_api_as_on_the_web(client, db, cause, other_token):
    # One rule for who sees a page (campaigns.pages.services.visible_page): the
    # organisation's staff see its hidden pages, as they do on the web.
    hidden = PageFactory(cause=cause, status=PageStatus.HIDDEN, hidden_reason="Spam")
    staffer = MembershipFactory(organisation=cause.organisation).agent
    _, staff_token = create_token(staffer)
    db.session.commit()
    url = f"/api/v1/pages/{hidden.slug}"

    assert client.get(url, headers=bearer(staff_token)).get_json()["status"] == "hidden"
    assert client.get(url, headers=bearer(other_token)).status_code == 404
    assert client.get(f"/p/{hidden.slug}").status_code == 404


def test_organisation_totals(client, db, cause):
    other_cause = CauseFactory(organisation=cause.organisation)
    record_gift(page=None, cause=cause, amount_minor=1500, donor_email="a@example.org")
    record_gift(page=None, cause=other_cause, amount_minor=500, donor_email="a@example.org")
    db.session.commit()

    body = client.get("/api/v1/organisations/eau-vive").get_json()

    assert body["slug"] == "eau-vive"
    assert body["name"] == cause.organisation.name
    assert body["currency"] == "EUR"
    assert body["raised"] == eur(2000)
    assert body["donation_count"] == 2
    assert body["donor_count"] == 1


# --- tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer rls_wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
def test_writes_need_a_valid_token(client, db, cause, headers):
    db.session.commit()
    before = page_count(db)
    response = client.post(
        "/api/v1/pages",
        json={"cause": "twestival", "kind": "personal", "title": "Mine", "goal": eur(100)},
        headers=headers,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]
    assert page_count(db) == before


def test_a_revoked_token_is_refused(client, db, cause, agent):
    record, clear = create_token(agent)
    revoke_token(agent, record.id)
    db.session.commit()
    response = client.post(
        "/api/v1/pages",
        json={"cause": "twestival", "kind": "personal", "title": "Mine", "goal": eur(100)},
        headers=bearer(clear),
    )
    assert response.status_code == 401
    assert client.get("/api/v1/causes", headers=bearer(clear)).status_code == 401


def test_a_session_cookie_is_not_enough_to_write(client, db, cause, agent, login_as):
    db.session.commit()
    login_as(agent)
    response = client.post(
        "/api/v1/pages",
        json={"cause": "twestival", "kind": "personal", "title": "Mine", "goal": eur(100)},
    )
    assert response.status_code == 401


# --- creating pages ------------------------------------------------------------------


def test_create_a_page(client, db, cause, agent, token):
    db.session.commit()
    response = client.post(
        "/api/v1/pages",
        json={
            "cause": "twestival",
            "kind": "event",
            "title": "Twestival Lyon",
            "goal": {"amount_minor": 150_000},
            "story": "On se retrouve au *Sucre*.",
            "city": "Lyon",
            "venue": "Le Sucre",
            "starts_at": "2099-06-21T19:00:00+02:00",
            "status": "published",
        },
        headers=bearer(token),
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["slug"] == "twestival-lyon"
    assert response.headers["Location"].endswith("/api/v1/pages/twestival-lyon")
    assert body["kind"] == "event"
    assert body["status"] == "published"
    assert body["goal"] == eur(150_000)
    assert body["raised"] == eur(0)
    assert body["members"] == []
    assert body["starts_at"] == "2099-06-21T17:00:00+00:00"
    page = db.session.scalar(select(Page).where(Page.slug == "twestival-lyon"))
    assert page.owner_id == agent.id
    assert page.venue == "Le Sucre"
    assert client.get(response.headers["Location"], headers=bearer(token)).get_json() == body
    assert client.get(response.headers["Location"]).get_json()["can_edit"] is False


def test_a_new_page_is_a_draft_its_owner_can_read(client, db, cause, token):
    db.session.commit()
    response = client.post(
        "/api/v1/pages",
        json={
            "cause": "twestival",
            "kind": "personal",
            "title": "Mon défi",
            "goal": {"amount_minor": 0, "currency": "EUR"},
            "slug": "mon-defi-2026",
        },
        headers=bearer(token),
    )
    assert response.status_code == 201
    assert response.get_json()["status"] == "draft"
    assert response.get_json()["slug"] == "mon-defi-2026"
    assert client.get("/api/v1/pages/mon-defi-2026").status_code == 404
    mine = client.get("/api/v1/pages/mon-defi-2026", headers=bearer(token))
    assert mine.get_json()["status"] == "draft"


VALID = {"cause": "twestival", "kind": "personal", "title": "Mine", "goal": {"amount_minor": 100}}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"goal": {"amount_minor": "abc"}}, "goal"),
        ({"goal": {"amount_minor": -5}}, "goal"),
        ({"goal": {"amount_minor": 1.5}}, "goal"),
        ({"goal": {"amount_minor": True}}, "goal"),
        ({"goal": {}}, "goal"),
        ({"goal": 500}, "goal"),
        ({"goal": {"amount_minor": 100, "currency": "USD"}}, "goal"),
        ({"goal": None}, "goal"),
        ({"title": 12}, "title"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"cause": "nope"}, "cause"),
        ({"cause": None}, "cause"),
        ({"cause": ["twestival"]}, "cause"),
        ({"kind": "team-of-one"}, "kind"),
        ({"kind": 3}, "kind"),
        ({"status": "closed"}, "status"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"slug": 7}, "slug"),
        ({"starts_at": "next tuesday"}, "starts_at"),
        ({"starts_at": 12}, "starts_at"),
        ({"starts_at": "2001-01-01T10:00:00Z"}, "starts_at"),
        ({"goal_minor": 100}, "goal_minor"),
    ],
)
def test_create_refuses_bad_fields_and_writes_nothing(client, db, cause, token, change, field):
    db.session.commit()
    before = page_count(db)
    response = client.post("/api/v1/pages", json={**VALID, **change}, headers=bearer(token))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert response.get_json()["errors"][field]
    assert page_count(db) == before


def test_create_reports_every_bad_field_at_once(client, db, cause, token):
    db.session.commit()
    response = client.post(
        "/api/v1/pages",
        json={"cause": "twestival", "kind": "event", "title": 12, "goal": 5, "city": ""},
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert {"title", "goal", "city"} <= set(response.get_json()["errors"])


def test_create_without_goal_is_refused(client, db, cause, token):
    db.session.commit()
    body = {k: v for k, v in VALID.items() if k != "goal"}
    response = client.post("/api/v1/pages", json=body, headers=bearer(token))
    assert response.status_code == 422
    assert "goal" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("not json", "application/json"),
        ('["a", "list"]', "application/json"),
        ("null", "application/json"),
        ("title=x", "application/x-www-form-urlencoded"),
        ("", "application/json"),
    ],
)
def test_create_refuses_a_body_that_is_not_a_json_object(
    client, db, cause, token, data, content_type
):
    db.session.commit()
    before = page_count(db)
    response = client.post(
        "/api/v1/pages", data=data, content_type=content_type, headers=bearer(token)
    )
    assert response.status_code == 400
    assert response.get_json()["errors"]["body"]
    assert page_count(db) == before


def test_duplicate_slug_and_closed_cause_are_refused(client, db, cause, token):
    PageFactory(cause=cause, slug="taken")
    closed = CauseFactory(status=CauseStatus.CLOSED)
    db.session.commit()
    before = page_count(db)

    taken = client.post("/api/v1/pages", json={**VALID, "slug": "taken"}, headers=bearer(token))
    assert taken.status_code == 422
    assert "slug" in taken.get_json()["errors"]
    shut = client.post("/api/v1/pages", json={**VALID, "cause": closed.slug}, headers=bearer(token))
    assert shut.status_code == 422
    assert "cause" in shut.get_json()["errors"]
    assert page_count(db) == before


def test_script_in_a_story_is_stored_as_text_not_run(client, db, cause, token):
    db.session.commit()
    story = "<script>alert(1)</script> Hello"
    response = client.post("/api/v1/pages", json={**VALID, "story": story}, headers=bearer(token))
    assert response.status_code == 201
    # The API hands back the Markdown source; the HTML page sanitises what it renders.
    assert response.get_json()["story"] == story
    assert response.mimetype == "application/json"


# --- changing pages ------------------------------------------------------------------


def test_owner_and_cohost_can_patch(client, db, cause, agent, token):
    page = EventPageFactory(cause=cause, owner=agent, status=PageStatus.DRAFT)
    cohost = AgentFactory()
    db.session.add(PageHost(page=page, agent_id=cohost.id))
    _, cohost_token = create_token(cohost)
    db.session.commit()

    response = client.patch(
        f"/api/v1/pages/{page.slug}",
        json={"title": "Lyon, le retour", "goal": {"amount_minor": 99_00}},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["title"] == "Lyon, le retour"
    assert response.get_json()["goal"] == eur(99_00)
    assert response.get_json()["city"] == "Lyon"  # untouched

    response = client.patch(
        f"/api/v1/pages/{page.slug}", json={"status": "published"}, headers=bearer(cohost_token)
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "published"
    db.session.expire_all()
    assert (page.title, page.goal_minor, page.status) == ("Lyon, le retour", 99_00, "published")


def test_patch_accepts_its_own_get_back(client, db, cause, agent, token):
    page = PageFactory(cause=cause, owner=agent)
    db.session.commit()
    current = client.get(f"/api/v1/pages/{page.slug}").get_json()
    same = {k: current[k] for k in ("cause", "kind", "title", "goal", "city", "status")}
    response = client.patch(f"/api/v1/pages/{page.slug}", json=same, headers=bearer(token))
    assert response.status_code == 200, response.get_json()


def test_patching_someone_elses_page_is_refused(client, db, cause, other_token):
    public = PageFactory(cause=cause)
    draft = PageFactory(cause=cause, status=PageStatus.DRAFT)
    db.session.commit()
    before = snapshot(public)

    response = client.patch(
        f"/api/v1/pages/{public.slug}", json={"title": "Mine now"}, headers=bearer(other_token)
    )
    assert response.status_code == 403
    response = client.patch(
        f"/api/v1/pages/{draft.slug}", json={"title": "Mine now"}, headers=bearer(other_token)
    )
    assert response.status_code == 404
    db.session.expire_all()
    assert snapshot(public) == before
    assert draft.title != "Mine now"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"goal": {"amount_minor": -5}}, "goal"),
        ({"goal": "abc"}, "goal"),
        ({"title": ""}, "title"),
        ({"kind": "event"}, "kind"),
        ({"cause": "other"}, "cause"),
        ({"parent": "x"}, "parent"),
        ({"title": "Fine", "slug": "BAD SLUG"}, "slug"),
    ],
)
def test_invalid_patch_changes_nothing(client, db, cause, agent, token, change, field):
    page = PageFactory(cause=cause, owner=agent)
    db.session.commit()
    before = snapshot(page)
    response = client.patch(f"/api/v1/pages/{page.slug}", json=change, headers=bearer(token))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    db.session.expire_all()
    assert snapshot(page) == before


def test_a_closed_page_cannot_be_patched(client, db, cause, agent, token):
    page = PageFactory(cause=cause, owner=agent, status=PageStatus.CLOSED)
    db.session.commit()
    response = client.patch(
        f"/api/v1/pages/{page.slug}", json={"title": "x"}, headers=bearer(token)
    )
    assert response.status_code == 409
    assert response.get_json()["error"]


# --- events: join, leave, close -----------------------------------------------------


def test_join_then_leave_an_event(client, db, cause, agent, token):
    event_page = EventPageFactory(cause=cause)
    mine = PageFactory(cause=cause, owner=agent)
    db.session.commit()
    record_gift(page=mine, cause=cause, amount_minor=700, donor_email="early@example.org")
    db.session.commit()

    response = client.post(
        f"/api/v1/pages/{event_page.slug}/join", json={"page": mine.slug}, headers=bearer(token)
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["slug"] == mine.slug
    assert response.get_json()["parent"] == event_page.slug
    db.session.commit()
    record_gift(page=mine, cause=cause, amount_minor=2000, donor_email="late@example.org")
    db.session.commit()

    event_json = client.get(f"/api/v1/pages/{event_page.slug}").get_json()
    assert [m["slug"] for m in event_json["members"]] == [mine.slug]
    assert event_json["raised"] == eur(2000)  # gifts made while a member

    response = client.post(f"/api/v1/pages/{mine.slug}/leave", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["parent"] is None
    event_json = client.get(f"/api/v1/pages/{event_page.slug}").get_json()
    assert event_json["members"] == []
    assert event_json["raised"] == eur(2000)  # the money stays counted


def test_join_refusals_change_nothing(client, db, cause, agent, token):
    closed_event = EventPageFactory(cause=cause, status=PageStatus.CLOSED)
    draft_event = EventPageFactory(cause=cause, status=PageStatus.DRAFT)
    open_event = EventPageFactory(cause=cause)
    mine = PageFactory(cause=cause, owner=agent)
    theirs = PageFactory(cause=cause)
    db.session.commit()

    def join(event_slug, body):
        return client.post(f"/api/v1/pages/{event_slug}/join", json=body, headers=bearer(token))

    assert join(closed_event.slug, {"page": mine.slug}).status_code == 422
    assert "event" in join(closed_event.slug, {"page": mine.slug}).get_json()["errors"]
    assert join(draft_event.slug, {"page": mine.slug}).status_code == 404
    assert join(open_event.slug, {"page": theirs.slug}).status_code == 403
    assert join(open_event.slug, {"page": "nope"}).get_json()["errors"]["page"]
    assert join(open_event.slug, {}).status_code == 422
    assert join(open_event.slug, {"page": 5}).status_code == 422
    assert join("nope", {"page": mine.slug}).status_code == 404
    assert join(mine.slug, {"page": mine.slug}).status_code == 422  # not an event
    db.session.expire_all()
    assert mine.parent_id is None and theirs.parent_id is None
    assert (
        client.post(f"/api/v1/pages/{open_event.slug}/join", json={"page": mine.slug}).status_code
        == 401
    )


def test_leaving_someone_elses_page_is_refused(client, db, cause, token):
    event_page = EventPageFactory(cause=cause)
    theirs = PageFactory(cause=cause, parent=event_page)
    db.session.commit()
    response = client.post(f"/api/v1/pages/{theirs.slug}/leave", headers=bearer(token))
    assert response.status_code == 403
    db.session.expire_all()
    assert theirs.parent_id == event_page.id


def test_close_a_page(client, db, cause, agent, token, other_token):
    mine = PageFactory(cause=cause, owner=agent)
    db.session.commit()
    record_gift(page=mine, cause=cause, amount_minor=1200, donor_email="g@example.org")
    db.session.commit()

    refused = client.post(f"/api/v1/pages/{mine.slug}/close", headers=bearer(other_token))
    assert refused.status_code == 403
    db.session.expire_all()
    assert mine.status == PageStatus.PUBLISHED

    response = client.post(f"/api/v1/pages/{mine.slug}/close", headers=bearer(token))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "closed"
    assert body["raised"] == eur(1200)
    public = client.get(f"/api/v1/pages/{mine.slug}").get_json()
    assert public["status"] == "closed"
    listing = client.get("/api/v1/causes/twestival/pages").get_json()
    assert [p["status"] for p in listing["pages"]] == ["closed"]


def test_an_agent_can_write_while_their_page_is_a_draft(client, db, cause, agent, token):
    draft = PageFactory(cause=cause, owner=agent, status=PageStatus.DRAFT, kind=PageKind.PERSONAL)
    db.session.commit()
    response = client.patch(
        f"/api/v1/pages/{draft.slug}", json={"story": "Bientôt."}, headers=bearer(token)
    )
    assert response.status_code == 200
    assert response.get_json()["story"] == "Bientôt."
    assert response.get_json()["status"] == "draft"


def test_dates_come_back_in_utc(client, db, cause):
    starts = datetime(2099, 5, 1, 18, 30, tzinfo=UTC)
    page = EventPageFactory(cause=cause, starts_at=starts)
    db.session.commit()
    assert client.get(f"/api/v1/pages/{page.slug}").get_json()["starts_at"] == (
        "2099-05-01T18:30:00+00:00"
    )


def test_leaderboard_and_rank_of_a_page(client, db):
    from campaigns.giving import ledger as services
    from tests.factories import CauseFactory, PageFactory

    cause = CauseFactory()
    low, high = PageFactory(cause=cause), PageFactory(cause=cause)
    services.record_gift(page=low, cause=cause, amount_minor=1000, donor_email="a@x.org")
    services.record_gift(page=high, cause=cause, amount_minor=5000, donor_email="b@x.org")
    db.session.commit()

    body = client.get(f"/api/v1/causes/{cause.slug}/leaderboard?board=pages&limit=5").get_json()
    assert body["board"] == "pages"
    assert [(e["slug"], e["rank"]) for e in body["entries"]] == [(high.slug, 1), (low.slug, 2)]
    assert body["entries"][0]["raised"] == {"amount_minor": 5000, "currency": "EUR"}
    assert client.get(f"/api/v1/pages/{low.slug}").get_json()["rank"] == 2
    assert client.get(f"/api/v1/causes/{cause.slug}/leaderboard?board=cities").status_code == 400
    assert client.get(f"/api/v1/causes/{cause.slug}/leaderboard?limit=1000").status_code == 400
    assert client.get("/api/v1/causes/nope/leaderboard").status_code == 404
