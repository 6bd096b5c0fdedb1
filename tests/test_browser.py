"""Journeys in headless Chromium against a live server (real commits, real SMTP,
CSRF on), with axe-core accessibility checks on the pages a visitor meets."""

from __future__ import annotations

import os
import re
import shutil
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.conftest import free_port, make_migrated_app

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.browser

if not shutil.which(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium")
    pytest.skip("Debian's chromium is not installed here", allow_module_level=True)


@contextmanager
def serving(app):
    """``app`` on a threaded loopback server (each request, and each live
    stream, on its own thread); yields its base URL."""
    from campaigns.standings import live

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        live.hub(app).close()  # no live snapshot is built after this


@pytest.fixture(scope="module")
def live_app(tmp_path_factory, smtp_server):
    """The app with the demo data on its own SQLite file; tests read the
    database through it to know what the pages should show."""
    directory = tmp_path_factory.mktemp("live")
    app = make_migrated_app(
        "sqlite",
        directory,
        "live",
        smtp_server.url,
        WTF_CSRF_ENABLED=True,
        TESTING=False,
        # The demo's queued mail goes out at once when the test delivers the outbox.
        OUTBOX_RATE_LIMITS={"email": 0},
    )
    with app.app_context():
        from campaigns.demo import seed as demo
        from campaigns.unit_of_work import run_transaction

        run_transaction(demo.seed)
    return app


@pytest.fixture(scope="module")
def live_server(live_app):
    with serving(live_app) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def french(browser):
    context = new_context(browser, locale="fr-FR", extra_http_headers={"Accept-Language": "fr-FR"})
    yield context
    context.close()


# Every page records what the Content-Security-Policy blocked (an inline
# script or style, a foreign source): assert_accessible fails on any.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def new_context(browser, **options):
    context = browser.new_context(**options)
    context.add_init_script(CSP_WATCH)
    return context


def assert_accessible(page):
    from axe_playwright_python.sync_playwright import Axe

    assert page.evaluate("window.__cspViolations || []") == [], "blocked by the CSP"

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def deliver_outbox(app) -> None:
    """What a worker does after the sign-up's commit, run while the browser
    waits (a worker thread beside the server would race SQLite's single writer)."""
    from extensions import db
    from messaging.outbox.delivery import drain

    with app.app_context():
        try:
            drain("browser-worker")
        finally:
            db.session.remove()


def confirmation_link(app, smtp_server, email: str) -> str:
    deliver_outbox(app)
    for item in reversed(smtp_server.messages):
        if email in item["to"]:
            body = item["message"].get_body(("plain",)).get_content()
            return re.search(r"https?://\S+/account/confirm/\S+", body).group(0)
    raise AssertionError(f"no confirmation mail for {email}")


def sign_up(page, base, mail, name, email, check_a11y=False):
    """Sign up and confirm; ``mail`` is (the live app, the SMTP server)."""
    page.goto(f"{base}/account/register")
    if check_a11y:
        assert_accessible(page)
    page.fill("input[name=name]", name)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "un mot de passe solide")
    page.fill("input[name=password_confirm]", "un mot de passe solide")
    page.click("form [type=submit]")
    page.wait_for_load_state()
    page.goto(confirmation_link(*mail, email))
    page.wait_for_load_state()


def create_page(page, base, *, kind, title, city="", venue="", check_a11y=False):
    page.goto(f"{base}/c/twestival-eau-vive/pages/new")
    if check_a11y:
        assert_accessible(page)
    page.check(f"input[name=kind][value={kind}]")
    page.fill("input[name=title]", title)
    page.fill("input[name=goal]", "500")
    page.fill("textarea[name=story]", "On y va **ensemble** !")
    if kind != "personal":  # an event and a team say their city
        page.fill("input[name=city]", city)
    if kind == "event":
        page.fill("input[name=venue]", venue)
        when = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT19:00")
        page.fill("input[name=starts_at]", when)
    page.click("form.page-form [type=submit]")
    page.wait_for_load_state()
    page.click("form[action$='/publish'] [type=submit]")
    page.wait_for_load_state()
    return page.url


