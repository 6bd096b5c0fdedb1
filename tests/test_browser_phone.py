"""A newcomer's path on a phone (390×844, headless Chromium, real commits and
SMTP, CSRF on, axe on every screen): "Start a page", sign up, confirm from
the mail and land on the page form; publish, get a first gift and its badge,
show a public profile."""

from __future__ import annotations

import os
import re

import pytest

from tests.test_browser import (  # noqa: F401 - fixtures
    assert_accessible,
    browser,
    confirmation_link,
    give_with_test_payment,
    live_app,
    live_server,
    new_context,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_a_newcomer_signs_up_from_start_a_page_on_a_phone(
    live_app,  # noqa: F811
    live_server,  # noqa: F811
    browser,  # noqa: F811
    smtp_server,
):
    if os.environ.get("STRIPE_SECRET_KEY"):
        pytest.skip("the test payment only exists in the demo (no Stripe key)")
    from playwright.sync_api import expect

    base = live_server
    context = new_context(browser, viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(f"{base}/c/twestival-eau-vive")
        phone.click("a.button[href$='/pages/new']")
        phone.wait_for_load_state()
        assert "/account/login" in phone.url  # an account comes first
        assert_accessible(phone)
        no_sideways_scroll(phone)
        phone.click("a[href*='/account/register?next=']")
        phone.wait_for_load_state()
        assert_accessible(phone)
        no_sideways_scroll(phone)

        phone.fill("input[name=name]", "Nina Nouvelle")
        phone.fill("input[name=email]", "nina@exemple.fr")
        phone.fill("input[name=password]", "un mot de passe solide")
        phone.fill("input[name=password_confirm]", "un mot de passe solide")
        phone.click("form[name=register_user_form] [type=submit]")
        phone.wait_for_load_state()
        assert phone.url.endswith("/account/check-email")
        expect(phone.locator(".flash-error")).to_have_count(0)  # no "You must sign in"
        assert "come straight back to what you were doing" in phone.inner_text("main")
        assert_accessible(phone)
        no_sideways_scroll(phone)

        # The link read from the mail, opened on the phone: back on the page form.
        phone.goto(confirmation_link(live_app, smtp_server, "nina@exemple.fr"))
        phone.wait_for_load_state()
        assert phone.url.endswith("/c/twestival-eau-vive/pages/new"), phone.url
        expect(phone.locator("h1")).to_contain_text("Start a page for")
        assert_accessible(phone)
        no_sideways_scroll(phone)

        phone.check("input[name=kind][value=personal]")
        phone.fill("input[name=title]", "Nina nage pour l'eau")
        phone.fill("input[name=goal]", "100")
        phone.click("form.page-form [type=submit]")
        phone.wait_for_load_state()
        phone.click("form[action$='/publish'] [type=submit]")
        phone.wait_for_load_state()
        page_url = phone.url
        assert "/p/" in page_url

        give_with_test_payment(phone, "25", "Paul Parrain", "paul@exemple.fr")
        phone.goto(page_url)
        badges = phone.locator("[data-badge]")
        assert badges.evaluate_all("bs => bs.map(b => b.dataset.badge)") == [
            "first_gift",
            "goal_25",
        ]
        expect(phone.locator(".achievements")).to_contain_text("First gift")
        assert_accessible(phone)
        no_sideways_scroll(phone)

        phone.goto(f"{base}/me#public-profile")
        phone.check("input[name=public-is_public]")
        phone.fill("input[name=public-handle]", "nina-nage")
        phone.fill("input[name=public-x_url]", "@nina")
        phone.click("form[action$='/me/public-profile'] [type=submit]")
        phone.wait_for_load_state()
        assert "Your public profile is saved and shown." in phone.inner_text("main")
        assert_accessible(phone)
        no_sideways_scroll(phone)

        phone.goto(page_url)
        phone.click("p.byline a[href='/agents/nina-nage']")
        phone.wait_for_load_state()
        main = phone.inner_text("main")
        assert "Nina Nouvelle" in main and "Nina nage pour l'eau" in main
        assert re.search(r"€25(\.00)?\s+raised on 1 page", main), main
        expect(phone.locator("[data-badge=first_gift]")).to_have_count(1)
        assert_accessible(phone)
        no_sideways_scroll(phone)
    finally:
        context.close()


def test_the_staff_dashboard_folds_on_a_phone(live_server, browser):  # noqa: F811
    """Summary first; a link of "at a glance" opens the part it points at. The
    directory of free agents and the badge settings fit a phone too."""
    from playwright.sync_api import expect

    from campaigns.badges.catalogue import CATALOGUE
    from campaigns.demo import seed as demo
    from tests.test_browser import log_in

    context = new_context(browser, viewport=PHONE, locale="en-GB")
    try:
        staff = context.new_page()
        log_in(staff, live_server, demo.STAFF_EMAIL, demo.DEMO_PASSWORD)
        staff.goto(f"{live_server}/staff/{demo.DEMO_ORG_SLUG}/dashboard/")
        no_sideways_scroll(staff)
        assert_accessible(staff)
        events = staff.locator("#section-events")
        expect(events).not_to_have_attribute("open", "")
        assert not staff.locator("#event-totals").is_visible()
        staff.click(".dashboard-toc a[href='#events-title']")
        expect(events).to_have_attribute("open", "")
        expect(staff.locator("#event-totals")).to_be_visible()
        assert_accessible(staff)
        no_sideways_scroll(staff)

        # The staff's other new screens: the free agents' directory and the badges.
        staff.goto(f"{live_server}/staff/{demo.DEMO_ORG_SLUG}/agents?city=lyon")
        assert staff.locator("#agent-directory tbody tr").count() >= 1
        assert_accessible(staff)
        no_sideways_scroll(staff)
        staff.goto(f"{live_server}/staff/{demo.DEMO_ORG_SLUG}/badges/")
        assert staff.locator("input[name=enabled]:checked").count() == len(CATALOGUE)
        assert_accessible(staff)
        no_sideways_scroll(staff)
    finally:
        context.close()


def first_screen(page, selector: str) -> None:
    """``selector`` is visible without scrolling, on the phone's first screen."""
    from playwright.sync_api import expect

    found = page.locator(selector).first
    expect(found).to_be_visible()
    box = found.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], (page.url, box)


@pytest.mark.slow
def test_every_page_family_fits_a_phone_and_gives_in_the_first_screen(
    live_app,  # noqa: F811
    live_server,  # noqa: F811
    browser,  # noqa: F811
    smtp_server,
):
    """At 390×844: the Give button on the first screen of a personal page, an
    event, a team and the cause; no public or staff family scrolls sideways;
    axe at 0 everywhere; the thank-you page's share links point at the page."""
    if os.environ.get("STRIPE_SECRET_KEY"):
        pytest.skip("the test payment only exists in the demo (no Stripe key)")
    from sqlalchemy import select

    from campaigns.demo import seed as demo
    from campaigns.organisations.models import Project
    from campaigns.pages.models import Page, PageKind, PageStatus
    from extensions import db
    from tests.test_browser import create_page, log_in

    base = live_server
    with live_app.app_context():
        published = select(Page.slug).where(Page.status == PageStatus.PUBLISHED)
        event = db.session.scalar(published.where(Page.kind == PageKind.EVENT).order_by(Page.id))
        personal = db.session.scalar(
            published.where(Page.kind == PageKind.PERSONAL).order_by(Page.id)
        )
        project = db.session.scalar(select(Project.slug).order_by(Project.id))
        db.session.remove()

    context = new_context(browser, viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    try:
        agent = context.new_page()
        log_in(agent, base, demo.AGENT_EMAIL, demo.DEMO_PASSWORD)
        team = create_page(agent, base, kind="team", title="Les Porteurs d'eau", city="Lyon")
        assert "/p/" in team
    finally:
        context.close()

    context = new_context(browser, viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        cause = f"{base}/c/{demo.DEMO_CAUSE_SLUG}"
        for url in (f"{base}/p/{personal}", f"{base}/p/{event}", team):
            phone.goto(url)
            first_screen(phone, ".give-strip a[href='#give']")
            no_sideways_scroll(phone)
            assert_accessible(phone)
        phone.goto(cause)
        first_screen(phone, "a[data-give]")
        no_sideways_scroll(phone)
        assert_accessible(phone)
        phone.click("a[data-give]")
        phone.wait_for_load_state()
        # The cause's own give form, and a fundraiser's page one link away.
        assert phone.locator("main form.give-form").count() == 1
        assert phone.locator("main a[href^='/search?cause=']").count() >= 1
        no_sideways_scroll(phone)
        assert_accessible(phone)
        for path in (
            "/",
            f"/c/{demo.DEMO_CAUSE_SLUG}/leaderboard",
            f"/c/{demo.DEMO_CAUSE_SLUG}/projects/{project}",
            "/search?q=lyon",
            "/open/",
            "/my-gifts",
            "/account/login",
            "/account/register",
        ):
            phone.goto(f"{base}{path}")
            assert phone.locator("h1").count() == 1, path
            no_sideways_scroll(phone)
            assert_accessible(phone)

        # Give on the phone; the thank-you page shares the page it gave to.
        phone.goto(f"{base}/p/{personal}")
        phone.click(".give-strip a[href='#give']")
        give_with_test_payment(phone, "10", "Théo Téléphone", "theo@exemple.fr", "")
        no_sideways_scroll(phone)
        assert_accessible(phone)
        shares = phone.locator("section.share a[href^='https://']")
        assert shares.count() >= 4
        for n in range(shares.count()):
            assert personal in shares.nth(n).get_attribute("href")
    finally:
        context.close()

    context = new_context(browser, viewport=PHONE, locale="en-GB")
    try:
        staff = context.new_page()
        log_in(staff, base, demo.STAFF_EMAIL, demo.DEMO_PASSWORD)
        staff.goto(f"{base}/staff/{demo.DEMO_ORG_SLUG}/pages")
        # Every screen of the staff menu, as an admin sees it.
        menu = staff.locator("nav.staff-nav a").evaluate_all("links => links.map(a => a.href)")
        assert len(menu) >= 12
        for url in menu:
            assert staff.goto(url).ok, url
            no_sideways_scroll(staff)
            assert_accessible(staff)
    finally:
        context.close()
