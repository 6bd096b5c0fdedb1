"""Signed-in viewers get a kept copy of a page's body with their own menu and
CSRF token, and never a body meant for a viewer who can do more on the page."""

import re

import pytest
from flask import g

from campaigns import page_cache
from campaigns.organisations.models import CauseStatus
from tests.factories import AgentFactory, CauseFactory, MembershipFactory

TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def cached(app):
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 60
    page_cache.clear()
    yield
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0
    page_cache.clear()


def view(client, login_as, agent, path, **kwargs):
    login_as(agent)
    g.pop("_login_user", None)
    return client.get(path, **kwargs)


def test_a_second_viewer_gets_the_kept_body_with_their_own_menu_and_token(
    app, db, client, cached, login_as, page, org
):
    zoe = AgentFactory(name="Zoé")
    marc = MembershipFactory(organisation=CauseFactory().organisation).agent  # staff elsewhere
    db.session.commit()
    first = view(client, login_as, zoe, f"/p/{page.slug}")
    assert first.status_code == 200 and "X-Relais-Cache" not in first.headers
    client.delete_cookie("session")
    second = view(client, login_as, marc, f"/p/{page.slug}")
    assert second.headers["X-Relais-Cache"] == "hit-signed-in"
    assert b'href="/staff/"' in second.data and b'href="/staff/"' not in first.data
    assert b"\x00" not in second.data
    mine, theirs = TOKEN.findall(first.data), TOKEN.findall(second.data)
    assert mine and theirs and set(mine).isdisjoint(theirs)
    # The kept body is the page's: its title, its give form.
    assert page.title.encode() in second.data and b'action="/p/lyon-runs/give' in second.data


def test_the_menu_made_once_per_language_and_staff_standing_is_each_viewers(
    app, db, client, cached, login_as, page
):
    """The menu of kept pages is made once for staff and once for the others, per
    language: each viewer still gets their own link set and their own token."""
    staff = [MembershipFactory(organisation=CauseFactory().organisation).agent for _ in range(2)]
    others = [AgentFactory(locale="en"), AgentFactory(locale="en")]
    db.session.commit()
    view(client, login_as, others[0], f"/p/{page.slug}")  # rendered: kept from now on
    tokens = set()
    for viewer in (staff[0], others[1], staff[1], others[0]):
        client.delete_cookie("session")
        seen = view(client, login_as, viewer, f"/p/{page.slug}")
        assert seen.headers["X-Relais-Cache"] == "hit-signed-in"
        assert (b'href="/staff/"' in seen.data) == (viewer in staff), viewer.name
        assert b"Log out" in seen.data and b"\x00" not in seen.data
        (token,) = set(TOKEN.findall(seen.data))
        tokens.add(token)
    assert len(tokens) == 4
    client.delete_cookie("session")
    french = view(client, login_as, AgentFactory(locale="fr"), f"/p/{page.slug}")
    assert "Se déconnecter".encode() in french.data and b"Log out" not in french.data


