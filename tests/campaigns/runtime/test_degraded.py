"""Degraded mode: the database cannot be reached (its file moved away on SQLite;
on PostgreSQL the database refuses connections and its sessions are cut)."""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from flask_security.utils import hash_password
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from agents.models import Agent
from campaigns.giving.models import Donation, PendingGift
from campaigns.runtime import last_good
from campaigns.runtime.degraded import unavailable
from campaigns.totals.services import drift
from extensions import db
from tests import stripe_objects as so
from tests.conftest import TEST_DATABASE_URL, drop_redis_keys, own_database
from tests.factories import PASSWORD, AgentFactory, CauseFactory, OrganisationFactory, PageFactory

SECRET = "whsec_degraded"
REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture
def site(app, tmp_path):
    folder = tmp_path / "db"  # the SQLite file lives here: moving it away cuts the database
    folder.mkdir()
    with own_database(
        app,
        folder,
        "degraded",
        LAST_GOOD_SECONDS=0.001,
        LAST_GOOD_FOLDER=str(tmp_path / "last-good"),
        STRIPE_WEBHOOK_SECRET=SECRET,
    ) as own:
        last_good.forget()
        with own.app_context():
            agent = AgentFactory(email="camille@example.org", password=hash_password(PASSWORD))
            cause = CauseFactory(organisation=OrganisationFactory(currency="EUR"), slug="night")
            PageFactory(cause=cause, owner=agent, slug="camille-runs", title="Camille runs")
            PageFactory(cause=cause, slug="never-seen", title="Never seen")
            db.session.commit()
        yield own


