"""Sign-up from "Start a page": no red flash, and after the confirmation email
(or a later login) the newcomer lands on the page form they wanted."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import g

from tests.factories import PASSWORD, AgentFactory

NEW_PAGE = "/c/twestival/pages/new"
SIGN_IN_WALL = "You must sign in to view this resource."


def confirmation_link(mail: dict) -> str:
    """The confirmation link of a received mail, path and query."""
    text = mail["message"].get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+/account/confirm/\S+", text)
    assert match, text
    parts = urlsplit(match.group(0))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-(\w+)">', html)


def start_a_page_and_sign_up(client, email="camille@example.org"):
    """What a newcomer does: "Start a page", the login wall, "Create an account"."""
    wall = client.get(NEW_PAGE)
    assert wall.status_code == 302
    login = client.get(wall.headers["Location"]).get_data(as_text=True)
    register = re.search(r'href="(/account/register\?next=[^"]+)"', login).group(1)
    form = client.get(register.replace("&amp;", "&")).get_data(as_text=True)
    hidden_next = re.search(r'name="next" type="hidden" value="([^"]*)"', form)
    assert hidden_next and hidden_next.group(1) == NEW_PAGE
    return client.post(
        "/account/register",
        data={
            "name": "Camille Martin",
            "email": email,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "next": NEW_PAGE,
        },
    )


def other_browser(app):
    """A second client with no cookie of the first (the phone's mail app),
    starting each request with an empty ``g`` as the ``client`` fixture does."""
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    open_ = other.open

    def open_with_fresh_g(*args, **kwargs):
        for name in list(vars(g)):
            g.pop(name)
        return open_(*args, **kwargs)

    other.open = open_with_fresh_g
    return other


@pytest.fixture
def open_cause(db, cause):
    db.session.commit()
    return cause


def test_sign_up_lands_on_check_email_without_the_sign_in_wall(
    client, open_cause, mailbox, deliver_outbox
):
    response = start_a_page_and_sign_up(client)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account/check-email"

    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert SIGN_IN_WALL not in html
    assert "error" not in flashes(html)
    assert "Check your email" in html
    assert "come straight back to what you were doing" in html

    deliver_outbox()
    link = confirmation_link(mailbox.messages[0])
    assert "next" in parse_qs(urlsplit(link).query)  # signed, not the bare path
    assert NEW_PAGE not in link

    confirmed = client.get(link)
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"] == NEW_PAGE
    form = client.get(NEW_PAGE)
    assert form.status_code == 200
    assert "Start a page for" in form.get_data(as_text=True)


def test_the_link_opened_in_another_browser_goes_there_too(
    app, client, open_cause, mailbox, deliver_outbox
):
    start_a_page_and_sign_up(client)
    deliver_outbox()
    link = confirmation_link(mailbox.messages[0])

    phone_mail_app = other_browser(app)  # no session of the sign-up
    confirmed = phone_mail_app.get(link)
    assert confirmed.headers["Location"] == NEW_PAGE
    assert phone_mail_app.get(NEW_PAGE).status_code == 200


def test_a_tampered_link_confirms_but_goes_to_the_account(
    app, client, open_cause, mailbox, deliver_outbox
):
    start_a_page_and_sign_up(client)
    deliver_outbox()
    path = urlsplit(confirmation_link(mailbox.messages[0])).path
    other = other_browser(app)
    response = other.get(path + "?next=/p/somewhere-else")
    assert urlsplit(response.headers["Location"]).path == "/me"
    assert other.get("/me").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_a_next_to_another_site_is_refused(client, open_cause, mailbox, deliver_outbox, target):
    response = client.post(
        "/account/register",
        data={
            "name": "Sam",
            "email": "sam@example.org",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "next": target,
        },
    )
    assert "evil" not in response.headers.get("Location", "")
    with client.session_transaction() as session:
        assert "after_sign_up" not in session
    deliver_outbox()
    for mail in mailbox.messages:
        assert "next=" not in confirmation_link(mail)


@pytest.mark.parametrize("target", ["/account/logout", "/account/register", ""])
def test_an_account_screen_is_not_remembered(client, open_cause, mailbox, deliver_outbox, target):
    response = client.post(
        "/account/register",
        data={
            "name": "Sam",
            "email": "sam@example.org",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "next": target,
        },
    )
    assert response.status_code in (200, 302)
    assert "evil" not in response.headers.get("Location", "")
    deliver_outbox()
    link = confirmation_link(mailbox.messages[0])
    assert "next=" not in link
    confirmed = client.get(link)
    assert urlsplit(confirmed.headers["Location"]).path == "/me"


def test_logging_in_later_in_the_same_browser_goes_back_there(
    app, client, open_cause, mailbox, deliver_outbox
):
    start_a_page_and_sign_up(client)
    deliver_outbox()
    link = confirmation_link(mailbox.messages[0])
    other_browser(app).get(link)  # confirmed on the phone's mail app

    response = client.post(
        "/account/login", data={"email": "camille@example.org", "password": PASSWORD}
    )
    assert response.headers["Location"] == NEW_PAGE
    # Once there, the next login is an ordinary one.
    client.get("/account/logout")
    again = client.post(
        "/account/login", data={"email": "camille@example.org", "password": PASSWORD}
    )
    assert urlsplit(again.headers["Location"]).path == "/me"


def test_a_login_that_names_its_own_next_keeps_it(client, db, open_cause):
    agent = AgentFactory(email="lou@example.org")
    db.session.commit()
    with client.session_transaction() as session:
        session["after_sign_up"] = NEW_PAGE
    response = client.post(
        "/account/login?next=/c/twestival",
        data={"email": agent.email, "password": PASSWORD},
    )
    assert urlsplit(response.headers["Location"]).path == "/c/twestival"
