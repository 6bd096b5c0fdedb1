"""Live totals: the SSE stream on a threaded server (in-process hub and Redis
pub/sub), Last-Event-ID resume, the after-commit notices, and the pages that
carry the live hooks."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager

import pytest
import requests

from campaigns.giving import ledger
from campaigns.organisations import services as org_services
from campaigns.organisations.models import CauseStatus
from campaigns.pages import services as page_services
from campaigns.pages.models import PageStatus
from campaigns.standings import live
from extensions import db
from tests import stripe_objects as so
from tests.conftest import BACKENDS, drop_app, drop_redis_keys, make_migrated_app, serving
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)

SECRET = "whsec_live"
CHROMIUM = "/usr/bin/chromium"
REDIS_URL = os.environ.get("REDIS_URL", "")
BROKERS = [
    "memory",
    pytest.param(
        "redis",
        marks=pytest.mark.skipif(
            not REDIS_URL, reason="needs a Redis server: set REDIS_URL (CI does)"
        ),
    ),
]


# --- a served app and an SSE client ---------------------------------------------------


@contextmanager
def served(backend: str, tmp_path, use_redis: bool = False, **config):
    """The app on its own database (real commits), on a threaded loopback server."""
    name = f"relais_live_{os.getpid()}_{backend}_{uuid.uuid4().hex[:8]}"
    prefix = f"relais-test:{os.getpid()}:{uuid.uuid4().hex}:"
    settings = {
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": REDIS_URL if use_redis else "",
        "REDIS_PREFIX": prefix,
        "LIVE_HEARTBEAT_SECONDS": 1,
        "LIVE_COALESCE_SECONDS": 0.1,
        **config,
    }
    app = make_migrated_app(backend, tmp_path, name, **settings)
    try:
        with serving(app) as base:
            yield app, base
    finally:
        live.hub(app).close()  # no snapshot is built (nor Redis rebuilt) after this
        if use_redis:
            drop_redis_keys(REDIS_URL, prefix)
        drop_app(app, backend, name)


class EventStream:
    """Reads a text/event-stream response message by message."""

    def __init__(self, url: str, headers: dict | None = None):
        self.response = requests.get(url, headers=headers or {}, stream=True, timeout=(5, 30))
        self.lines = self.response.iter_lines(decode_unicode=True)
        self.comments: list[str] = []

    def retry_hint(self) -> int:
        """The first line: sent once the server has subscribed this connection."""
        line = next(self.lines)
        assert line.startswith("retry: "), line
        return int(line.removeprefix("retry: "))

    def next(self, within: float = 20) -> dict | None:
        """The next message, or None when the server ended the stream; pings keep
        the socket busy, so a missing message fails after ``within`` seconds."""
        fields: dict[str, str] = {}
        deadline = time.monotonic() + within
        for line in self.lines:
            assert time.monotonic() < deadline, f"no message within {within} s"
            if line.startswith(":"):
                self.comments.append(line)
            elif line.startswith("retry:"):
                continue
            elif line == "":
                if fields:
                    return {
                        "id": int(fields["id"]),
                        "event": fields["event"],
                        "data": json.loads(fields["data"]),
                    }
            else:
                key, _sep, value = line.partition(": ")
                fields[key] = value
        return None

    def close(self) -> None:
        self.response.close()


def post_gift(base: str, cause_slug: str, page_slug: str, amount: int, email: str) -> None:
    session = so.checkout_session(amount=amount, page=page_slug, cause=cause_slug, email=email)
    body, headers = so.signed(so.event(session, "checkout.session.completed"), SECRET)
    response = requests.post(f"{base}/webhooks/stripe", data=body, headers=headers, timeout=30)
    assert response.status_code == 200 and response.json()["outcome"] == "recorded"


def setup_cause(app) -> tuple[str, str, str]:
    with app.app_context():
        cause = CauseFactory(organisation=OrganisationFactory(), goal_minor=10_000)
        event = EventPageFactory(cause=cause, city="Lyon")
        page = PageFactory(cause=cause, parent=event)
        db.session.commit()
        slugs = cause.slug, page.slug, event.slug
        db.session.remove()
    return slugs


# --- the stream -------------------------------------------------------------------------


@pytest.mark.parametrize("broker", BROKERS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_connected_client_receives_the_new_total_after_a_signed_webhook(
    backend, broker, tmp_path
):
    with served(backend, tmp_path, use_redis=broker == "redis") as (app, base):
        cause, page, event = setup_cause(app)
        stream = EventStream(f"{base}/api/v1/causes/{cause}/stream")
        try:
            assert stream.response.headers["Content-Type"].startswith("text/event-stream")
            assert stream.response.headers["Cache-Control"] == "no-cache"
            assert stream.response.headers["X-Accel-Buffering"] == "no"
            assert stream.retry_hint() > 0
            first = stream.next()
            assert first["event"] == "totals"
            assert first["data"]["cause"] == cause
            assert first["data"]["raised"] == {"amount_minor": 0, "currency": "EUR"}
            assert first["data"]["goal"] == {"amount_minor": 10_000, "currency": "EUR"}
            assert first["data"]["pages"][page]["rank"] == 1  # the top ones, first

            post_gift(base, cause, page, 2500, "ada@example.org")
            update = stream.next()
            data = update["data"]
            assert update["id"] > first["id"] and data["version"] == update["id"]
            assert data["raised"] == {"amount_minor": 2500, "currency": "EUR"}
            assert (data["donation_count"], data["donor_count"]) == (1, 1)
            assert data["pages"][page] == {
                "raised": {"amount_minor": 2500, "currency": "EUR"},
                "donor_count": 1,
                "rank": 1,
            }
            assert data["pages"][event]["raised"]["amount_minor"] == 2500
            top = data["leaderboards"]["pages"][0]
            assert (top["slug"], top["rank"], top["raised"]["amount_minor"]) == (page, 1, 2500)
            assert top["url"].endswith(f"/p/{page}")
            assert data["leaderboards"]["events"][0]["slug"] == event
        finally:
            stream.close()


@pytest.mark.parametrize("broker", BROKERS)
def test_last_event_id_resumes_an_old_client_at_once_and_an_up_to_date_one_waits(broker, tmp_path):
    with served(BACKENDS[-1], tmp_path, use_redis=broker == "redis") as (app, base):
        cause, page, _event = setup_cause(app)
        post_gift(base, cause, page, 1000, "a@example.org")
        url = f"{base}/api/v1/causes/{cause}/stream"

        old = EventStream(url, headers={"Last-Event-ID": "0"})
        resumed = old.next()
        old.close()
        current = resumed["id"]
        assert current > 0 and resumed["data"]["raised"]["amount_minor"] == 1000

        # Up to date: nothing is sent until the next change, which comes first.
        for how in ("header", "query"):
            if how == "header":
                waiting = EventStream(url, headers={"Last-Event-ID": str(current)})
            else:
                waiting = EventStream(f"{url}?last_event_id={current}")
            try:
                waiting.retry_hint()
                post_gift(base, cause, page, 2000, f"{uuid.uuid4().hex}@example.org")
                message = waiting.next()
                assert message["id"] > current
                assert message["data"]["raised"]["amount_minor"] > 1000
                current = message["id"]
            finally:
                waiting.close()


def test_a_stream_pings_and_ends_so_that_the_client_reconnects(tmp_path):
    with served("sqlite", tmp_path, LIVE_STREAM_SECONDS=2, LIVE_HEARTBEAT_SECONDS=0.2) as (
        app,
        base,
    ):
        cause, _page, _event = setup_cause(app)
        stream = EventStream(f"{base}/api/v1/causes/{cause}/stream")
        assert stream.next()["event"] == "totals"
        assert stream.next() is None  # the server closed it
        assert ": ping" in stream.comments


def test_the_stream_of_an_unknown_or_unpublished_cause_is_a_json_404(client, db):
    draft = CauseFactory(status=CauseStatus.DRAFT)
    db.session.commit()
    for slug in ("no-such-cause", draft.slug):
        response = client.get(f"/api/v1/causes/{slug}/stream")
        assert response.status_code == 404
        assert response.is_json and "no cause" in response.json["error"]


def test_past_the_per_process_cap_a_stream_is_told_to_come_back(app, client, db, monkeypatch):
    cause = CauseFactory(status=CauseStatus.PUBLISHED)
    db.session.commit()
    monkeypatch.setitem(app.config, "LIVE_MAX_STREAMS", 0)
    response = client.get(f"/api/v1/causes/{cause.slug}/stream")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.is_json and "retries by itself" in response.json["error"]


# --- notices after commit -----------------------------------------------------------------


@pytest.fixture
def notices(monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(live, "publish", lambda app, touched: sent.append(touched))
    return sent


def test_a_commit_that_wrote_ledger_rows_publishes_once_and_a_rollback_never(db, notices):
    cause = CauseFactory()
    event = EventPageFactory(cause=cause)
    page = PageFactory(cause=cause, parent=event)
    db.session.commit()
    notices.clear()

    ledger.record_gift(page=page, cause=cause, amount_minor=1500, donor_email="a@x.org")
    db.session.rollback()
    assert notices == []

    with db.session.begin_nested():  # a savepoint's commit is not the transaction's
        ledger.record_gift(page=page, cause=cause, amount_minor=1500, donor_email="a@x.org")
    assert notices == []
    db.session.commit()
    assert notices == [{cause.id: {page.id, event.id}}]


def test_page_status_and_event_changes_publish_their_page(db, notices):
    org = OrganisationFactory()
    staff = MembershipFactory(organisation=org).agent
    cause = CauseFactory(organisation=org)
    page = PageFactory(cause=cause)
    db.session.commit()
    notices.clear()
    page_services.hide_page(staff, page, "Spam")
    db.session.commit()
    assert notices == [{cause.id: {page.id}}]


def test_the_hub_merges_the_pages_of_messages_a_slow_client_has_not_read():
    mailbox = live.Stream(1)
    mailbox.put(5, {"version": 5, "pages": {"a": 1}})
    mailbox.put(6, {"version": 6, "pages": {"b": 2}})
    assert mailbox.get(timeout=0) == (6, {"version": 6, "pages": {"a": 1, "b": 2}})
    assert mailbox.get(timeout=0) is None


# --- the pages ------------------------------------------------------------------------------


def test_the_cause_page_carries_the_live_hooks(client, db):
    cause = CauseFactory()
    page = PageFactory(cause=cause, title="Ada runs")
    event = EventPageFactory(cause=cause)
    ledger.record_gift(page=page, cause=cause, amount_minor=2500, donor_email="a@x.org")
    db.session.commit()
    html = client.get(f"/c/{cause.slug}").text
    assert f'data-live-stream="/api/v1/causes/{cause.slug}/stream"' in html
    for hook in ("cause-raised", "cause-donations", "cause-donors", "cause-progress"):
        assert f'data-live="{hook}"' in html
    assert 'data-live-board="pages"' in html
    assert f'data-live-page="{page.slug}"' in html and f'data-live-page="{event.slug}"' in html
    assert 'data-live-one="{n} donation"' in html and 'data-live-other="{n} donations"' in html
    assert "1 donation" in html and "1 donor" in html
    assert 'src="/static/js/live.js" defer' in html
    assert f'href="/c/{cause.slug}/leaderboard"' in html


def test_the_public_leaderboard_ranks_pages_and_the_city_league(client, db):
    cause = CauseFactory()
    lyon = EventPageFactory(cause=cause, city="Lyon", title="Lyon night")
    marseille = EventPageFactory(cause=cause, city="Marseille", title="Marseille night")
    ada = PageFactory(cause=cause, parent=lyon, title="Ada")
    bob = PageFactory(cause=cause, title="Bob")
    cy = PageFactory(cause=cause, title="Cy")
    PageFactory(cause=cause, title="Hidden Hal", status=PageStatus.HIDDEN)
    for who, amount, email in ((ada, 3000, "a@x.org"), (bob, 1000, "b@x.org")):
        ledger.record_gift(page=who, cause=cause, amount_minor=amount, donor_email=email)
    ledger.record_gift(page=cy, cause=cause, amount_minor=1000, donor_email="c@x.org")
    ledger.record_gift(page=marseille, cause=cause, amount_minor=500, donor_email="m@x.org")
    db.session.commit()

    response = client.get(f"/c/{cause.slug}/leaderboard")
    assert response.status_code == 200
    html = response.text
    assert f'data-live-stream="/api/v1/causes/{cause.slug}/stream"' in html
    assert "Hidden Hal" not in html
    pages_board = html[html.index('data-live-board="pages"') : html.index('data-live-row="pages"')]
    assert pages_board.index("Ada") < pages_board.index("Bob")
    ranks = [chunk.split("</span>")[0] for chunk in pages_board.split('data-live="page-rank">')[1:]]
    assert ranks == ["1", "2", "2"]  # Bob and Cy tie: they share second place
    league = html[html.index('data-live-board="events"') :]
    assert league.index("Lyon night") < league.index("Marseille night")
    assert "1 member page" in league and league.index("Ada") > league.index("Lyon night")


def test_the_leaderboard_of_an_unknown_or_draft_cause_is_404(client, db):
    draft = CauseFactory(status=CauseStatus.DRAFT)
    db.session.commit()
    assert client.get("/c/no-such-cause/leaderboard").status_code == 404
    assert client.get(f"/c/{draft.slug}/leaderboard").status_code == 404


# --- in a browser ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(
    not shutil.which(CHROMIUM) and not os.environ.get("CI"),
    reason="Debian's chromium is not installed here",
)
def test_the_leaderboard_and_the_cause_page_move_without_reload(tmp_path):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect, sync_playwright

    with served("sqlite", tmp_path) as (app, base), sync_playwright() as p:
        cause, page, event = setup_cause(app)
        with app.app_context():
            runner_up = PageFactory(cause=org_services.get_cause(cause), title="Runner-up")
            db.session.commit()
            other = runner_up.slug
        post_gift(base, cause, other, 1000, "b@example.org")
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
        board, cause_page = context.new_page(), context.new_page()
        try:
            board.goto(f"{base}/c/{cause}/leaderboard")
            cause_page.goto(f"{base}/c/{cause}")
            for tab in (board, cause_page):
                tab.wait_for_selector("[data-live-version]")  # connected, first message in
            first_row = "[data-live-board=pages] > li"
            assert board.get_attribute(first_row, "data-live-page") == other

            post_gift(base, cause, page, 5000, "a@example.org")
            # expect() waits from Playwright's own world: a string evaluated in
            # the page (wait_for_function) is eval, which the CSP forbids.
            expect(board.locator(first_row).first).to_have_attribute("data-live-page", page)
            assert board.inner_text(f"{first_row} [data-live=page-rank]") == "1"
            assert "€50" in board.inner_text(f"{first_row} [data-live=page-raised]")
            assert "€60" in board.inner_text("[data-live=cause-raised]")
            assert "2 donations" in board.inner_text("[data-live=cause-donations]")
            assert "€60" in board.inner_text("[data-live-region]")  # announced politely
            events = f"[data-live-board=events] [data-live-page='{event}'][data-live=page-raised]"
            assert "€50" in board.inner_text(events)

            expect(cause_page.locator("[data-live=cause-raised]")).to_contain_text("60")
            assert cause_page.get_attribute("[data-live=cause-progress]", "value") == "60"
            top = cause_page.get_attribute("[data-live-board=pages] > li", "data-live-page")
            assert top == page
            assert "2 donors" in cause_page.inner_text("[data-live=cause-donors]")
            for tab in (board, cause_page):
                results = Axe().run(tab)
                assert results.violations_count == 0, results.generate_report()
        finally:
            context.close()
            browser.close()
