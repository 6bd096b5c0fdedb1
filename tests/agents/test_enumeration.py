"""Login, sign-up, password reset and resend-confirmation answer the same way
whether or not an address has an account (forms and JSON); signing up with a
taken address mails its owner instead of saying so."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from agents.models import Agent
from tests.factories import PASSWORD, AgentFactory

KNOWN = "known@example.org"
WAITING = "waiting@example.org"  # signed up, not confirmed yet
UNKNOWN = "nobody@example.org"


@pytest.fixture
def accounts(db):
    AgentFactory(email=KNOWN)
    AgentFactory(email=WAITING, confirmed_at=None)
    db.session.commit()


def answer(response, email: str) -> tuple:
    """What a visitor can read off a response, the address they typed aside."""
    body = response.get_data(as_text=True).replace(email, "EMAIL")
    # CSRF tokens carry the second they were made: the same for everyone.
    body = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", body)
    body = re.sub(r'"csrf_token": ?"[^"]*"', "", body)
    return response.status_code, response.headers.get("Location"), body


FORMS = [
    ("/account/login", {"password": "not the password"}),
    ("/account/register", {"name": "Camille", "password": PASSWORD, "password_confirm": PASSWORD}),
    ("/account/reset", {}),
    ("/account/confirm", {}),
]


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
@pytest.mark.parametrize(("path", "fields"), FORMS, ids=[f"{p}:{sorted(f)}" for p, f in FORMS])
def test_each_form_answers_alike_for_known_and_unknown_addresses(
    client, db, accounts, mailbox, path, fields, as_json
):
    answers = {}
    for email in (KNOWN, WAITING, UNKNOWN):
        data = {"email": email, **fields}
        if path == "/account/register" and email == UNKNOWN:
            # A new address makes an account: compare with a second unknown one too.
            client.post(path, json=data) if as_json else client.post(path, data=data)
            data["email"] = email = "nobody2@example.org"
        response = client.post(path, json=data) if as_json else client.post(path, data=data)
        answers[email] = answer(response, email)
        assert response.status_code < 500
    first, *others = answers.values()
    for other in others:
        assert other == first


def test_a_taken_address_at_sign_up_mails_its_owner_and_makes_nothing(
    client, db, accounts, mailbox, deliver_outbox
):
    before = db.session.scalar(select(func.count(Agent.id)))
    response = client.post(
        "/account/register",
        data={
            "name": "Someone",
            "email": KNOWN,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/check-email")
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Agent.id))) == before
    assert deliver_outbox() == {"sent": 1}
    assert [m["to"] for m in mailbox.messages] == [[KNOWN]]
    text = mailbox.messages[0]["message"].get_body(preferencelist=("plain",)).get_content()
    assert "already has one" in text
    assert "/account/reset/" in text  # a way back in for the real owner


def test_the_owner_who_knows_the_password_learns_it_awaits_confirmation(client, db, accounts):
    response = client.post("/account/login", data={"email": WAITING, "password": PASSWORD})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "requires confirmation" in html
    assert "Authentication failed" not in html
    assert client.get("/me").status_code != 200