def test_two_agents_build_an_event_together_in_french(live_app, live_server, french, smtp_server):
    base, mail = live_server, (live_app, smtp_server)
    host = french.new_page()
    host.goto(f"{base}/c/twestival-eau-vive")
    assert host.locator("html").get_attribute("lang") == "fr"
    assert_accessible(host)

    sign_up(host, base, mail, "Aline Hôte", "aline@exemple.fr", check_a11y=True)
    event_url = create_page(
        host,
        base,
        kind="event",
        title="Twestival Avignon",
        city="Avignon",
        venue="Le Cloître",
        check_a11y=True,
    )
    assert "twestival-avignon" in event_url
    assert_accessible(host)

    second = new_context(french.browser, locale="fr-FR").new_page()
    sign_up(second, base, mail, "Bruno Membre", "bruno@exemple.fr")
    create_page(second, base, kind="personal", title="Bruno court pour l'eau")
    second.goto(event_url)
    second.select_option("form[action$='/join'] select[name=page]", label="Bruno court pour l'eau")
    second.click("form[action$='/join'] [type=submit]")
    second.wait_for_load_state()

    host.goto(event_url)
    text = host.inner_text("main")
    assert "Twestival Avignon" in text
    assert "Bruno court pour l'eau" in text
    assert "Pages de cet événement" in text  # the members list, in French
    assert "Quand et où" in text
    assert host.locator("html").get_attribute("lang") == "fr"
    assert_accessible(host)


def give_with_test_payment(donor, amount, name, email, message="", check_a11y=False):
    """On a page's give form (in English), give one of the suggested amounts
    and pay it with the demo's test payment (there is no Stripe key)."""
    donor.check(f"input[name=amount][value='{amount}']")
    donor.fill("textarea[name=message]", message)
    donor.fill("input[name=donor_name]", name)
    donor.fill("input[name=donor_email]", email)
    donor.click("form.give-form [type=submit]")
    donor.wait_for_load_state()
    assert "/test-payment" in donor.url
    assert "no real money moves" in donor.inner_text("main")
    if check_a11y:
        assert_accessible(donor)
    donor.click("form[action$='/test-payment'] [type=submit]")
    donor.wait_for_load_state()
    assert donor.url.endswith("/thanks")
    assert "Your gift is confirmed" in donor.inner_text("main")


def raised_euros(page) -> int:
    """The "raised" figure a page shows, in whole euros (the demo's gifts are whole)."""
    return int(re.sub(r"\D", "", page.inner_text(".raised .amount")))


