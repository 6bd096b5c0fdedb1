"""The account page: my pages, profile, access tokens, leaving."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from agents import services
from agents.models import AccessToken, Agent
from campaigns.model_types import utcnow
from campaigns.pages.models import Page, PageHost, PageStatus
from tests.factories import PASSWORD, AgentFactory, EventPageFactory, PageFactory


@pytest.fixture
def me(db, login_as):
    agent = AgentFactory(name="Camille Martin", email="camille@example.org")
    db.session.commit()  # a refused request rolls back what it did not commit
    return login_as(agent)


def test_account_needs_login(client, db):
    response = client.get("/me")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]


def test_account_lists_owned_and_cohosted_pages_with_status(client, db, me):
    mine = PageFactory(owner=me, title="Mon défi", slug="mon-defi", status=PageStatus.DRAFT)
    event = EventPageFactory(title="Twestival Lyon", slug="twestival-lyon")
    db.session.add(PageHost(page=event, agent=me))
    hidden = PageFactory(
        owner=me,
        title="Page cachée",
        slug="cachee",
        status=PageStatus.HIDDEN,
        hidden_reason="The photo shows a private address.",
    )
    PageFactory(owner=me, title="Fini", slug="fini", status=PageStatus.CLOSED)
    PageFactory(title="Not mine", slug="not-mine")
    db.session.flush()

    html = client.get("/me").get_data(as_text=True)
    for page in (mine, event, hidden):
        assert f'href="/p/{page.slug}"' in html
        assert f'href="/p/{page.slug}/edit"' in html
    assert "not-mine" not in html
    assert 'href="/p/fini"' in html
    assert 'href="/p/fini/edit"' not in html  # a closed page can no longer change
    assert "Closed" in html
    assert "Draft" in html
    assert "Co-host" in html
    assert "Hidden by the organisers" in html
    assert "The photo shows a private address." in html


def test_profile_edit(client, db, me):
    response = client.post(
        "/me/profile",
        data={"profile-name": "Camille M.", "profile-locale": "en", "profile-bio": "Runner."},
    )
    assert response.status_code == 302
    db.session.refresh(me)
    assert (me.name, me.locale, me.bio) == ("Camille M.", "en", "Runner.")
    assert "Your profile is saved." in client.get("/me").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"profile-name": "  ", "profile-locale": ""}, "Please enter your name."),
        ({"profile-name": "Camille", "profile-locale": "de"}, "Not a valid choice"),
        ({"profile-name": "Camille", "profile-bio": "x" * 501}, "under 500 characters"),
    ],
    ids=["empty-name", "unknown-language", "long-bio"],
)
def test_bad_profile_input_changes_nothing(client, db, me, data, message):
    response = client.post("/me/profile", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html
    db.session.refresh(me)
    assert me.name == "Camille Martin"
    assert me.locale == ""


def test_token_is_shown_once_listed_then_revoked(client, db, me):
    response = client.post("/me/tokens", data={"token-token_name": "deploy bot"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    clear = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', html).group(1)
    assert "it will not be shown again" in html
    assert services.authenticate_token(clear) == me

    token = db.session.scalar(select(AccessToken).where(AccessToken.agent_id == me.id))
    assert token.token_hash != clear  # only the hash is kept
    page = client.get("/me").get_data(as_text=True)
    assert clear not in page
    assert "deploy bot" in page
    assert token.prefix in page

    response = client.post(f"/me/tokens/{token.id}/revoke")
    assert response.status_code == 302
    assert services.authenticate_token(clear) is None
    assert "deploy bot" not in client.get("/me").get_data(as_text=True)


def test_a_token_gets_the_scope_and_expiry_chosen(client, db, me):
    form = client.get("/me").get_data(as_text=True)
    # Read only is chosen unless the agent asks for more.
    assert re.search(r'<input checked [^>]*name="token-scope"[^>]*value="read"', form)
    response = client.post(
        "/me/tokens",
        data={"token-token_name": "site", "token-scope": "write", "token-expires_in": ""},
    )
    assert response.status_code == 201
    response = client.post(
        "/me/tokens",
        data={"token-token_name": "reader", "token-scope": "read", "token-expires_in": "7"},
    )
    assert response.status_code == 201
    site, reader = db.session.scalars(
        select(AccessToken).where(AccessToken.agent_id == me.id).order_by(AccessToken.id)
    ).all()
    assert (site.scope, site.expires_at) == ("write", None)
    assert reader.scope == "read"
    assert timedelta(days=6) < reader.expires_at - utcnow() <= timedelta(days=7)
    page = client.get("/me").get_data(as_text=True)
    assert "Read and write" in page and "Read only" in page
    reader.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert "Expired on" in client.get("/me").get_data(as_text=True)


@pytest.mark.parametrize(
    "data",
    [
        {"token-scope": "admin", "token-expires_in": "30"},
        {"token-scope": "read", "token-expires_in": "10000"},
        {"token-scope": "write", "token-expires_in": "-3"},
    ],
)
def test_a_bad_scope_or_expiry_makes_no_token(client, db, me, data):
    response = client.post("/me/tokens", data={"token-token_name": "x", **data})
    assert response.status_code == 422
    assert "Please check the form" in response.get_data(as_text=True)
    assert db.session.scalar(select(AccessToken).where(AccessToken.agent_id == me.id)) is None


def test_cannot_revoke_someone_elses_token(client, db, me):
    other = AgentFactory()
    token, clear = services.create_token(other, "theirs")
    db.session.commit()
    response = client.post(f"/me/tokens/{token.id}/revoke")
    assert response.status_code == 404
    assert services.authenticate_token(clear) == other


def test_delete_account_needs_confirmation(client, db, me):
    assert client.get("/me/delete").status_code == 200
    response = client.post("/me/delete", data={"password": PASSWORD})  # box not ticked
    assert response.status_code == 422
    assert "Tick the box to confirm." in response.get_data(as_text=True)
    response = client.post("/me/delete", data={"understood": "y", "password": "wrong password"})
    assert response.status_code == 422
    assert "That password is not right" in response.get_data(as_text=True)
    db.session.refresh(me)
    assert me.email == "camille@example.org"
    assert me.deleted_at is None


def test_delete_account_erases_personal_data_and_keeps_pages(client, db, me):
    page = PageFactory(owner=me, slug="mon-defi")
    _token, clear = services.create_token(me, "script")
    response = client.post("/me/delete", data={"understood": "y", "password": PASSWORD})
    assert response.status_code == 302
    assert "Your account is deleted" in client.get("/").get_data(as_text=True)

    db.session.expire_all()
    page = db.session.scalar(select(Page).where(Page.slug == "mon-defi"))
    assert page is not None
    assert page.owner.email is None
    assert page.owner.name == ""
    assert page.owner.deleted_at is not None
    assert db.session.scalar(select(Agent).where(Agent.email == "camille@example.org")) is None
    assert services.authenticate_token(clear) is None
    # Logged out, and the old password opens nothing.
    assert client.get("/me").status_code == 302
    response = client.post(
        "/account/login", data={"email": "camille@example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert client.get("/me").status_code == 302


def test_check_email_page(client, db):
    html = client.get("/account/check-email").get_data(as_text=True)
    assert "We sent you a link" in html
    assert 'href="/account/confirm"' in html


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\t/evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
    ],
)
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/fr", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_language_switch_returns_to_the_page(client):
    response = client.get("/lang/fr", query_string={"next": "/c/some-cause?x=1"})
    assert response.headers["Location"].endswith("/c/some-cause?x=1")
