"""API tokens with a scope and an expiry, writes limited per token, and the one
error body of the API (RFC 9457 problem documents keeping the older fields)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agents.services import create_token
from campaigns.model_types import utcnow
from campaigns.pages.models import Page, PageStatus
from extensions import db as _db
from extensions import limiter
from tests.conftest import drop_app, make_migrated_app
from tests.factories import AgentFactory, CauseFactory, OrganisationFactory, PageFactory

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "error"}


def bearer(clear: str) -> dict:
    return {"Authorization": f"Bearer {clear}"}


def new_page(cause: str = "twestival") -> dict:
    return {"cause": cause, "kind": "personal", "title": "Mine", "goal": {"amount_minor": 100}}


def page_count(db) -> int:
    return db.session.scalar(select(func.count(Page.id)))


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["type"].endswith(f"/api/v1/docs#problem-{kind}")
    assert body["detail"] == body["error"] and body["detail"]
    assert body["title"]
    return body


@pytest.fixture
def agent(db):
    return AgentFactory()


@pytest.fixture
def cause(db):
    return CauseFactory(organisation=OrganisationFactory(slug="eau-vive"), slug="twestival")


# --- problem documents --------------------------------------------------------------


def test_every_kind_of_error_is_a_problem_document(client, db, cause, agent):
    _, clear = create_token(agent)
    db.session.commit()

    body = assert_problem(client.get("/api/v1/causes/nope"), 404, "not-found")
    assert body["instance"] == "/api/v1/causes/nope"
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not-found")

    wrong_method = client.delete("/api/v1/causes/twestival")
    assert_problem(wrong_method, 405, "method-not-allowed")
    assert "GET" in wrong_method.headers["Allow"]

    paging = assert_problem(
        client.get("/api/v1/causes/twestival/pages?per_page=0"), 400, "bad-request"
    )
    assert "per_page" in paging["errors"]

    invalid = client.post("/api/v1/pages", json={**new_page(), "title": 12}, headers=bearer(clear))
    assert assert_problem(invalid, 422, "validation")["errors"]["title"]

    not_json = client.post(
        "/api/v1/pages", data="x", content_type="text/plain", headers=bearer(clear)
    )
    assert assert_problem(not_json, 400, "bad-request")["errors"]["body"]

    unknown = assert_problem(
        client.get("/api/v1/causes", headers=bearer("rls_nope")), 401, "unauthorized"
    )
    assert "revoked" in unknown["detail"]


def test_the_full_live_stream_is_a_problem_document_too(app, client, db, cause, monkeypatch):
    # The stream's view builds its 503 itself: the API's errors stay one shape.
    db.session.commit()
    monkeypatch.setitem(app.config, "LIVE_MAX_STREAMS", 0)
    response = client.get(f"/api/v1/causes/{cause.slug}/stream")
    body = assert_problem(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "30"
    assert body["instance"] == f"/api/v1/causes/{cause.slug}/stream"


def test_a_page_that_is_not_yours_is_a_forbidden_problem(client, db, cause, agent):
    theirs = PageFactory(cause=cause)
    _, clear = create_token(agent)
    db.session.commit()
    response = client.post(f"/api/v1/pages/{theirs.slug}/close", headers=bearer(clear))
    assert_problem(response, 403, "forbidden")
    db.session.expire_all()
    assert theirs.status == PageStatus.PUBLISHED


def test_a_closed_page_is_a_conflict_problem(client, db, cause, agent):
    mine = PageFactory(cause=cause, owner=agent, status=PageStatus.CLOSED)
    _, clear = create_token(agent)
    db.session.commit()
    response = client.patch(
        f"/api/v1/pages/{mine.slug}", json={"title": "x"}, headers=bearer(clear)
    )
    assert_problem(response, 409, "conflict")


def test_problems_are_in_the_requests_language(client, db):
    response = client.get("/api/v1/causes/nope", headers={"Accept-Language": "fr"})
    body = assert_problem(response, 404, "not-found")
    assert body["title"] == "Introuvable"


# --- scopes ------------------------------------------------------------------------------


def test_a_read_token_reads_but_cannot_write(client, db, cause, agent):
    draft = PageFactory(cause=cause, owner=agent, status=PageStatus.DRAFT)
    _, reader = create_token(agent, "reader", scope="read")
    db.session.commit()
    before = page_count(db)

    # Reads see what the agent may see, drafts included.
    own = client.get(f"/api/v1/pages/{draft.slug}", headers=bearer(reader))
    assert own.status_code == 200 and own.get_json()["status"] == "draft"

    for response in (
        client.post("/api/v1/pages", json=new_page(), headers=bearer(reader)),
        client.patch(f"/api/v1/pages/{draft.slug}", json={"title": "New"}, headers=bearer(reader)),
        client.post(f"/api/v1/pages/{draft.slug}/close", headers=bearer(reader)),
    ):
        body = assert_problem(response, 403, "insufficient-scope")
        assert "write" in body["detail"]
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="write"' in challenge
    db.session.expire_all()
    assert page_count(db) == before
    assert draft.title != "New" and draft.status == PageStatus.DRAFT


def test_a_write_token_writes(client, db, cause, agent):
    _, writer = create_token(agent, "writer", scope="write")
    db.session.commit()
    response = client.post("/api/v1/pages", json=new_page(), headers=bearer(writer))
    assert response.status_code == 201, response.get_json()


# --- expiry ------------------------------------------------------------------------------


def test_an_expired_token_is_a_401_on_reads_and_writes(client, db, cause, agent):
    token, clear = create_token(agent, "short", expires_at=utcnow() + timedelta(hours=1))
    db.session.commit()
    assert client.get("/api/v1/causes", headers=bearer(clear)).status_code == 200

    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    before = page_count(db)
    for response in (
        client.get("/api/v1/causes", headers=bearer(clear)),
        client.post("/api/v1/pages", json=new_page(), headers=bearer(clear)),
    ):
        body = assert_problem(response, 401, "token-expired")
        assert "expired" in body["detail"]
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert page_count(db) == before


@pytest.mark.parametrize(
    ("scope", "expires_in", "field"),
    [
        ("admin", None, "scope"),
        ("write", timedelta(seconds=-5), "expires_at"),
        ("read", timedelta(days=4000), "expires_at"),
    ],
)
def test_a_token_needs_a_known_scope_and_a_future_expiry(db, agent, scope, expires_in, field):
    from campaigns.errors import ValidationError

    expires_at = utcnow() + expires_in if expires_in else None
    with pytest.raises(ValidationError) as refused:
        create_token(agent, scope=scope, expires_at=expires_at)
    assert field in refused.value.errors


# --- rate limits -------------------------------------------------------------------------


@pytest.fixture
def limited_app(tmp_path):
    """An app on its own SQLite database with API writes limited to 2 a minute
    per token (counted in this process's memory); the shared limiter restored after."""
    enabled = limiter.enabled
    name = f"limits-{uuid.uuid4().hex[:8]}"
    app = make_migrated_app(
        "sqlite",
        tmp_path,
        name,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        API_WRITE_RATE_LIMIT="2 per minute",
    )
    yield app
    drop_app(app, "sqlite", name)
    limiter.enabled = enabled


def test_writes_are_limited_per_token_with_a_429_and_retry_after(limited_app, app):
    with limited_app.app_context():
        cause = CauseFactory(organisation=OrganisationFactory(slug="eau-vive"), slug="twestival")
        one, two = AgentFactory(), AgentFactory()
        page = PageFactory(cause=cause, owner=one)
        _, first = create_token(one)
        _, second = create_token(two)
        slug = page.slug
        _db.session.commit()
        _db.session.remove()
    client = limited_app.test_client()

    def create(clear):
        return client.post("/api/v1/pages", json=new_page(), headers=bearer(clear))

    # Refused writes count too: the limit is on what a token asks, not on what succeeds.
    assert create(first).status_code == 201
    assert (
        client.patch(f"/api/v1/pages/{slug}", json={"title": ""}, headers=bearer(first)).status_code
        == 422
    )
    limited = client.post(
        "/api/v1/pages", json=new_page(), headers={**bearer(first), "Accept-Language": "en"}
    )
    body = assert_problem(limited, 429, "rate-limited")
    seconds = int(limited.headers["Retry-After"])
    assert 1 <= seconds <= 60
    assert "per token" in body["detail"]
    # The sentence says the wait the header says (Flask-Limiter may round it a second down).
    said = int(re.search(r"in ([0-9]+) seconds", body["detail"]).group(1))
    assert said - 1 <= seconds <= said

    assert create(second).status_code == 201  # another token has its own count
    assert client.get(f"/api/v1/pages/{slug}", headers=bearer(first)).status_code == 200  # reads
    with limited_app.app_context():
        assert _db.session.scalar(select(func.count(Page.id))) == 3

    # The shared test app (RATELIMIT_ENABLED=False) is not limited by the other app's settings.
    shared = app.test_client()
    for _ in range(3):
        assert (
            shared.post("/api/v1/pages", json=new_page(), headers=bearer("rls_x")).status_code
            == 401
        )