@contextmanager
def database_cut(app):
    """The app's database unreachable until the block ends."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.drivername.startswith("sqlite"):
        folder = Path(url.database).parent
        away = folder.with_name(folder.name + "-away")
        folder.rename(away)
        with app.app_context():
            db.engine.dispose()  # open connections would go on reading the moved file
        try:
            yield
        finally:
            away.rename(folder)
        return
    server = make_url(TEST_DATABASE_URL)
    admin = psycopg.connect(
        host=server.host, port=server.port, user=server.username, dbname="postgres", autocommit=True
    )
    try:
        admin.execute(f'ALTER DATABASE "{url.database}" WITH ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (url.database,),
        )
        yield
    finally:
        admin.execute(f'ALTER DATABASE "{url.database}" WITH ALLOW_CONNECTIONS true')
        admin.close()


def counts(app) -> dict:
    with app.app_context():
        return {
            "donations": db.session.scalar(select(func.count()).select_from(Donation)),
            "pending": db.session.scalar(select(func.count()).select_from(PendingGift)),
            "agents": db.session.scalar(select(func.count()).select_from(Agent)),
            "drift": drift(),
        }


def webhook(client, amount: int = 2500, language: str = "en"):
    session = so.checkout_session(amount=amount, page="camille-runs", cause="night")
    body, headers = so.signed(so.event(session, "checkout.session.completed"), SECRET)
    headers = {**headers, "Accept-Language": language}
    return client.post("/webhooks/stripe", data=body, headers=headers), body, headers


PUBLIC = ("/c/night", "/p/camille-runs", "/c/night/leaderboard", "/")


def test_public_pages_are_served_from_their_last_good_render(site):
    client = site.test_client()
    seen = {}
    for path in PUBLIC:
        for language in ("en", "fr"):
            response = client.get(path, headers={"Accept-Language": language})
            assert response.status_code == 200 and "X-Relais-Degraded" not in response.headers
            seen[path, language] = response.get_data(as_text=True)

    with database_cut(site):
        for path in PUBLIC:
            english = client.get(path, headers={"Accept-Language": "en"})
            french = client.get(path, headers={"Accept-Language": "fr"})
            assert english.status_code == 200, (path, english.get_data(as_text=True)[:300])
            assert english.headers["X-Relais-Degraded"].startswith("last-good; saved-at=")
            assert english.headers["Cache-Control"] == "no-store"
            text = english.get_data(as_text=True)
            assert re.search(r"figures as of \d{1,2}:\d\d", text), text[:2000]
            assert "Giving and signing in are paused" in text
            assert re.search(r"chiffres à \d{1,2}:\d\d", french.get_data(as_text=True))
            # The rest of the page is the copy kept from the last render.
            if path != "/":
                assert "Camille runs" in text
            assert english.headers["Content-Security-Policy"]  # headers of every answer
        page = client.get("/p/camille-runs", headers={"Accept-Language": "en"})
        text = page.get_data(as_text=True)
        assert 'action="/p/camille-runs/give' not in text
        assert "Giving is paused for a few minutes" in text
        assert 'action="/p/camille-runs/give' in seen["/p/camille-runs", "en"]

    again = client.get("/c/night", headers={"Accept-Language": "en"})
    assert again.status_code == 200 and "X-Relais-Degraded" not in again.headers


def test_a_page_never_rendered_says_it_cannot_be_shown(site):
    client = site.test_client()
    with database_cut(site):
        response = client.get("/p/never-seen", headers={"Accept-Language": "en"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "120"
    assert "This page cannot be shown for a few minutes" in response.get_data(as_text=True)


def test_giving_signing_in_and_webhooks_are_paused_and_write_nothing(site):
    client = site.test_client()
    assert client.get("/p/camille-runs").status_code == 200
    before = counts(site)
    with database_cut(site):
        gave = client.post(
            "/p/camille-runs/give",
            data={"amount": "10", "donor_email": "d@example.org", "donor_name": "D"},
            headers={"Accept-Language": "en"},
        )
        login = client.post(
            "/account/login",
            data={"email": "camille@example.org", "password": PASSWORD},
            headers={"Accept-Language": "fr"},
        )
        login_form = client.get("/account/login", headers={"Accept-Language": "en"})
        signup = client.post(
            "/account/register",
            data={"email": "new@example.org", "password": PASSWORD, "name": "New"},
            headers={"Accept-Language": "en"},
        )
        hook, body, headers = webhook(client, language="en")
        api = client.get("/api/v1/causes/night")

    for response in (gave, login, login_form, signup, hook, api):
        assert response.status_code == 503, response.get_data(as_text=True)[:500]
        assert response.headers["Retry-After"] == "120"
    assert "Giving is paused for a few minutes" in gave.get_data(as_text=True)
    assert "no payment was taken" in gave.get_data(as_text=True)
    assert "sont suspendues pour quelques minutes" in login.get_data(as_text=True)
    assert "Signing in and signing up are paused" in login_form.get_data(as_text=True)
    assert "Signing in and signing up are paused" in signup.get_data(as_text=True)
    assert hook.get_json()["status"] == 503 and "again later" in hook.get_json()["error"]
    assert api.get_json()["status"] == 503
    assert counts(site) == before  # nothing half-written

    # Stripe delivers the same event again once the database is back: recorded once.
    replayed = client.post("/webhooks/stripe", data=body, headers=headers)
    assert replayed.status_code == 200 and replayed.get_json()["outcome"] == "recorded"
    after = counts(site)
    assert after["donations"] == before["donations"] + 1 and after["drift"] == []


def test_a_signed_in_agent_gets_the_visitors_copy(site):
    client = site.test_client()
    anonymous = site.test_client()
    assert anonymous.get("/c/night", headers={"Accept-Language": "en"}).status_code == 200
    signed_in = client.post(
        "/account/login", data={"email": "camille@example.org", "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    mine = client.get("/p/camille-runs", headers={"Accept-Language": "en"})
    assert mine.status_code == 200 and "/p/camille-runs/edit" in mine.get_data(as_text=True)

    with database_cut(site):
        served = client.get("/p/camille-runs", headers={"Accept-Language": "en"})
        cause = client.get("/c/night", headers={"Accept-Language": "en"})

    # The agent's own render (with its edit link) was never kept.
    assert served.status_code == 503
    assert cause.status_code == 200 and "Log in" in cause.get_data(as_text=True)


def test_a_filtered_or_flashed_render_is_not_kept(site):
    client = site.test_client()
    assert client.get("/c/night?city=Lyon", headers={"Accept-Language": "en"}).status_code == 200
    with database_cut(site):
        response = client.get("/c/night?city=Lyon", headers={"Accept-Language": "en"})
    assert response.status_code == 503


def test_the_csrf_token_of_the_visitor_is_not_kept(site):
    site.config["WTF_CSRF_ENABLED"] = True
    client = site.test_client()
    page = client.get("/p/camille-runs", headers={"Accept-Language": "en"})
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
    )
    assert token, "the page has a give form with a CSRF token"
    with site.test_request_context():
        kept = last_good.load("/p/camille-runs", ["en"])
    assert kept is not None and token.group(1) not in kept.body


@pytest.mark.skipif(not REDIS_URL, reason="needs a Redis server: set REDIS_URL (CI does)")
def test_another_node_serves_a_render_kept_in_redis(site, tmp_path):
    redis_url = REDIS_URL
    prefix = f"relais-test-degraded-{tmp_path.name}:"
    site.config.update(REDIS_URL=redis_url, REDIS_PREFIX=prefix)
    try:
        assert (
            site.test_client().get("/c/night", headers={"Accept-Language": "en"}).status_code == 200
        )
        # The other node: its own (empty) folder, the same Redis.
        site.config["LAST_GOOD_FOLDER"] = str(tmp_path / "other-node")
        with database_cut(site):
            response = site.test_client().get("/c/night", headers={"Accept-Language": "en"})
        assert response.status_code == 200 and "X-Relais-Degraded" in response.headers
    finally:
        site.config["REDIS_URL"] = ""
        drop_redis_keys(redis_url, prefix)


def test_renders_are_kept_at_most_once_a_period(site):
    site.config["LAST_GOOD_SECONDS"] = 60
    with site.test_request_context():
        assert last_good.save("/x", "en", "one", now=1000.0) is True
        assert last_good.save("/x", "en", "two", now=1030.0) is False
        assert last_good.load("/x", ["en"]).body == "one"
        assert last_good.save("/x", "en", "three", now=1061.0) is True
        assert last_good.load("/x", ["fr", "en"]).body == "three"
        assert last_good.load("/y", ["en", "fr"]) is None


def test_other_database_errors_stay_errors():
    sqlite_bug = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    sqlite_down = OperationalError(
        "SELECT", {}, sqlite3.OperationalError("unable to open database file")
    )
    assert unavailable(sqlite_down) is True
    assert unavailable(sqlite_bug) is False
    assert unavailable(IntegrityError("INSERT", {}, Exception("duplicate"))) is False
    assert unavailable(ValueError("nothing to do with the database")) is False
