"""Connecting and disconnecting an agent's X and Facebook Page accounts, and
their messaging choices. Credentials are only ever stored encrypted."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from messaging.preferences.models import MessagingPreference
from messaging.preferences.services import preference_for
from messaging.social import oauth
from messaging.social.crypto import CredentialsError, decrypt_credentials, encrypt_credentials
from messaging.social.models import SocialAccount

PROVIDERS = ("x", "facebook")
X_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def accounts_of(agent_id: int) -> dict[str, SocialAccount]:
    rows = db.session.scalars(select(SocialAccount).where(SocialAccount.agent_id == agent_id))
    return {row.provider: row for row in rows}


def connect(
    agent_id: int, provider: str, credentials: dict, account_ref: str = ""
) -> SocialAccount:
    """Store (or replace) the agent's credentials for one provider."""
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}")
    account = accounts_of(agent_id).get(provider)
    if account is None:
        account = SocialAccount(agent_id=agent_id, provider=provider)
        db.session.add(account)
    account.account_ref = account_ref
    account.credentials_encrypted = encrypt_credentials(credentials)
    db.session.flush()
    return account


def fresh_credentials(account: SocialAccount) -> dict:
    """The account's credentials, an X OAuth 2.0 token refreshed (and the new pair
    stored) when it is about to run out; CredentialsError when they are unreadable
    or X refused the refresh, so the agent must connect again."""
    credentials = decrypt_credentials(account.credentials_encrypted)
    if account.provider != "x":
        return credentials
    try:
        fresh = oauth.x_refreshed(credentials)
    except oauth.ConnectError as exc:
        raise CredentialsError(str(exc)) from exc
    if fresh is None:
        return credentials
    # X rotates refresh tokens: the old one no longer works once this one is issued.
    account.credentials_encrypted = encrypt_credentials(fresh)
    db.session.flush()
    return fresh


def disconnect(agent_id: int, provider: str) -> bool:
    """Forget the agent's credentials for one provider; False if there were none."""
    account = accounts_of(agent_id).get(provider)
    if account is None:
        return False
    db.session.delete(account)
    db.session.flush()
    return True


def update_preferences(
    agent_id: int,
    *,
    is_email_opted_out: bool,
    is_social_opted_out: bool,
    quiet_start_hour: int | None,
    quiet_end_hour: int | None,
    timezone: str,
) -> MessagingPreference:
    pref = preference_for(agent_id)
    pref.is_email_opted_out = is_email_opted_out
    pref.is_social_opted_out = is_social_opted_out
    pref.quiet_start_hour = quiet_start_hour
    pref.quiet_end_hour = quiet_end_hour
    pref.timezone = timezone
    db.session.flush()
    return pref
