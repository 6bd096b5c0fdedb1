"""Journeys in headless Chromium against a live server (real commits, real SMTP,
CSRF on), with axe-core accessibility checks on the pages a visitor meets."""

from __future__ import annotations

import os
import re
import shutil
import threading
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server

from tests.conftest import free_port, make_migrated_app

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.browser

if not shutil.which(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium")
    pytest.skip("Debian's chromium is not installed here", allow_module_level=True)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, smtp_server):
    """The app with the demo data, served on loopback from its own SQLite file."""
    directory = tmp_path_factory.mktemp("live")
    app = make_migrated_app(
        "sqlite", directory, "live", smtp_server.url, WTF_CSRF_ENABLED=True, TESTING=False
    )
    with app.app_context():
        from campaigns import demo

        demo.seed()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


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
    context = browser.new_context(locale="fr-FR", extra_http_headers={"Accept-Language": "fr-FR"})
    yield context
    context.close()


def assert_accessible(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def confirmation_link(smtp_server, email: str) -> str:
    for item in reversed(smtp_server.messages):
        if email in item["to"]:
            body = item["message"].get_body(("plain",)).get_content()
            return re.search(r"https?://\S+/account/confirm/\S+", body).group(0)
    raise AssertionError(f"no confirmation mail for {email}")


def sign_up(page, base, smtp_server, name, email, check_a11y=False):
    page.goto(f"{base}/account/register")
    if check_a11y:
        assert_accessible(page)
    page.fill("input[name=name]", name)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "un mot de passe solide")
    page.fill("input[name=password_confirm]", "un mot de passe solide")
    page.click("form [type=submit]")
    page.wait_for_load_state()
    page.goto(confirmation_link(smtp_server, email))
    page.wait_for_load_state()


def create_page(page, base, *, kind, title, city="", venue="", check_a11y=False):
    page.goto(f"{base}/c/twestival-eau-vive/pages/new")
    if check_a11y:
        assert_accessible(page)
    page.check(f"input[name=kind][value={kind}]")
    page.fill("input[name=title]", title)
    page.fill("input[name=goal]", "500")
    page.fill("textarea[name=story]", "On y va **ensemble** !")
    if kind == "event":
        page.fill("input[name=city]", city)
        page.fill("input[name=venue]", venue)
        when = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT19:00")
        page.fill("input[name=starts_at]", when)
    page.click("form.page-form [type=submit]")
    page.wait_for_load_state()
    page.click("form[action$='/publish'] [type=submit]")
    page.wait_for_load_state()
    return page.url


def test_two_agents_build_an_event_together_in_french(live_server, french, smtp_server):
    base = live_server
    host = french.new_page()
    host.goto(f"{base}/c/twestival-eau-vive")
    assert host.locator("html").get_attribute("lang") == "fr"
    assert_accessible(host)

    sign_up(host, base, smtp_server, "Aline Hôte", "aline@exemple.fr", check_a11y=True)
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

    second = french.browser.new_context(locale="fr-FR").new_page()
    sign_up(second, base, smtp_server, "Bruno Membre", "bruno@exemple.fr")
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


def raised_euros(page) -> int:
    """The "raised" figure a page shows, in whole euros (the demo's gifts are whole)."""
    return int(re.sub(r"\D", "", page.inner_text(".raised .amount")))


def test_a_donor_gives_25_euros_in_the_demo_and_every_total_moves(live_server, browser):
    if os.environ.get("STRIPE_SECRET_KEY"):
        pytest.skip("the test payment only exists in the demo (no Stripe key)")
    base = live_server
    context = browser.new_context(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
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

    donor.check("input[name=amount][value='25']")
    donor.fill("textarea[name=message]", "Pour les puits !")
    donor.fill("input[name=donor_name]", "Dora Donatrice")
    donor.fill("input[name=donor_email]", "dora@exemple.fr")
    donor.click("form.give-form [type=submit]")
    donor.wait_for_load_state()
    assert "/test-payment" in donor.url
    assert "no real money moves" in donor.inner_text("main")
    assert_accessible(donor)

    donor.click("form[action$='/test-payment'] [type=submit]")
    donor.wait_for_load_state()
    assert donor.url.endswith("/thanks")
    assert "Your gift is confirmed" in donor.inner_text("main")
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
