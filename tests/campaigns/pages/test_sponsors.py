"""Local sponsors of an event: hosts add them (name, logo, link), staff hide
one, the event page and its share card show the others."""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlalchemy import func, select

from campaigns.audit import AuditEntry
from campaigns.pages.models import Sponsor
from tests.factories import AgentFactory, EventPageFactory, MembershipFactory, PageFactory


def png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (300, 120), (10, 120, 200)).save(out, format="PNG")
    out.seek(0)
    return out


def test_a_host_adds_a_sponsor_shown_on_the_page_and_its_card(client, db, cause, as_agent):
    event = EventPageFactory(cause=cause, slug="lyon-night", title="La nuit de Lyon")
    as_agent(event.owner)
    response = client.post(
        "/p/lyon-night/sponsors",
        data={"name": "Boulangerie Dupont", "url": "dupont.example.fr", "logo": (png(), "l.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    sponsor = db.session.scalars(select(Sponsor)).one()
    assert sponsor.url == "https://dupont.example.fr" and sponsor.logo
    page = client.get("/p/lyon-night").get_data(as_text=True)
    assert "Boulangerie Dupont" in page and 'rel="sponsored noopener"' in page
    assert f"/media/{sponsor.logo}" in page
    description = re.search(r'<meta property="og:description" content="([^"]*)"', page).group(1)
    assert description.endswith("With the support of Boulangerie Dupont.")


def test_bad_sponsors_are_refused_and_nothing_is_saved(client, db, cause, as_agent):
    event = EventPageFactory(cause=cause, slug="lyon-night")
    as_agent(event.owner)
    for data in (
        {"name": "", "url": ""},
        {"name": "X", "url": "javascript:alert(1)"},
        {"name": "X", "url": "https://exa mple.org"},
        {"name": "X", "url": "", "logo": (io.BytesIO(b"not an image"), "l.png")},
    ):
        response = client.post(
            "/p/lyon-night/sponsors", data=data, content_type="multipart/form-data"
        )
        assert response.status_code == 422, data
    assert db.session.scalar(select(func.count(Sponsor.id))) == 0


def test_only_hosts_add_and_only_staff_hide(client, db, cause, as_agent):
    event = EventPageFactory(cause=cause, slug="lyon-night")
    db.session.add(Sponsor(page=event, name="Café Vert", url=""))
    personal = PageFactory(cause=cause, slug="mine")
    staffer = MembershipFactory(organisation=cause.organisation).agent
    db.session.commit()
    sponsor = db.session.scalars(select(Sponsor)).one()

    as_agent(AgentFactory())
    assert client.get("/p/lyon-night/sponsors").status_code == 403
    assert client.post("/p/lyon-night/sponsors", data={"name": "Spam"}).status_code == 403
    as_agent(personal.owner)
    assert client.get("/p/mine/sponsors").status_code == 404  # not an event

    as_agent(event.owner)  # a host cannot hide, only remove
    assert (
        client.post(
            f"/p/lyon-night/sponsors/{sponsor.id}/visibility", data={"hidden": "1"}
        ).status_code
        == 403
    )
    as_agent(staffer)
    assert (
        client.post(
            f"/p/lyon-night/sponsors/{sponsor.id}/visibility", data={"hidden": "1"}
        ).status_code
        == 302
    )
    db.session.refresh(sponsor)
    assert sponsor.is_hidden
    assert "Café Vert" not in client.get("/p/lyon-night").get_data(as_text=True)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "sponsor.hide")).one()
    assert entry.subject_id == sponsor.id

    as_agent(event.owner)
    assert client.post(f"/p/lyon-night/sponsors/{sponsor.id}/remove").status_code == 302
    assert db.session.scalar(select(func.count(Sponsor.id))) == 0
    assert client.post("/p/lyon-night/sponsors/999/remove").status_code == 404