def test_the_token_in_a_kept_copy_is_valid_for_the_viewers_session(
    app, db, client, cached, login_as, page
):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        zoe, marc = AgentFactory(), AgentFactory()
        db.session.commit()
        view(client, login_as, zoe, f"/p/{page.slug}")
        client.delete_cookie("session")
        again = view(client, login_as, marc, f"/p/{page.slug}")
        assert again.headers["X-Relais-Cache"] == "hit-signed-in"
        token = TOKEN.search(again.data).group(1).decode()
        refused = client.post("/account/logout", data={"csrf_token": "forged"})
        assert refused.status_code == 400
        assert client.post("/account/logout", data={"csrf_token": token}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_the_owners_copy_is_never_shown_to_another_viewer(app, db, client, cached, login_as, page):
    stranger = AgentFactory()
    db.session.commit()
    owners = view(client, login_as, page.owner, f"/p/{page.slug}")
    assert b"/p/lyon-runs/edit" in owners.data
    assert view(client, login_as, page.owner, f"/p/{page.slug}").headers["X-Relais-Cache"] == (
        "hit-signed-in"
    )
    client.delete_cookie("session")
    strangers = view(client, login_as, stranger, f"/p/{page.slug}")
    assert "X-Relais-Cache" not in strangers.headers
    assert b"/p/lyon-runs/edit" not in strangers.data


def test_staff_of_the_organisation_are_not_served_the_public_copy(
    app, db, client, cached, login_as, page, staffer
):
    stranger = AgentFactory()
    db.session.commit()
    view(client, login_as, stranger, f"/p/{page.slug}")
    client.delete_cookie("session")
    staff_view = view(client, login_as, staffer, f"/p/{page.slug}")
    assert "X-Relais-Cache" not in staff_view.headers
    assert b"/news/new" in staff_view.data or b"Post news" in staff_view.data


def test_the_owner_sees_their_change_at_once(app, db, client, cached, login_as, page):
    view(client, login_as, page.owner, f"/p/{page.slug}")
    form = {"title": "Lyon court encore", "slug": page.slug, "goal": "500", "story": "Encore"}
    saved = client.post(f"/p/{page.slug}/edit", data=form)
    assert saved.status_code == 302
    shown = client.get(f"/p/{page.slug}")
    assert "Lyon court encore" in shown.get_data(as_text=True)
    assert "X-Relais-Cache" not in shown.headers  # rendered again after the change
    client.get(f"/p/{page.slug}")  # kept (the one before showed a flashed message)
    later = client.get(f"/p/{page.slug}")
    assert later.headers["X-Relais-Cache"] == "hit-signed-in"
    assert "Lyon court encore" in later.get_data(as_text=True)


def test_a_copy_made_before_the_viewers_own_post_is_not_shown_to_them(
    app, db, client, cached, login_as, page
):
    zoe = AgentFactory()
    db.session.commit()
    view(client, login_as, zoe, f"/p/{page.slug}")
    assert client.get(f"/p/{page.slug}").headers["X-Relais-Cache"] == "hit-signed-in"
    saved = client.post(
        "/me/profile", data={"profile-name": "Zoé", "profile-locale": "", "profile-bio": ""}
    )
    assert saved.status_code == 302  # any POST that went through
    fresh = client.get(f"/p/{page.slug}")
    assert "X-Relais-Cache" not in fresh.headers


def test_a_flashed_message_is_always_rendered(app, db, client, cached, login_as, page):
    zoe = AgentFactory()
    db.session.commit()
    view(client, login_as, zoe, f"/p/{page.slug}")
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Merci Zoé")]
    flashed = client.get(f"/p/{page.slug}")
    assert "X-Relais-Cache" not in flashed.headers and "Merci Zoé" in flashed.get_data(as_text=True)
    assert "Merci Zoé" not in client.get(f"/p/{page.slug}").get_data(as_text=True)


def test_a_draft_cause_kept_for_staff_is_still_refused_to_others(
    app, db, client, cached, login_as, org, staffer
):
    draft = CauseFactory(organisation=org, status=CauseStatus.DRAFT)
    stranger = AgentFactory()
    db.session.commit()
    for path in (f"/c/{draft.slug}", f"/c/{draft.slug}/leaderboard"):
        assert view(client, login_as, staffer, path).status_code == 200
        assert client.get(path).headers["X-Relais-Cache"] == "hit-signed-in"
        client.delete_cookie("session")
        assert view(client, login_as, stranger, path).status_code == 404
        client.delete_cookie("session")


def test_signed_in_viewers_of_a_cause_share_one_copy(app, db, client, cached, login_as, cause):
    zoe, marc = AgentFactory(), AgentFactory()
    db.session.commit()
    view(client, login_as, zoe, f"/c/{cause.slug}")
    client.delete_cookie("session")
    again = view(client, login_as, marc, f"/c/{cause.slug}")
    assert again.headers["X-Relais-Cache"] == "hit-signed-in"
    assert again.headers.get("Vary") and "Cookie" in again.headers["Vary"]


def test_nothing_is_kept_when_the_cache_is_off(app, db, client, login_as, page):
    zoe = AgentFactory()
    db.session.commit()
    view(client, login_as, zoe, f"/p/{page.slug}")
    assert "X-Relais-Cache" not in client.get(f"/p/{page.slug}").headers
