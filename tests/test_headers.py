"""Security headers on every page family, and pages that need no inline script."""

from __future__ import annotations

import re

import pytest

from tests.factories import EventPageFactory, PageFactory

FAMILIES = [
    "/",
    "/c/{cause}",
    "/c/{cause}/leaderboard",
    "/p/{page}",
    "/p/{event}",
    "/open/",
    "/open/datapackage.json",
    "/api/v1/causes",
    "/api/v1/pages/{page}",
    "/account/login",
    "/account/register",
    "/staff/{org}/",
    "/staff/{org}/dashboard/",
    "/me",
    "/p/{page}/share",
    "/no-such-page",
]


@pytest.fixture
def place(db, cause, staffer):
    event = EventPageFactory(cause=cause, owner=staffer)
    page = PageFactory(cause=cause, parent=event, owner=staffer)
    return {
        "cause": cause.slug,
        "page": page.slug,
        "event": event.slug,
        "org": cause.organisation.slug,
    }


def policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.mark.parametrize("path", FAMILIES)
def test_every_page_family_carries_the_security_headers(as_agent, client, staffer, place, path):
    as_agent(staffer)

    response = client.get(path.format(**place))

    assert response.status_code < 500
    csp = policy(response)
    assert (
        csp["script-src"] == "'self'"
        and "unsafe-inline" not in response.headers["Content-Security-Policy"]
    )
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # development


@pytest.mark.parametrize("path", [p for p in FAMILIES if not p.startswith(("/api", "/open/d"))])
def test_pages_hold_no_inline_script_or_style_the_policy_would_block(
    as_agent, client, staffer, place, path
):
    as_agent(staffer)

    html = client.get(path.format(**place)).get_data(as_text=True)

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html
    assert not re.search(r"\sstyle=\"", html), "style attribute"
    assert not re.search(r"\son[a-z]+=\"", html), "inline event handler"
    assert "javascript:" not in html


def test_production_pins_https(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RELAIS_ENV", "production")

    response = client.get("/")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
