"""Teams and field news in headless Chromium on a phone (real commits and SMTP,
CSRF on, axe on every screen): a captain creates a team, a friend asks to join
and is approved; a donor gives, asks for news on the thank-you page, and
receives the captain's news from the field by email."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from tests.test_browser import (  # noqa: F401 - fixtures
    assert_accessible,
    browser,
    create_page,
    deliver_outbox,
    give_with_test_payment,
    live_app,
    live_server,
    new_context,
    sign_up,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def phone(browser):  # noqa: F811
    return new_context(
        browser,
        viewport=PHONE,
        locale="en-GB",
        extra_http_headers={"Accept-Language": "en"},
    )


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 400), (20, 130, 90)).save(out, format="PNG")
    return out.getvalue()


def test_a_team_takes_a_member_and_its_donors_hear_from_the_field(
    live_app,  # noqa: F811
    live_server,  # noqa: F811
    browser,  # noqa: F811
    smtp_server,
):
    if os.environ.get("STRIPE_SECRET_KEY"):
        pytest.skip("the test payment only exists in the demo (no Stripe key)")
    base, mail = live_server, (live_app, smtp_server)
    captain_context, friend_context, donor_context = phone(browser), phone(browser), phone(browser)
    captain = captain_context.new_page()
    sign_up(captain, base, mail, "Chloé Capitaine", "chloe.team@example.org")
    captain.goto(f"{base}/c/twestival-eau-vive/pages/new")
    captain.check("input[name=kind][value=team]")
    captain.fill("input[name=title]", "Les coureurs de Nantes")
    captain.fill("input[name=goal]", "800")
    captain.fill("input[name=city]", "Nantes")
    captain.click("form.page-form [type=submit]")
    captain.wait_for_load_state()
    captain.click("form[action$='/publish'] [type=submit]")
    captain.wait_for_load_state()
    team_url = captain.url
    assert "Team led by Chloé Capitaine" in captain.inner_text("main")
    assert_accessible(captain)

    friend = friend_context.new_page()
    sign_up(friend, base, mail, "Farid Ami", "farid.team@example.org")
    create_page(friend, base, kind="personal", title="Farid court à Nantes")
    friend.goto(team_url)
    friend.select_option("form[action$='/join'] select[name=page]", label="Farid court à Nantes")
    friend.click("form[action$='/join'] [type=submit]")
    friend.wait_for_load_state()
    assert "once its captain says yes" in friend.inner_text("main")
    assert "Waiting for the captain" in friend.inner_text("main")
    assert_accessible(friend)

    captain.goto(f"{team_url}/members")
    assert "Farid court à Nantes" in captain.inner_text("main")
    assert_accessible(captain)
    captain.click("form[action*='/members/'] button:has-text('Approve')")
    captain.wait_for_load_state()
    assert "is now in the team" in captain.inner_text("main")
    captain.goto(team_url)
    members = captain.inner_text("section[aria-labelledby=members]")
    assert "Pages in this team" in members and "Farid court à Nantes" in members

    # A donor gives to the team and asks for news on the thank-you page.
    donor = donor_context.new_page()
    donor.goto(team_url)
    give_with_test_payment(donor, "25", "Dana Donatrice", "dana.news@example.org")
    donor.check("input[name=is_agreed]")
    donor.click("form[action$='/news'] [type=submit]")
    donor.wait_for_load_state()
    assert "you will get news from the field" in donor.inner_text("main")
    assert donor.is_checked("input[name=is_agreed]")
    assert_accessible(donor)

    # The captain posts news with a photo; the donor receives it.
    captain.goto(team_url)
    captain.click("a:has-text('Post news from the field')")
    captain.wait_for_load_state()
    assert_accessible(captain)
    captain.click("form.stack [type=submit]")  # empty: told what to fix
    captain.wait_for_load_state()
    assert "Give the news a title." in captain.inner_text("main")
    assert_accessible(captain)
    captain.fill("input[name=title]", "Our first 10 km")
    captain.fill("textarea[name=body]", "We ran in the rain. Thank you for the water wells!")
    captain.set_input_files(
        "input[name=photo]", files=[{"name": "run.png", "mimeType": "image/png", "buffer": png()}]
    )
    captain.click("form.stack [type=submit]")
    captain.wait_for_load_state()
    news = captain.inner_text("#field-news")
    assert "Our first 10 km" in news and "We ran in the rain." in news
    assert captain.locator("#field-news img.news-photo").count() == 1
    assert captain.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(captain)

    smtp_server.clear()
    deliver_outbox(live_app)
    received = [
        m
        for m in smtp_server.messages
        if "dana.news@example.org" in m["to"] and "Our first 10 km" in m["message"]["Subject"]
    ]
    assert len(received) == 1  # besides the receipt, the news, once
    message = received[0]["message"]
    assert "/u/a/" in message["List-Unsubscribe"]
    assert "We ran in the rain." in message.get_body(("plain",)).get_content()

    donor.goto(team_url)
    assert "Our first 10 km" in donor.inner_text("#field-news")
    assert_accessible(donor)
    for context in (captain_context, friend_context, donor_context):
        context.close()
