"""Sign-up, email confirmation, login, logout, password reset, and their defences."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from agents.models import Agent
from extensions import limiter
from tests.conftest import make_migrated_app
from tests.factories import PASSWORD, AgentFactory

NEW_PASSWORD = "a brand new passphrase"


def agent_count(db) -> int:
    return db.session.scalar(select(func.count(Agent.id)))


def agent_by_email(db, email: str) -> Agent | None:
    db.session.expire_all()
    return db.session.scalar(select(Agent).where(Agent.email == email))


def link_in(mail: dict, path_prefix: str) -> str:
    """The path of the first link under ``path_prefix`` in a received mail's text part."""
    text = mail["message"].get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+" + re.escape(path_prefix) + r"\S+", text)
    assert match, f"no {path_prefix} link in:\n{text}"
    return urlsplit(match.group(0)).path


def sign_up(client, **overrides):
    data = {
        "name": "Camille Martin",
        "email": "camille@example.org",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        **overrides,
    }
    return client.post("/account/register", data=data)


def log_in(client, email, password):
    return client.post("/account/login", data={"email": email, "password": password})


def test_sign_up_sends_a_confirmation_link_that_confirms_and_logs_in(
    client, db, mailbox, deliver_outbox
):
    response = sign_up(client)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/account/check-email"

    agent = agent_by_email(db, "camille@example.org")
    assert agent.name == "Camille Martin"
    assert agent.confirmed_at is None
    assert agent.password.startswith("$argon2")
    assert client.get("/me").status_code in (302, 401)

    page = client.get("/account/check-email")
    assert "We sent you a link" in page.get_data(as_text=True)

    assert mailbox.messages == []  # an outbox row of the sign-up: a worker sends it
    assert deliver_outbox() == {"sent": 1}
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["to"] == ["camille@example.org"]
    response = client.get(link_in(mail, "/account/confirm/"))
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/me"

    assert agent_by_email(db, "camille@example.org").confirmed_at is not None
    account = client.get("/me")
    assert account.status_code == 200
    assert "Camille Martin" in account.get_data(as_text=True)


def test_unconfirmed_agent_cannot_log_in_and_can_ask_for_a_new_link(
    client, db, mailbox, deliver_outbox
):
    sign_up(client)
    deliver_outbox()
    mailbox.clear()

    response = log_in(client, "camille@example.org", PASSWORD)
    assert response.status_code == 200
    assert "requires confirmation" in response.get_data(as_text=True)
    assert client.get("/me").status_code != 200

    response = client.post("/account/confirm", data={"email": "camille@example.org"})
    assert response.status_code in (200, 302)
    # Flask-Security commits nothing after this view: the queued mail must still be kept.
    assert deliver_outbox() == {"sent": 1}
    assert [m["to"] for m in mailbox.messages] == [["camille@example.org"]]
    client.get(link_in(mailbox.messages[0], "/account/confirm/"))
    assert agent_by_email(db, "camille@example.org").confirmed_at is not None


def test_log_in_and_log_out(client, db):
    agent = AgentFactory()
    response = log_in(client, agent.email, PASSWORD)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/me"
    assert client.get("/me").status_code == 200

    response = client.post("/account/logout")
    assert response.status_code == 302
    assert client.get("/me").status_code != 200


def test_wrong_password_is_refused_with_a_message(client, db):
    agent = AgentFactory()
    response = log_in(client, agent.email, "not the password")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # One message for the form, not on a field: it must not tell which was wrong.
    assert "Please check the form" in html
    assert "Authentication failed - identity or password/passcode invalid" in html
    assert 'aria-invalid="true"' not in html
    assert client.get("/me").status_code != 200


def test_forgotten_password_reset_by_email(client, db, mailbox, deliver_outbox):
    agent = AgentFactory()
    response = client.post("/account/reset", data={"email": agent.email})
    assert response.status_code in (200, 302)
    assert deliver_outbox() == {"sent": 1}
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["to"] == [agent.email]
    path = link_in(mailbox.messages[0], "/account/reset/")

    form = client.get(path)
    assert form.status_code == 200
    assert "Choose a new password" in form.get_data(as_text=True)
    response = client.post(path, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 302
    client.post("/account/logout")

    assert log_in(client, agent.email, PASSWORD).status_code == 200  # refused, form again
    assert client.get("/me").status_code != 200
    assert log_in(client, agent.email, NEW_PASSWORD).status_code == 302
    assert client.get("/me").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "not-an-email"}, "Invalid email address"),
        ({"password": "short", "password_confirm": "short"}, "at least 8 characters"),
        ({"password_confirm": "something else entirely"}, "Passwords do not match"),
        ({"name": "   "}, "Please enter your name."),
    ],
    ids=["invalid-email", "short-password", "mismatch", "empty-name"],
)
def test_bad_sign_up_input_is_explained_and_creates_nothing(
    client, db, mailbox, deliver_outbox, overrides, message
):
    AgentFactory(email="taken@example.org")
    before = agent_count(db)
    response = sign_up(client, **overrides)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html
    assert agent_count(db) == before
    deliver_outbox()
    assert mailbox.messages == []


