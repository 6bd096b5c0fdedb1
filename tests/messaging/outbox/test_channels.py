"""Posts to X (tweepy) and Facebook Pages (facebook-sdk), intercepted at the
HTTP layer so the real client code runs; credentials encrypted at rest; the
account page where agents connect them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from sqlalchemy import select

from extensions import db as _db
from messaging.outbox import delivery as outbox
from messaging.outbox.delivery import Outcome, deliver, drain
from messaging.outbox.leases import claim, recover_stale
from messaging.outbox.models import OutboxMessage
from messaging.outbox.queue import enqueue
from messaging.preferences.models import MessagingPreference
from messaging.social import services as social_accounts
from messaging.social.crypto import decrypt_credentials, encrypt_credentials
from messaging.social.models import SocialAccount
from tests.factories import AgentFactory, OrganisationFactory

TWEETS = "https://api.twitter.com/2/tweets"
PAGE_ID = "102938475610"
FEED = f"https://graph.facebook.com/v21.0/{PAGE_ID}/feed"
X_KEYS = {
    "consumer_key": "ck-123",
    "consumer_secret": "cs-456",
    "access_token": "at-789-secret-token",
    "access_token_secret": "ats-000",
}
PAGE_TOKEN = "EAAB-page-token-xyz"
LINK = "https://relais.example/s/abc123"


@pytest.fixture
def org(db):
    return OrganisationFactory()


@pytest.fixture
def agent(db):
    agent = AgentFactory(email="lea@example.org")
    social_accounts.connect(agent.id, "x", X_KEYS, "@lea")
    social_accounts.connect(
        agent.id, "facebook", {"page_id": PAGE_ID, "page_token": PAGE_TOKEN}, PAGE_ID
    )
    return agent


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def post_row(org, agent, channel, key="p1"):
    return {
        "dedupe_key": key,
        "organisation_id": org.id,
        "agent_id": agent.id,
        "channel": channel,
        "body_text": "Lyon just passed Marseille! Help us stay ahead",
        "link": LINK,
    }


def row_of(key: str) -> OutboxMessage:
    _db.session.expire_all()
    return _db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()


def send_due() -> list[Outcome]:
    return [deliver(id_, "w1") for id_ in claim("w1", 10)]


# -- X -----------------------------------------------------------------------------------


def test_x_post_goes_out_through_tweepy_once(db, org, agent, http):
    http.add(responses.POST, TWEETS, json={"data": {"id": "1850", "text": "…"}}, status=201)
    enqueue([post_row(org, agent, "x")])
    assert send_due() == [Outcome.SENT]

    (call,) = http.calls
    assert json.loads(call.request.body) == {
        "text": f"Lyon just passed Marseille! Help us stay ahead {LINK}"
    }
    auth = call.request.headers["Authorization"]
    assert auth.startswith("OAuth ")
    assert 'oauth_token="at-789-secret-token"' in auth
    assert 'oauth_consumer_key="ck-123"' in auth
    row = row_of("p1")
    assert row.status == "sent" and row.external_id == "1850" and row.attempts == 1
    assert drain("w2")["sent"] == 0
    assert len(http.calls) == 1


@pytest.mark.parametrize(
    "reply",
    [
        {"json": {"title": "Internal Server Error"}, "status": 500},
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"body": requests.exceptions.ConnectionError("connection reset by peer")},
    ],
    ids=["500", "timeout", "reset"],
)
def test_an_ambiguous_x_failure_goes_to_review_and_is_never_retried(db, org, agent, http, reply):
    http.add(responses.POST, TWEETS, **reply)
    enqueue([post_row(org, agent, "x")])
    assert send_due() == [Outcome.REVIEW]
    row = row_of("p1")
    assert row.status == "review" and row.last_error
    # Later runs, even past the lease, never post it again.
    row.next_attempt_at = datetime.now(UTC) - timedelta(hours=1)
    _db.session.commit()
    recover_stale(datetime.now(UTC) + timedelta(hours=1))
    assert sum(drain("w2").values()) == 0
    assert len(http.calls) == 1
    assert row_of("p1").status == "review"


def test_a_duplicate_x_post_is_dead_with_xs_reason(db, org, agent, http):
    http.add(
        responses.POST,
        TWEETS,
        json={"detail": "You are not allowed to create a Tweet with duplicate content."},
        status=403,
    )
    enqueue([post_row(org, agent, "x")])
    assert send_due() == [Outcome.DEAD]
    row = row_of("p1")
    assert row.status == "dead"
    assert "403" in row.last_error and "duplicate content" in row.last_error
    assert len(http.calls) == 1


def test_an_x_rate_limit_is_retried_later(db, org, agent, http):
    http.add(responses.POST, TWEETS, json={"title": "Too Many Requests"}, status=429)
    enqueue([post_row(org, agent, "x")])
    assert send_due() == [Outcome.RETRY]
    row = row_of("p1")
    assert row.status == "queued" and row.next_attempt_at > datetime.now(UTC)


# -- Facebook --------------------------------------------------------------------------


def test_facebook_page_post_goes_out_through_facebook_sdk(db, org, agent, http):
    http.add(responses.POST, FEED, json={"id": f"{PAGE_ID}_777"})
    enqueue([post_row(org, agent, "facebook")])
    assert send_due() == [Outcome.SENT]

    (call,) = http.calls
    assert call.request.url == FEED
    sent = parse_qs(call.request.body)
    assert sent["message"] == ["Lyon just passed Marseille! Help us stay ahead"]
    assert sent["link"] == [LINK]
    assert sent["access_token"] == [PAGE_TOKEN]
    assert row_of("p1").external_id == f"{PAGE_ID}_777"


def test_a_revoked_facebook_token_is_dead(db, org, agent, http):
    error = {"message": "Error validating access token", "type": "OAuthException", "code": 190}
    http.add(responses.POST, FEED, json={"error": error}, status=400)
    enqueue([post_row(org, agent, "facebook")])
    assert send_due() == [Outcome.DEAD]
    assert "Error validating access token" in row_of("p1").last_error


@pytest.mark.parametrize(
    "reply",
    [
        {"json": {"error": {"message": "An unknown error occurred", "code": 1}}, "status": 500},
        {"body": "<html>Bad gateway</html>", "status": 502, "content_type": "text/html"},
        {"body": requests.exceptions.ReadTimeout("read timed out")},
    ],
    ids=["500", "502-html", "timeout"],
)
def test_an_ambiguous_facebook_failure_goes_to_review(db, org, agent, http, reply):
    http.add(responses.POST, FEED, **reply)
    enqueue([post_row(org, agent, "facebook")])
    assert send_due() == [Outcome.REVIEW]
    assert drain("w2") == {}
    assert len(http.calls) == 1


# -- at most once, opt-out, accounts ---------------------------------------------------


def test_a_social_post_whose_worker_died_mid_call_goes_to_review_not_reposted(db, org, agent, http):
    http.add(responses.POST, TWEETS, json={"data": {"id": "9"}}, status=201)
    enqueue([post_row(org, agent, "x", "died"), post_row(org, agent, "x", "never-started")])
    died, _never_started = claim("dead-worker", 10)
    # The first row was marked and committed before the call, then the worker vanished.
    assert isinstance(outbox.Deliverer("dead-worker")._start(died), outbox.Send)
    for key in ("died", "never-started"):
        row_of(key).claimed_at = datetime.now(UTC) - timedelta(minutes=10)
        _db.session.commit()

    assert recover_stale() == {"requeued": 1, "review": 1}
    assert row_of("died").status == "review"
    assert "may be online" in row_of("died").last_error
    # The row that never reached the API goes out normally; the other is never posted.
    assert drain("w2")["sent"] == 1
    assert len(http.calls) == 1
    assert row_of("never-started").status == "sent"
    assert row_of("died").status == "review"


def test_no_connected_account_or_opted_out_is_skipped_without_a_call(db, org, http):
    lonely = AgentFactory()
    quiet = AgentFactory()
    social_accounts.connect(quiet.id, "x", X_KEYS)
    _db.session.add(MessagingPreference(agent_id=quiet.id, is_social_opted_out=True))
    enqueue([post_row(org, lonely, "x", "lonely"), post_row(org, quiet, "x", "quiet")])
    assert send_due() == [Outcome.SKIPPED, Outcome.SKIPPED]
    assert "not connected" in row_of("lonely").last_error
    assert "opted out" in row_of("quiet").last_error
    assert len(http.calls) == 0


def test_credentials_are_encrypted_at_rest(db, app, agent, monkeypatch):
    account = _db.session.scalars(
        select(SocialAccount).where(
            SocialAccount.agent_id == agent.id, SocialAccount.provider == "x"
        )
    ).one()
    raw = bytes(account.credentials_encrypted)
    assert b"at-789-secret-token" not in raw and b"ck-123" not in raw
    assert decrypt_credentials(raw) == X_KEYS
    # An explicit key (any passphrase, or a Fernet key) takes over from SECRET_KEY.
    monkeypatch.setitem(app.config, "RELAIS_ENCRYPTION_KEY", "a long passphrase")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        decrypt_credentials(raw)
    assert decrypt_credentials(encrypt_credentials({"a": 1})) == {"a": 1}


def test_unreadable_credentials_make_the_post_dead_without_a_call(
    db, app, org, agent, http, monkeypatch
):
    monkeypatch.setitem(app.config, "RELAIS_ENCRYPTION_KEY", "another key")
    enqueue([post_row(org, agent, "x")])
    assert send_due() == [Outcome.DEAD]
    assert "reconnect" in row_of("p1").last_error
    assert len(http.calls) == 0


def test_agent_connects_and_disconnects_accounts_from_the_account_page(client, db, login_as):
    me = login_as(AgentFactory())
    assert "/me/messaging" in client.get("/me").get_data(as_text=True)
    assert "Not connected" in client.get("/me/messaging").get_data(as_text=True)

    bad = client.post("/me/messaging/facebook", data={"facebook-page_id": "my page"})
    assert bad.status_code == 422
    assert "digits only" in bad.get_data(as_text=True)

    response = client.post(
        "/me/messaging/x",
        data={f"x-{key}": value for key, value in X_KEYS.items()} | {"x-handle": "@me"},
    )
    assert response.status_code == 302
    client.post(
        "/me/messaging/facebook",
        data={"facebook-page_id": PAGE_ID, "facebook-page_token": PAGE_TOKEN},
    )
    accounts = social_accounts.accounts_of(me.id)
    assert set(accounts) == {"x", "facebook"}
    assert decrypt_credentials(accounts["x"].credentials_encrypted) == X_KEYS
    assert accounts["facebook"].account_ref == PAGE_ID
    page = client.get("/me/messaging").get_data(as_text=True)
    assert "Connected (@me)" in page and PAGE_TOKEN not in page

    client.post("/me/messaging/x/disconnect")
    assert set(social_accounts.accounts_of(me.id)) == {"facebook"}


def test_agent_sets_quiet_hours_and_opt_outs(client, db, login_as):
    me = login_as(AgentFactory())
    response = client.post(
        "/me/messaging/preferences",
        data={
            "prefs-is_email_opted_out": "y",
            "prefs-quiet_start_hour": "22",
            "prefs-quiet_end_hour": "7",
            "prefs-timezone": "America/Montreal",
        },
    )
    assert response.status_code == 302
    pref = _db.session.get(MessagingPreference, me.id)
    assert pref.is_email_opted_out and not pref.is_social_opted_out
    assert (pref.quiet_start_hour, pref.quiet_end_hour, pref.timezone) == (
        22,
        7,
        "America/Montreal",
    )
    bad = client.post("/me/messaging/preferences", data={"prefs-timezone": "Mars/Olympus"})
    assert bad.status_code == 422
