"""Staff screens' rough edges: the menu reaches the message templates, the
broadcast form's buttons are the site's, a day still to come draws no chart."""

from __future__ import annotations

import re
from datetime import timedelta

from campaigns.model_types import utcnow
from tests.factories import EventPageFactory

DASHBOARD = "/staff/eau-vive/dashboard/"


def test_the_staff_menu_links_to_the_message_templates(client, as_agent, staffer):
    as_agent(staffer)
    body = client.get("/staff/eau-vive/").get_data(as_text=True)
    nav = body[body.index('class="staff-nav"') :]
    nav = nav[: nav.index("</nav>")]
    assert 'href="/staff/eau-vive/messages/"' in nav and "Message templates" in nav


def test_the_broadcast_form_buttons_use_the_site_classes(client, as_agent, staffer, cause):
    as_agent(staffer)
    body = client.get("/staff/eau-vive/broadcasts/new").get_data(as_text=True)
    main = body[body.index("<main") :]
    buttons = re.findall(r"<button[^>]*>", main)
    assert buttons
    assert all(re.search(r'class="button\b', b) for b in buttons), buttons


def test_a_day_still_to_come_draws_no_empty_hour_chart(db, client, as_agent, staffer, cause):
    coming = utcnow() + timedelta(days=20)
    EventPageFactory(cause=cause, slug="lyon-night", starts_at=coming)
    as_agent(staffer)
    body = client.get(f"{DASHBOARD}?day={coming.date().isoformat()}").get_data(as_text=True)
    assert 'id="gifts-per-hour"' not in body
    assert "The day has not come yet" in body
