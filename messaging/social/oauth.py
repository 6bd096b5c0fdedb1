""" "Connect X" and "Connect a Facebook Page": OAuth 2.0 on the platform's own
app credentials, set by the operator (X_CLIENT_ID/X_CLIENT_SECRET,
FACEBOOK_APP_ID/FACEBOOK_APP_SECRET), so a free agent clicks instead of pasting
developer keys. Authlib speaks OAuth (state, PKCE for X, token refresh); the
posting clients stay tweepy and facebook-sdk (messaging/outbox/channels.py).

X: Authorization Code with PKCE, scopes to post and to keep posting
(``offline.access`` gives a refresh token; X rotates it at every refresh, so the
new pair is stored at once). Facebook: the Login dialog for the Pages the person
manages; the short user token is exchanged for a long-lived one, whose Page
tokens do not expire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app
from requests import RequestException

from messaging.outbox.channels import GRAPH_API_VERSION, HTTP_TIMEOUT

X_AUTHORIZE_URL = "https://twitter.com/i/oauth2/authorize"
X_TOKEN_URL = "https://api.twitter.com/2/oauth2/token"  # noqa: S105 (a URL)
X_ME_URL = "https://api.twitter.com/2/users/me"
X_SCOPES = "tweet.read tweet.write users.read offline.access"
FACEBOOK_DIALOG_URL = f"https://www.facebook.com/{GRAPH_API_VERSION}/dialog/oauth"
FACEBOOK_GRAPH = f"https://graph.facebook.com/{GRAPH_API_VERSION}"
FACEBOOK_SCOPES = "pages_show_list,pages_manage_posts,pages_read_engagement"
# How each provider wants the app's secret at its token endpoint.
SECRET_IN_BODY = "client_secret_post"  # noqa: S105 (a method name)
# Refresh an X token this long before it runs out (they last two hours).
REFRESH_MARGIN_SECONDS = 300


class ConnectError(Exception):
    """The provider refused or did not answer; the message is for the log."""


@dataclass(frozen=True)
class FacebookPage:
    id: str
    name: str
    token: str


def x_configured() -> bool:
    return bool(current_app.config.get("X_CLIENT_ID") and current_app.config.get("X_CLIENT_SECRET"))


def facebook_configured() -> bool:
    return bool(
        current_app.config.get("FACEBOOK_APP_ID") and current_app.config.get("FACEBOOK_APP_SECRET")
    )


def _x_session(redirect_uri: str | None = None, token: dict | None = None) -> OAuth2Session:
    # X asks confidential clients for HTTP Basic authentication at its token endpoint.
    return OAuth2Session(
        current_app.config["X_CLIENT_ID"],
        current_app.config["X_CLIENT_SECRET"],
        scope=X_SCOPES,
        redirect_uri=redirect_uri,
        token=token,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
        code_challenge_method="S256",
    )


def x_authorization(redirect_uri: str) -> tuple[str, str, str]:
    """The URL to send the agent to, the state and the PKCE verifier to keep."""
    verifier = generate_token(64)
    url, state = _x_session(redirect_uri).create_authorization_url(
        X_AUTHORIZE_URL, code_verifier=verifier
    )
    return url, state, verifier


def _stamped(token: dict) -> dict:
    token = dict(token)
    if "expires_at" not in token and token.get("expires_in"):
        token["expires_at"] = int(time.time()) + int(token["expires_in"])
    return token


def x_finish(redirect_uri: str, code: str, verifier: str) -> tuple[dict, str]:
    """Exchange the code for tokens and read the handle: (credentials, "@handle")."""
    session = _x_session(redirect_uri)
    try:
        token = session.fetch_token(
            X_TOKEN_URL, code=code, code_verifier=verifier, timeout=HTTP_TIMEOUT
        )
        me = session.get(X_ME_URL, timeout=HTTP_TIMEOUT)
    except (OAuthError, RequestException, ValueError) as exc:
        raise ConnectError(f"X token exchange failed: {exc}") from exc
    if me.status_code != 200:
        raise ConnectError(f"X users/me answered {me.status_code}")
    username = (me.json().get("data") or {}).get("username", "")
    return {"oauth2": _stamped(token)}, f"@{username}" if username else ""


def x_refreshed(credentials: dict) -> dict | None:
    """New credentials when the OAuth 2.0 token is about to run out, else None.

    Raises ConnectError when X refuses the refresh token (the agent must connect
    again); a network failure returns None, and the post then says what happened.
    """
    token = credentials.get("oauth2")
    if not token or not token.get("refresh_token"):
        return None
    if token.get("expires_at", 0) - time.time() > REFRESH_MARGIN_SECONDS:
        return None
    try:
        fresh = _x_session(token=token).refresh_token(
            X_TOKEN_URL, refresh_token=token["refresh_token"], timeout=HTTP_TIMEOUT
        )
    except OAuthError as exc:
        raise ConnectError(f"X refused to refresh the token: {exc}") from exc
    except (RequestException, ValueError):
        return None
    return {"oauth2": _stamped(fresh)}


def facebook_authorization(redirect_uri: str) -> tuple[str, str]:
    session = OAuth2Session(
        current_app.config["FACEBOOK_APP_ID"], scope=FACEBOOK_SCOPES, redirect_uri=redirect_uri
    )
    return session.create_authorization_url(FACEBOOK_DIALOG_URL)


def facebook_pages(redirect_uri: str, code: str) -> list[FacebookPage]:
    """Exchange the code, make the user token long-lived, list the Pages it manages."""
    app_id, secret = (
        current_app.config["FACEBOOK_APP_ID"],
        current_app.config["FACEBOOK_APP_SECRET"],
    )
    session = OAuth2Session(
        app_id, secret, redirect_uri=redirect_uri, token_endpoint_auth_method=SECRET_IN_BODY
    )
    try:
        short = session.fetch_token(
            f"{FACEBOOK_GRAPH}/oauth/access_token", code=code, timeout=HTTP_TIMEOUT
        )
        long_lived = session.get(
            f"{FACEBOOK_GRAPH}/oauth/access_token",
            params={
                "grant_type": "fb_exchange_token",
                "client_id": app_id,
                "client_secret": secret,
                "fb_exchange_token": short["access_token"],
            },
            timeout=HTTP_TIMEOUT,
        )
        user_token = long_lived.json().get("access_token") or short["access_token"]
        answer = session.get(
            f"{FACEBOOK_GRAPH}/me/accounts",
            params={"fields": "id,name,access_token", "access_token": user_token},
            timeout=HTTP_TIMEOUT,
        )
        rows = answer.json().get("data", []) if answer.status_code == 200 else None
    except (OAuthError, RequestException, ValueError, KeyError) as exc:
        raise ConnectError(f"Facebook token exchange failed: {exc}") from exc
    if rows is None:
        raise ConnectError(f"Facebook me/accounts answered {answer.status_code}")
    return [
        FacebookPage(id=str(row["id"]), name=str(row.get("name", "")), token=row["access_token"])
        for row in rows
        if row.get("id") and row.get("access_token")
    ]