def test_a_donor_gives_25_euros_in_the_demo_and_every_total_moves(live_server, browser):
    if os.environ.get("STRIPE_SECRET_KEY"):
        pytest.skip("the test payment only exists in the demo (no Stripe key)")
    base = live_server
    context = new_context(browser, locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    donor = context.new_page()

    donor.goto(f"{base}/c/twestival-eau-vive")
    cause_url = donor.url
    cause_before = raised_euros(donor)
    donor.click("a[href^='/p/'] >> nth=0")  # the first event of the cause
    donor.wait_for_load_state()
    event_url = donor.url
    event_before = raised_euros(donor)
    donor.click("section[aria-labelledby=members] ul.list a >> nth=0")
    donor.wait_for_load_state()
    page_url = donor.url
    page_before = raised_euros(donor)
    assert_accessible(donor)

    give_with_test_payment(
        donor, "25", "Dora Donatrice", "dora@exemple.fr", "Pour les puits !", check_a11y=True
    )
    assert_accessible(donor)
    donor.click("a[href^='/receipts/']")
    donor.wait_for_load_state()
    receipt = donor.inner_text("main")
    assert "Association Eau Vive" in receipt and "twenty-five euros" in receipt
    assert_accessible(donor)

    donor.goto(page_url)
    assert raised_euros(donor) == page_before + 25
    wall = donor.inner_text(".donor-wall")
    assert "Dora Donatrice" in wall and "Pour les puits !" in wall
    donor.goto(event_url)
    assert raised_euros(donor) == event_before + 25
    donor.goto(cause_url)
    assert raised_euros(donor) == cause_before + 25
    context.close()


def log_in(page, base, email, password):
    page.goto(f"{base}/account/login")
    page.fill("form[name=login_user_form] input[name=email]", email)
    page.fill("form[name=login_user_form] input[name=password]", password)
    page.click("form[name=login_user_form] [type=submit]")
    page.wait_for_load_state()
    assert "/account/login" not in page.url, page.inner_text("main")


def demo_cause_money(app) -> tuple[int, str, int]:
    """What the database says the demo cause has raised: (minor units, currency,
    cause id), as the dashboard's headline reads it."""
    from campaigns.demo import seed as demo
    from campaigns.organisations.models import Cause
    from campaigns.totals import services as totals
    from campaigns.totals.models import TotalScope
    from extensions import db

    with app.app_context():
        cause = db.session.scalar(select(Cause).where(Cause.slug == demo.DEMO_CAUSE_SLUG))
        raised = totals.figures_one(TotalScope.CAUSE, cause.id).raised_minor
        return raised, cause.organisation.currency, cause.id


def test_staff_see_the_chart_and_a_test_payment_move_the_dashboard_total(
    live_app, live_server, browser, french
):
    if os.environ.get("STRIPE_SECRET_KEY"):
        pytest.skip("the test payment only exists in the demo (no Stripe key)")
    from campaigns.demo import seed as demo
    from campaigns.money import format_money
    from campaigns.pages.models import Page, PageKind, PageStatus
    from extensions import db

    base = live_server
    staff = french.new_page()
    log_in(staff, base, demo.STAFF_EMAIL, demo.DEMO_PASSWORD)
    staff.goto(f"{base}/staff/{demo.DEMO_ORG_SLUG}/dashboard/")
    assert staff.url.startswith(f"{base}/staff/{demo.DEMO_ORG_SLUG}/dashboard/")
    lang = staff.locator("html").get_attribute("lang")
    assert lang == "fr"

    chart = staff.locator("#gifts-per-day svg[role=img]")
    assert chart.count() == 1
    assert chart.get_attribute("aria-labelledby") == "gifts-per-day-title gifts-per-day-desc"
    bars = chart.locator("rect.bar")
    assert bars.count() > 1  # one bar a day
    net = [int(n) for n in bars.evaluate_all("rs => rs.map(r => r.dataset.netMinor)")]
    assert any(n > 0 for n in net)  # the demo's gifts are drawn

    headline = "[data-live-stream]"  # the headline figures: the dashboard's only stream
    assert staff.locator(headline).count() == 1
    raised_selector = f"{headline} [data-live=cause-raised]"
    before, currency, cause_id = demo_cause_money(live_app)
    assert staff.inner_text(raised_selector) == format_money(before, currency, lang)
    # Connected: the stream's first message has filled the headline in.
    staff.wait_for_selector(f"{headline}[data-live-version]")
    version = staff.get_attribute(headline, "data-live-version")
    assert staff.inner_text(raised_selector) == format_money(before, currency, lang)
    assert_accessible(staff)
    staff.evaluate("window.relaisSameDocument = true")  # gone if the page reloads

    with live_app.app_context():
        slug = db.session.scalar(
            select(Page.slug)
            .where(
                Page.cause_id == cause_id,
                Page.kind == PageKind.PERSONAL,
                Page.status == PageStatus.PUBLISHED,
            )
            .order_by(Page.id)
            .limit(1)
        )
    donor_context = new_context(
        browser, locale="en-GB", extra_http_headers={"Accept-Language": "en"}
    )
    try:
        donor = donor_context.new_page()
        donor.goto(f"{base}/p/{slug}")
        give_with_test_payment(donor, "25", "Tom Témoin", "tom@exemple.fr")
    finally:
        donor_context.close()

    after = demo_cause_money(live_app)[0]
    assert after == before + 2500  # the 25 € gift, now in the ledger and the totals
    expected = format_money(after, currency, lang)
    staff.wait_for_function(
        """([selector, version]) => {
            const stream = document.querySelector(selector);
            return stream.getAttribute("data-live-version") !== version;
        }""",
        arg=[headline, version],
    )
    staff.wait_for_function(
        """([selector, expected]) =>
            document.querySelector(selector).textContent.trim() === expected""",
        arg=[raised_selector, expected],
    )
    assert staff.evaluate("window.relaisSameDocument") is True  # no reload
    assert expected in staff.inner_text(f"{headline} [data-live-region]")  # announced politely
    assert_accessible(staff)


@contextmanager
def other_origin(html: str):
    """A page of another site (another loopback port) that holds ``html``."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/blog.html"
    finally:
        server.shutdown()


def test_embeds_load_and_move_in_a_page_of_another_origin(live_app, live_server, browser):
    """A blogger's page frames the cause's goal and reads the public API; a
    gift given meanwhile moves the framed figure without a reload."""
    if os.environ.get("STRIPE_SECRET_KEY"):
        pytest.skip("the test payment only exists in the demo (no Stripe key)")
    from playwright.sync_api import expect

    from campaigns.demo import seed as demo
    from campaigns.money import format_money

    base = live_server
    slug = demo.DEMO_CAUSE_SLUG
    html = f"""<!doctype html><html lang="en"><head><title>A blog</title></head><body>
    <iframe id="goal" title="goal" src="{base}/embed/c/{slug}/goal?lang=en"></iframe>
    <iframe id="board" title="board" src="{base}/embed/c/{slug}/leaderboard?lang=fr"></iframe>
    <p id="api">waiting</p>
    <script>
      fetch("{base}/api/v1/causes/{slug}").then(r => r.json())
        .then(c => {{ document.getElementById("api").textContent = "read " + c.slug; }})
        .catch(e => {{ document.getElementById("api").textContent = "blocked " + e; }});
    </script></body></html>"""
    context = new_context(browser, locale="en-GB")
    try:
        with other_origin(html) as blog_url:
            blog = context.new_page()
            blog.goto(blog_url)
            expect(blog.locator("#api")).to_have_text(f"read {slug}")
            goal = blog.frame_locator("#goal")
            before, currency, _cause_id = demo_cause_money(live_app)
            raised = goal.locator("[data-live=cause-raised]")
            expect(raised).to_have_text(format_money(before, currency, "en"))
            expect(goal.locator("[data-live-stream][data-live-version]")).to_have_count(1)
            board = blog.frame_locator("#board")
            expect(board.locator("html")).to_have_attribute("lang", "fr")
            expect(board.locator("ol.ranking li").first).to_be_visible()

            donor = context.new_page()
            donor.goto(f"{base}/c/{slug}")
            donor.click("ol.ranking a >> nth=0")
            donor.wait_for_load_state()
            give_with_test_payment(donor, "25", "Bea Blogueuse", "bea@exemple.fr")
            after = demo_cause_money(live_app)[0]
            assert after == before + 2500
            expect(raised).to_have_text(format_money(after, currency, "en"))
            for embed in ("goal", "leaderboard"):
                alone = context.new_page()
                alone.goto(f"{base}/embed/c/{slug}/{embed}")
                assert_accessible(alone)
    finally:
        context.close()


def test_on_a_phone_the_give_button_is_on_the_first_screen(live_server, browser):
    """390×844, the size of a common phone: the page's figure and a Give button
    show without scrolling, and the page does not scroll sideways."""
    from playwright.sync_api import expect

    context = new_context(browser, viewport={"width": 390, "height": 844}, locale="en-GB")
    try:
        phone = context.new_page()
        phone.goto(f"{live_server}/c/twestival-eau-vive")
        phone.click("ol.ranking a >> nth=0")
        phone.wait_for_load_state()
        give = phone.locator(".give-strip a[href='#give']")
        expect(give).to_be_visible()
        assert give.bounding_box()["y"] + give.bounding_box()["height"] <= 844
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        give.click()
        expect(phone.locator("#give")).to_be_in_viewport()
        assert_accessible(phone)
    finally:
        context.close()


@pytest.mark.slow
def test_on_a_phone_tables_scroll_in_their_own_box(live_server, browser):
    """At 390 px, the agent's account, the open data and the staff pages do not
    scroll sideways: a wide table scrolls inside a named, focusable region."""
    from campaigns.demo import seed as demo

    base = live_server
    context = new_context(browser, viewport={"width": 390, "height": 844}, locale="en-GB")
    try:
        phone = context.new_page()
        phone.goto(f"{base}/open/")
        assert phone.locator(".table-scroll[role=region] table").count() >= 1
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert_accessible(phone)

        log_in(phone, base, demo.AGENT_EMAIL, demo.DEMO_PASSWORD)
        phone.goto(f"{base}/me")
        assert phone.locator(".table-scroll[role=region] table").count() >= 1
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert_accessible(phone)
    finally:
        context.close()

    context = new_context(browser, viewport={"width": 390, "height": 844}, locale="en-GB")
    try:
        staff = context.new_page()
        log_in(staff, base, demo.STAFF_EMAIL, demo.DEMO_PASSWORD)
        for path in ("", "pages", "staff"):
            staff.goto(f"{base}/staff/{demo.DEMO_ORG_SLUG}/{path}")
            assert staff.locator(".table-scroll[role=region] table").count() >= 1, path
            assert staff.evaluate("document.documentElement.scrollWidth") <= 390, path
            assert_accessible(staff)
    finally:
        context.close()
