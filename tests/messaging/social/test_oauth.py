""" "Connect X" and "Connect a Facebook Page" as OAuth flows on the platform's
app credentials. X's and Facebook's HTTP endpoints are intercepted with
`responses`, so Authlib, tweepy and facebook-sdk run for real."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import select

from messaging.outbox.delivery import Outcome, deliver
from messaging.outbox.leases import claim
from messaging.outbox.models import OutboxMessage
from messaging.outbox.queue import enqueue
from messaging.social import oauth
from messaging.social.crypto import decrypt_credentials, encrypt_credentials
from messaging.social.models import SocialAccount
from tests.factories import AgentFactory, OrganisationFactory

TWEETS = "https://api.twitter.com/2/tweets"
GRAPH = oauth.FACEBOOK_GRAPH


@pytest.fixture
def apps(app, monkeypatch):
    for key, value in {
        "X_CLIENT_ID": "x-client",
        "X_CLIENT_SECRET": "x-secret",
        "FACEBOOK_APP_ID": "fb-app",
        "FACEBOOK_APP_SECRET": "fb-secret",
    }.items():
        monkeypatch.setitem(app.config, key, value)


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def account(agent_id: int, provider: str) -> SocialAccount | None:
    return SocialAccount.query.session.scalars(
        select(SocialAccount).where(
            SocialAccount.agent_id == agent_id, SocialAccount.provider == provider
        )
    ).first()


def start(client, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_connect_x_asks_for_posting_scopes_with_pkce_and_stores_the_token(
    client, db, as_agent, apps, http
):
    me = as_agent(AgentFactory())
    asked = start(client, "/me/messaging/x/connect")
    assert asked["client_id"] == "x-client"
    assert set(asked["scope"].split()) == {
        "tweet.read",
        "tweet.write",
        "users.read",
        "offline.access",
    }
    assert asked["code_challenge_method"] == "S256" and asked["code_challenge"]
    assert asked["redirect_uri"].endswith("/me/messaging/x/callback")
    http.add(
        responses.POST,
        oauth.X_TOKEN_URL,
        json={
            "access_token": "x-at-1",
            "refresh_token": "x-rt-1",
            "expires_in": 7200,
            "token_type": "bearer",
            "scope": oauth.X_SCOPES,
        },
    )
    http.add(responses.GET, oauth.X_ME_URL, json={"data": {"id": "42", "username": "lea"}})

    response = client.get(f"/me/messaging/x/callback?code=the-code&state={asked['state']}")

    assert response.status_code == 302
    token_call = http.calls[0].request
    body = parse_qs(token_call.body)
    assert body["code"] == ["the-code"] and body["code_verifier"][0]
    assert (
        token_call.headers["Authorization"]
        == "Basic " + base64.b64encode(b"x-client:x-secret").decode()
    )
    row = account(me.id, "x")
    assert row.account_ref == "@lea"
    stored = decrypt_credentials(row.credentials_encrypted)
    assert stored["oauth2"]["access_token"] == "x-at-1"
    assert b"x-at-1" not in row.credentials_encrypted  # encrypted at rest


def test_a_forged_or_refused_x_callback_connects_nothing(client, db, as_agent, apps, http):
    me = as_agent(AgentFactory())
    asked = start(client, "/me/messaging/x/connect")
    assert client.get("/me/messaging/x/callback?code=c&state=forged").status_code == 302
    assert (
        client.get(
            f"/me/messaging/x/callback?error=access_denied&state={asked['state']}"
        ).status_code
        == 302
    )
    http.add(responses.POST, oauth.X_TOKEN_URL, json={"error": "invalid_grant"}, status=400)
    asked = start(client, "/me/messaging/x/connect")
    response = client.get(
        f"/me/messaging/x/callback?code=bad&state={asked['state']}", follow_redirects=True
    )
    assert "did not go through" in response.get_data(as_text=True)
    assert account(me.id, "x") is None


def test_without_app_credentials_there_is_no_connect_button(client, db, as_agent):
    as_agent(AgentFactory())
    assert client.get("/me/messaging/x/connect").status_code == 404
    page = client.get("/me/messaging").get_data(as_text=True)
    assert "/me/messaging/x/connect" not in page
    assert "developer app" in page  # the keys form stays for those who have an app


def test_an_oauth_x_account_posts_with_its_bearer_token_and_refreshes_it_first(db, app, apps, http):
    org = OrganisationFactory()
    agent = AgentFactory()
    db.session.add(
        SocialAccount(
            agent_id=agent.id,
            provider="x",
            account_ref="@lea",
            credentials_encrypted=encrypt_credentials(
                {
                    "oauth2": {
                        "access_token": "old",
                        "refresh_token": "rt-old",
                        "expires_at": int(time.time()) + 10,
                        "token_type": "bearer",
                    }
                }
            ),
        )
    )
    http.add(
        responses.POST,
        oauth.X_TOKEN_URL,
        json={
            "access_token": "new",
            "refresh_token": "rt-new",
            "expires_in": 7200,
            "token_type": "bearer",
        },
    )
    http.add(responses.POST, TWEETS, json={"data": {"id": "1851", "text": "…"}}, status=201)
    enqueue(
        [
            {
                "dedupe_key": "p",
                "organisation_id": org.id,
                "agent_id": agent.id,
                "channel": "x",
                "body_text": "Lyon passe devant !",
                "link": "",
            }
        ]
    )

    assert [deliver(i, "w1") for i in claim("w1", 10)] == [Outcome.SENT]

    refresh, tweet = (c.request for c in http.calls)
    assert parse_qs(refresh.body)["refresh_token"] == ["rt-old"]
    assert tweet.headers["Authorization"] == "Bearer new"
    assert json.loads(tweet.body) == {"text": "Lyon passe devant !"}
    db.session.expire_all()
    stored = decrypt_credentials(account(agent.id, "x").credentials_encrypted)
    assert stored["oauth2"]["refresh_token"] == "rt-new"  # X rotates it: kept at once


def test_a_refused_refresh_sends_nothing_and_asks_to_reconnect(db, app, apps, http):
    org = OrganisationFactory()
    agent = AgentFactory()
    db.session.add(
        SocialAccount(
            agent_id=agent.id,
            provider="x",
            credentials_encrypted=encrypt_credentials(
                {"oauth2": {"access_token": "old", "refresh_token": "revoked", "expires_at": 0}}
            ),
        )
    )
    http.add(responses.POST, oauth.X_TOKEN_URL, json={"error": "invalid_request"}, status=400)
    enqueue(
        [
            {
                "dedupe_key": "p",
                "organisation_id": org.id,
                "agent_id": agent.id,
                "channel": "x",
                "body_text": "Hello",
                "link": "",
            }
        ]
    )
    assert [deliver(i, "w1") for i in claim("w1", 10)] == [Outcome.DEAD]
    assert not any(c.request.url == TWEETS for c in http.calls)
    row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == "p")).one()
    assert "reconnect" in row.last_error


def facebook_answers(http, pages):
    http.add(
        responses.POST,
        f"{GRAPH}/oauth/access_token",
        json={"access_token": "short", "token_type": "bearer"},
    )
    http.add(
        responses.GET,
        f"{GRAPH}/oauth/access_token",
        json={"access_token": "long-user", "token_type": "bearer"},
    )
    http.add(responses.GET, f"{GRAPH}/me/accounts", json={"data": pages})


def test_connect_a_facebook_page_with_one_page(client, db, as_agent, apps, http):
    me = as_agent(AgentFactory())
    asked = start(client, "/me/messaging/facebook/connect")
    assert asked["client_id"] == "fb-app" and "pages_manage_posts" in asked["scope"]
    facebook_answers(http, [{"id": "1029", "name": "Eau Vive Lyon", "access_token": "page-tok"}])

    response = client.get(f"/me/messaging/facebook/callback?code=c&state={asked['state']}")

    assert response.status_code == 302
    accounts_call = next(c.request for c in http.calls if "/me/accounts" in c.request.url)
    assert parse_qs(urlsplit(accounts_call.url).query)["access_token"] == ["long-user"]
    row = account(me.id, "facebook")
    assert row.account_ref == "1029"
    assert decrypt_credentials(row.credentials_encrypted) == {
        "page_id": "1029",
        "page_token": "page-tok",
    }


def test_with_several_pages_the_agent_chooses_one(client, db, as_agent, apps, http):
    me = as_agent(AgentFactory())
    asked = start(client, "/me/messaging/facebook/connect")
    facebook_answers(
        http,
        [
            {"id": "1", "name": "Page Un", "access_token": "tok-1"},
            {"id": "2", "name": "Page Deux", "access_token": "tok-2"},
        ],
    )
    choice = client.get(f"/me/messaging/facebook/callback?code=c&state={asked['state']}")
    body = choice.get_data(as_text=True)
    assert choice.status_code == 200 and "Page Un" in body and "Page Deux" in body
    assert "tok-1" not in body  # the tokens never reach the page
    assert account(me.id, "facebook") is None
    assert client.post("/me/messaging/facebook/page", data={"page_id": "2"}).status_code == 302
    assert (
        decrypt_credentials(account(me.id, "facebook").credentials_encrypted)["page_token"]
        == "tok-2"
    )
    # The choice is used once: posting it again connects nothing new.
    assert client.post("/me/messaging/facebook/page", data={"page_id": "1"}).status_code == 302
    assert account(me.id, "facebook").account_ref == "2"
