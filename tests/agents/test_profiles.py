"""Free agents' public profiles: off until chosen in /me, then their name,
bio, photo, links, public pages, what those raised ("hide my amount"
respected) and badges; never a draft or a hidden page."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from agents import services as agent_services
from agents.models import Profile
from campaigns.giving import ledger
from campaigns.giving.models import PendingGift
from campaigns.pages import services as page_services
from campaigns.pages.models import PageStatus
from tests.factories import AgentFactory, EventPageFactory, PageFactory


def png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (200, 200), (10, 120, 200)).save(out, format="PNG")
    out.seek(0)
    return out


def text(response) -> str:
    return response.get_data(as_text=True)


def save(client, **fields):
    data = {f"public-{k}": v for k, v in fields.items()}
    return client.post("/me/public-profile", data=data, content_type="multipart/form-data")


def gift(page, amount_minor, email, *, hidden=False):
    extra = {}
    if hidden:
        pending = PendingGift(
            reference=f"ref-{email}",
            organisation_id=page.cause.organisation_id,
            cause_id=page.cause_id,
            page_id=page.id,
            amount_minor=amount_minor,
            currency="EUR",
            is_amount_hidden=True,
        )
        ledger.db.session.add(pending)
        ledger.db.session.flush()
        extra["pending_gift_id"] = pending.id
    return ledger.record_gift(
        page=page, cause=page.cause, amount_minor=amount_minor, donor_email=email, extra=extra
    )


@pytest.fixture
def camille(db):
    return AgentFactory(name="Camille Martin", bio="Je cours pour l'eau potable.")


def test_a_profile_is_off_until_the_agent_shows_it(client, db, cause, camille, as_agent):
    PageFactory(cause=cause, owner=camille, slug="camille-runs", title="Camille runs")
    as_agent(camille)
    account = text(client.get("/me"))
    assert "My public profile" in account
    assert 'value="camille-martin"' in account  # a handle is suggested from the name
    assert client.get("/agents/camille-martin").status_code == 404

    response = save(client, handle="camille-martin")  # saved, not shown
    assert response.status_code == 302
    assert client.get("/agents/camille-martin").status_code == 404

    response = save(client, is_public="y", handle="camille-martin", x_url="@camille")
    assert response.status_code == 302
    profile = client.get("/agents/camille-martin")
    assert profile.status_code == 200
    html = text(profile)
    assert "Camille Martin" in html and "Je cours pour l&#39;eau potable." in html
    assert "Camille runs" in html
    assert 'href="https://x.com/camille" rel="nofollow ugc noopener"' in html
    assert '<meta property="og:type" content="profile">' in html
    # The page's byline links to the profile.
    assert 'href="/agents/camille-martin"' in text(client.get("/p/camille-runs"))


def test_only_public_pages_and_what_the_public_may_see(client, db, cause, camille, as_agent, org):
    shown = PageFactory(cause=cause, owner=camille, slug="shown", title="Shown page")
    PageFactory(cause=cause, owner=camille, title="Draft page", status=PageStatus.DRAFT)
    PageFactory(cause=cause, owner=camille, title="Hidden page", status=PageStatus.HIDDEN)
    shy = PageFactory(cause=cause, owner=camille, slug="shy", title="Shy page")
    event = EventPageFactory(cause=cause, owner=camille, slug="night", title="Night")
    member = PageFactory(cause=cause, owner=camille, title="Member page")
    page_services.join_event(camille, member, event)
    db.session.add(Profile(agent_id=camille.id, handle="camille", is_public=True))
    gift(shown, 40_00, "a@example.org")
    gift(shown, 10_00, "b@example.org")
    gift(shy, 777_00, "secret@example.org", hidden=True)  # its one donor hid the amount
    gift(member, 30_00, "c@example.org")  # counts in the event's figure too
    org.hidden_gift_total = "hidden"
    db.session.commit()

    html = text(client.get("/agents/camille"))
    assert "Shown page" in html and "Shy page" in html and "Night" in html
    assert "Draft page" not in html and "Hidden page" not in html
    assert "€777" not in html and "Amount not shown yet" in html
    # 50 (shown) + 30 (the event, with its member page) — the member page is not counted twice.
    assert "€80" in re.search(r'class="profile-raised">(.*?)</p>', html, re.S).group(1)
    badges = re.findall(r'data-badge="([a-z_0-9]+)"', html)
    assert "first_gift" in badges and "team_player" in badges and "event_host" in badges
    assert "goal_100" not in badges  # only the shy page reached its goal: that would tell

    org.hidden_gift_total = "rounded"
    db.session.commit()
    html = text(client.get("/agents/camille"))
    assert "€800" in html  # rounded, as the page itself shows it
    assert "€880" in html  # 50 + 800 + 30
    assert "goal_100" in re.findall(r'data-badge="([a-z_0-9]+)"', html)


def test_bad_profile_input_is_explained_and_saves_nothing(client, db, camille, as_agent):
    as_agent(camille)
    other = AgentFactory()
    db.session.add(Profile(agent_id=other.id, handle="taken", is_public=True))
    db.session.commit()
    for fields, message in (
        ({"handle": "Bad Handle!"}, "Use lower-case letters, digits and dashes only"),
        ({"handle": "taken"}, "This address is already taken."),
        ({"handle": "staff"}, "This address is reserved."),
        ({"website_url": "javascript:alert(1)"}, "Enter a web address"),
        ({"x_url": "https://facebook.com/camille"}, "Enter your X address"),
        ({"facebook_url": "https://evil.example/fb"}, "Enter a Facebook address"),
    ):
        response = save(client, is_public="y", **fields)
        assert response.status_code == 422, fields
        assert message in text(response), fields
    assert db.session.scalar(select(Profile).where(Profile.agent_id == camille.id)) is None


def test_a_photo_is_checked_like_a_page_photo(client, db, camille, as_agent):
    as_agent(camille)
    refused = save(client, is_public="y", handle="cam", photo=(io.BytesIO(b"nope"), "x.png"))
    assert refused.status_code == 422
    assert save(client, is_public="y", handle="cam", photo=(png(), "me.png")).status_code == 302
    profile = db.session.get(Profile, camille.id)
    assert profile.photo and profile.photo.endswith(".jpg")
    assert f"/media/{profile.photo}" in text(client.get("/agents/cam"))
    assert save(client, is_public="y", handle="cam", remove_photo="y").status_code == 302
    db.session.expire_all()
    assert db.session.get(Profile, camille.id).photo is None


def test_the_address_is_case_insensitive_and_leaving_removes_the_profile(
    client, db, camille, as_agent
):
    db.session.add(Profile(agent_id=camille.id, handle="camille", is_public=True))
    db.session.commit()
    moved = client.get("/agents/Camille")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/agents/camille")
    agent_services.delete_account(camille)
    db.session.commit()
    assert client.get("/agents/camille").status_code == 404
    assert db.session.get(Profile, camille.id) is None
