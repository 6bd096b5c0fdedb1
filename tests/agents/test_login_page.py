"""The login page in the project's voice: one "forgot password" link, and
labels Relais writes, in English and French."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize(
    ("locale", "forgot", "labels"),
    [
        ("en", "Forgot your password", ["Email address", "Your password"]),
        ("fr", "Mot de passe oublié", ["Adresse e-mail", "Votre mot de passe"]),
    ],
)
def test_the_login_page_has_one_forgot_password_link(client, locale, forgot, labels):
    with client.session_transaction() as session:
        session["locale"] = locale
    body = client.get("/account/login").get_data(as_text=True)
    main = body[body.index("<main") :]
    assert len(re.findall(r'href="/account/reset"', main)) == 1
    assert forgot in main
    for label in labels:
        assert re.search(rf"<label[^>]*>{re.escape(label)}</label>", main), label
    assert "Email Address" not in main and "Remember Me" not in main
