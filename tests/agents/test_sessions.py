"""Login cookies: HttpOnly and SameSite=Lax always, Secure in production; and
logging out (or changing the password) ends the sessions: a copy of the
session or remember-me cookie taken before no longer logs anyone in."""

from __future__ import annotations

import uuid

import pytest
from flask import g

from app import create_app
from tests.conftest import app_config
from tests.factories import PASSWORD, AgentFactory


def log_in(client, email: str, *, remember: bool = True, **request):
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/account/login", data=data, **request)
    assert response.status_code == 302
    return response


def set_cookies(response) -> dict[str, str]:
    """Each cookie the response sets, by name, with its attributes."""
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_login_cookies_in_development_are_httponly_and_lax_not_secure(client, db):
    agent = AgentFactory()
    db.session.commit()
    cookies = set_cookies(log_in(client, agent.email))
    for name in ("session", "remember_token"):
        assert {"httponly", "samesite=lax"} <= flags(cookies[name]), name
        assert "secure" not in flags(cookies[name]), name


def test_login_cookies_in_production_are_secure_httponly_and_lax(app, monkeypatch, tmp_path):
    monkeypatch.setenv("RELAIS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", uuid.uuid4().hex)
    # The factories' password hash is made once with the tests' salt.
    monkeypatch.setenv("SECURITY_PASSWORD_SALT", app.config["SECURITY_PASSWORD_SALT"])
    monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    config = app_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    del config["SECRET_KEY"], config["SECURITY_PASSWORD_SALT"]
    production = create_app(config)
    assert production.config["RELAIS_ENV"] == "production"
    client = production.test_client()
    with production.app_context():
        from extensions import db

        agent = AgentFactory(email=f"{uuid.uuid4().hex[:8]}@example.org")
        db.session.commit()
        try:
            cookies = set_cookies(log_in(client, agent.email, base_url="https://relais.example"))
        finally:
            db.session.delete(db.session.merge(agent))
            db.session.commit()
            db.engine.dispose()
    for name in ("session", "remember_token"):
        assert {"secure", "httponly", "samesite=lax"} <= flags(cookies[name]), name


def fresh(client, **cookies):
    """The test client as another browser holding only ``cookies``."""
    for name in ("session", "remember_token"):
        client.delete_cookie(name)
    for name, value in cookies.items():
        client.set_cookie(name, value)
    g.pop("_login_user", None)
    return client


def logged_in(client) -> bool:
    return client.get("/me").status_code == 200


@pytest.mark.parametrize("kept", ["session", "remember_token"])
def test_logging_out_ends_a_copied_cookie(client, db, kept):
    agent = AgentFactory()
    db.session.commit()
    log_in(client, agent.email)
    copy = client.get_cookie(kept).value
    assert logged_in(fresh(client, **{kept: copy}))  # the copy works while logged in

    log_in(client, agent.email)
    assert client.post("/account/logout").status_code == 302
    assert not logged_in(client)
    assert not logged_in(fresh(client, **{kept: copy}))

    log_in(client, agent.email)  # and the agent can log in again
    assert logged_in(client)


def test_changing_the_password_ends_the_other_sessions(client, db):
    agent = AgentFactory()
    db.session.commit()
    log_in(client, agent.email, remember=False)
    other_device = client.get_cookie("session").value
    response = client.post(
        "/account/change",
        data={
            "password": PASSWORD,
            "new_password": "a brand new passphrase",
            "new_password_confirm": "a brand new passphrase",
        },
    )
    assert response.status_code == 302
    assert logged_in(client)  # the session that changed it carries on
    assert not logged_in(fresh(client, session=other_device))