def test_sign_up_form_is_accessible(client, db):
    html = client.get("/account/register").get_data(as_text=True)
    for field, autocomplete in [
        ("name", "name"),
        ("email", "email"),
        ("password", "new-password"),
        ("password_confirm", "new-password"),
    ]:
        assert f'<label for="{field}">' in html
        assert re.search(rf'<input[^>]*autocomplete="{autocomplete}"[^>]*id="{field}"', html)
    assert 'aria-describedby="password-hint"' in html

    html = sign_up(client, email="nope").get_data(as_text=True)
    assert re.search(r'aria-describedby="email-error"[^>]*aria-invalid="true"', html) or re.search(
        r'aria-invalid="true"[^>]*aria-describedby="email-error"', html
    )
    assert 'id="email-error"' in html


# --- defences that need their own app ---------------------------------------


@pytest.fixture
def own_app(tmp_path):
    """Build an app with its own settings (SQLite); restore the shared limiter after."""
    enabled = limiter.enabled

    def build(**config):
        return make_migrated_app("sqlite", tmp_path, f"own-{uuid.uuid4().hex[:8]}", **config)

    yield build
    limiter.enabled = enabled


def test_login_and_sign_up_are_rate_limited(own_app, app, db):
    # In-memory counters: a shared Redis would carry them over from the previous run.
    limited = own_app(
        RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute", RATELIMIT_STORAGE_URI="memory://"
    )
    client = limited.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    for _ in range(3):
        response = client.post("/account/login", data={"email": "x@example.org", "password": "x"})
        assert response.status_code == 200
    response = client.post("/account/login", data={"email": "x@example.org", "password": "x"})
    assert response.status_code == 429
    assert "Too many attempts. Please wait a minute" in response.get_data(as_text=True)
    assert client.get("/account/login").status_code == 200  # reading the form is not limited

    for _ in range(3):
        client.post("/account/register", data={"email": "bad"})
    assert client.post("/account/register", data={"email": "bad"}).status_code == 429

    # The shared test app (RATELIMIT_ENABLED=False) is not limited by the other app's settings.
    shared = app.test_client()
    for _ in range(5):
        response = shared.post("/account/login", data={"email": "x@example.org", "password": "x"})
        assert response.status_code == 200


def test_posts_without_csrf_token_are_refused(own_app):
    protected = own_app(WTF_CSRF_ENABLED=True)
    client = protected.test_client()
    data = {
        "name": "Camille",
        "email": "camille@example.org",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    assert client.post("/account/register", data=data).status_code == 400
    assert (
        client.post("/account/login", data={"email": "a@b.org", "password": "x"}).status_code == 400
    )
    with protected.app_context():
        from extensions import db

        assert db.session.scalar(select(func.count(Agent.id))) == 0

    # The same sign-up with the form's token goes through.
    form = client.get("/account/register").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    assert client.post("/account/register", data={**data, "csrf_token": token}).status_code == 302
    with protected.app_context():
        assert db.session.scalar(select(func.count(Agent.id))) == 1


@pytest.mark.parametrize("language", ["en", "fr"])
def test_account_pages_use_the_site_layout(client, db, login_as, language):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    for path in ("/account/login", "/account/register", "/account/reset", "/account/confirm"):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert 'class="skip-link"' in html, path
        assert "<form" in html and 'method="post"' in html, path
    login_as(AgentFactory())
    for path in ("/account/change", "/account/verify", "/me", "/me/delete"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert 'class="skip-link"' in response.get_data(as_text=True), path


def test_change_password_from_the_account(client, db, mailbox, deliver_outbox):
    agent = AgentFactory()
    log_in(client, agent.email, PASSWORD)
    assert 'href="/account/change"' in client.get("/me").get_data(as_text=True)
    response = client.post(
        "/account/change",
        data={
            "password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    deliver_outbox()
    assert [m["to"] for m in mailbox.messages] == [[agent.email]]  # "your password changed"
    client.post("/account/logout")
    assert log_in(client, agent.email, PASSWORD).status_code == 200
    assert log_in(client, agent.email, NEW_PASSWORD).status_code == 302
