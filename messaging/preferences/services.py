"""An agent's messaging choices: opt-outs, quiet hours and the signed
unsubscribe links that work without logging in."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from campaigns.urls import absolute_url
from extensions import db
from messaging.preferences.models import EmailOptOut, MessagingPreference

_UNSUBSCRIBE_SALT = "relais.unsubscribe"
_ADDRESS_SALT = "relais.unsubscribe.address"


def preference_for(agent_id: int) -> MessagingPreference:
    """The agent's preferences, created with defaults (and an unsubscribe salt)
    the first time; safe when two workers ask at once. A read when they exist."""
    pref = db.session.get(MessagingPreference, agent_id)
    if pref is not None and pref.unsubscribe_salt:
        return pref
    return preferences_for([agent_id])[agent_id]


def preferences_for(agent_ids) -> dict[int, MessagingPreference]:
    """Many agents' preferences: the missing ones created in one statement, all
    of them read in one query (a worker's batch of mails), each with its salt."""
    ids = sorted(set(agent_ids))
    if not ids:
        return {}
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(MessagingPreference)
        .values([{"agent_id": id_, "unsubscribe_salt": secrets.token_hex(8)} for id_ in ids])
        .on_conflict_do_nothing()
    )
    found = {
        pref.agent_id: pref
        for pref in db.session.scalars(
            select(MessagingPreference)
            .where(MessagingPreference.agent_id.in_(ids))
            .execution_options(populate_existing=True)
        )
    }
    for pref in found.values():
        if not pref.unsubscribe_salt:
            pref.unsubscribe_salt = secrets.token_hex(8)
    db.session.flush()
    return found


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token(pref: MessagingPreference) -> str:
    return _serializer().dumps([pref.agent_id, pref.unsubscribe_salt])


def unsubscribe_url(pref: MessagingPreference) -> str:
    """The absolute one-click link put in every email's footer and headers."""
    return absolute_url("unsubscribe.unsubscribe", token=unsubscribe_token(pref))


def preference_for_token(token: str) -> MessagingPreference | None:
    """The preferences a link was signed for, or None if it is forged or was
    invalidated (the salt changed)."""
    try:
        agent_id, salt = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    pref = db.session.get(MessagingPreference, agent_id) if isinstance(agent_id, int) else None
    if pref is None or not salt or not secrets.compare_digest(str(salt), pref.unsubscribe_salt):
        return None
    return pref


def opt_out_of_email(pref: MessagingPreference) -> None:
    """No more email for this agent (receipts excepted: they are not outbox mail)."""
    pref.is_email_opted_out = True
    db.session.flush()


def is_opted_out(pref: MessagingPreference | None, channel: str) -> bool:
    if pref is None:
        return False
    if channel == "email":
        return pref.is_email_opted_out
    if channel in ("x", "facebook"):
        return pref.is_social_opted_out
    return False


def quiet_until(pref: MessagingPreference | None, now: datetime) -> datetime | None:
    """When the agent's quiet hours end (UTC), if ``now`` falls inside them."""
    if pref is None or pref.quiet_start_hour is None or pref.quiet_end_hour is None:
        return None
    start, end = pref.quiet_start_hour % 24, pref.quiet_end_hour % 24
    if start == end:
        return None
    try:
        zone = ZoneInfo(pref.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    hour = local.hour
    inside = start <= hour < end if start < end else (hour >= start or hour < end)
    if not inside:
        return None
    # The next local `end` o'clock; wall-clock arithmetic, then back to UTC.
    ends = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if ends <= local:
        ends = (local + timedelta(days=1)).replace(hour=end, minute=0, second=0, microsecond=0)
    return ends.astimezone(UTC)


# --- an address without an account (a donor who asked for field news) -------------


def address_hash(email: str) -> str:
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()


def _address_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_ADDRESS_SALT)


def address_unsubscribe_url(email: str) -> str:
    """The one-click link of a mail to an address: it names only its hash."""
    token = _address_serializer().dumps(address_hash(email))
    return absolute_url("unsubscribe.unsubscribe_address", token=token)


def address_for_token(token: str) -> str | None:
    """The address hash a link was signed for, or None if it is forged."""
    try:
        value = _address_serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return value if isinstance(value, str) and len(value) == 64 else None


def is_address_opted_out(email: str = "", *, hashed: str = "") -> bool:
    """Whether this address asked for no more campaign email."""
    key = hashed or address_hash(email)
    return db.session.get(EmailOptOut, key) is not None


def opted_out_hashes(hashes: list[str]) -> set[str]:
    """Which of these address hashes asked for no more campaign email (one query)."""
    if not hashes:
        return set()
    return set(
        db.session.scalars(
            select(EmailOptOut.address_hash).where(EmailOptOut.address_hash.in_(hashes))
        )
    )


def opt_out_address(hashed: str) -> None:
    """No more campaign email to this address (safe when asked twice at once)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(EmailOptOut)
        .values(address_hash=hashed, created_at=datetime.now(UTC))
        .on_conflict_do_nothing()
    )
    db.session.flush()
