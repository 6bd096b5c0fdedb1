"""Accounts and personal access tokens."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_security.utils import hash_password
from sqlalchemy import func, select

from agents.auth import security
from agents.models import AccessToken, Agent, Membership, MembershipRole, Role, TokenScope
from agents.signals import account_deleted, erasure_for
from campaigns.errors import NotFound, ValidationError
from campaigns.model_types import utcnow
from campaigns.pages.services import hash_token
from extensions import db

TOKEN_PREFIX = "rls_"  # noqa: S105 - a marker, not a secret


def find_agent(email: str) -> Agent:
    agent = db.session.scalar(select(Agent).where(func.lower(Agent.email) == email.strip().lower()))
    if agent is None:
        raise NotFound(_("No account uses the address %(email)s.", email=email))
    return agent


# The site's operator (a site-wide role, not an organisation's): reads what no
# organisation owns, such as Stripe events of accounts nobody connected.
OPERATOR_ROLE = "operator"


def is_operator(agent: Agent | None) -> bool:
    return bool(agent is not None and getattr(agent, "id", None) and agent.has_role(OPERATOR_ROLE))


def set_operator(agent: Agent, is_operator: bool) -> None:
    """Give ``agent`` the site's operator role, or take it back."""
    role = db.session.scalar(select(Role).where(Role.name == OPERATOR_ROLE))
    if role is None:
        role = Role(name=OPERATOR_ROLE, description="Operator of the site")
        db.session.add(role)
    if is_operator and role not in agent.roles:
        agent.roles.append(role)
    elif not is_operator and role in agent.roles:
        agent.roles.remove(role)
    db.session.flush()


def create_agent(email: str, name: str, password: str, *, confirmed: bool = True) -> Agent:
    """Create an account (confirmed by default: operators vouch for it)."""
    errors = {}
    try:
        email = security._mail_util.normalize(email)
    except Exception:
        errors["email"] = _("Enter a valid email address.")
    if not errors and db.session.scalar(
        select(Agent.id).where(func.lower(Agent.email) == email.lower())
    ):
        errors["email"] = _("An account already uses this address.")
    if len(password or "") < 8:
        errors["password"] = _("Choose a password of at least 8 characters.")
    if not (name or "").strip():
        errors["name"] = _("Please enter your name.")
    if errors:
        raise ValidationError(errors)
    agent = Agent(
        email=email,
        name=name.strip(),
        password=hash_password(password),
        active=True,
        fs_uniquifier=uuid.uuid4().hex,
        confirmed_at=utcnow() if confirmed else None,
    )
    db.session.add(agent)
    db.session.flush()
    return agent


LOCALES = ("fr", "en")


def update_profile(agent: Agent, *, name: str, locale: str = "", bio: str = "") -> Agent:
    """Change the agent's name, preferred language ("" follows the browser) and bio."""
    errors = {}
    name = (name or "").strip()
    bio = (bio or "").strip()
    if not name:
        errors["name"] = _("Please enter your name.")
    elif len(name) > 120:
        errors["name"] = _("Keep your name under 120 characters.")
    if locale not in ("", *LOCALES):
        errors["locale"] = _("Choose French or English.")
    if len(bio) > 500:
        errors["bio"] = _("Keep your bio under 500 characters.")
    if errors:
        raise ValidationError(errors)
    agent.name = name
    agent.locale = locale
    agent.bio = bio
    db.session.flush()
    return agent


MAX_TOKEN_DAYS = 3650  # ten years: "never" is the way to say longer


def create_token(
    agent: Agent,
    name: str = "",
    *,
    scope: str = TokenScope.WRITE,
    expires_at: datetime | None = None,
) -> tuple[AccessToken, str]:
    """A new personal access token; the clear token is returned once, only its hash kept.

    ``scope`` is read or write; ``expires_at`` (optional) must be in the future."""
    errors = {}
    if scope not in set(TokenScope):
        errors["scope"] = _("Choose read or write.")
    now = utcnow()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            errors["expires_at"] = _("Give the expiry with its time zone.")
        elif expires_at <= now:
            errors["expires_at"] = _("The expiry must be in the future.")
        elif expires_at > now + timedelta(days=MAX_TOKEN_DAYS):
            errors["expires_at"] = _("A token can last %(n)s days at most.", n=MAX_TOKEN_DAYS)
    if errors:
        raise ValidationError(errors)
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AccessToken(
        agent_id=agent.id,
        name=(name or "").strip()[:100] or _("API token"),
        token_hash=hash_token(clear),
        prefix=clear[:10],
        scope=TokenScope(scope),
        expires_at=expires_at,
    )
    db.session.add(token)
    db.session.flush()
    return token, clear


def find_token(clear: str) -> AccessToken | None:
    """The unrevoked token of an active, undeleted agent with this clear value,
    expired or not (the caller tells the two apart); None for anything else."""
    if not clear or not clear.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(
        select(AccessToken).where(
            AccessToken.token_hash == hash_token(clear), AccessToken.revoked_at.is_(None)
        )
    )
    if token is None or not token.agent.active or token.agent.is_deleted:
        return None
    return token


def token_id(clear: str) -> int | None:
    """The id of the token with this clear value, whatever its state: what the
    API's rate limits count by (one indexed read, no other check)."""
    if not clear or not clear.startswith(TOKEN_PREFIX):
        return None
    return db.session.scalar(
        select(AccessToken.id).where(AccessToken.token_hash == hash_token(clear))
    )


def use_token(token: AccessToken) -> Agent:
    """Note that the token was used now; its agent."""
    token.last_used_at = utcnow()
    return token.agent


def authenticate_token(clear: str) -> Agent | None:
    """The active, undeleted agent a valid (unrevoked, unexpired) bearer token
    belongs to, or None."""
    token = find_token(clear)
    if token is None or token.is_expired(utcnow()):
        return None
    return use_token(token)


def list_tokens(agent: Agent) -> list[AccessToken]:
    """The agent's unrevoked tokens (expired ones included), newest first."""
    return list(
        db.session.scalars(
            select(AccessToken)
            .where(AccessToken.agent_id == agent.id, AccessToken.revoked_at.is_(None))
            .order_by(AccessToken.created_at.desc(), AccessToken.id.desc())
        )
    )


def all_tokens() -> list[AccessToken]:
    """Every unrevoked token, by agent then newest first (the operator's list)."""
    return list(
        db.session.scalars(
            select(AccessToken)
            .where(AccessToken.revoked_at.is_(None))
            .order_by(AccessToken.agent_id, AccessToken.created_at.desc(), AccessToken.id.desc())
        )
    )


def revoke_token(agent: Agent, token_id: int) -> AccessToken:
    """Revoke one of the agent's own tokens."""
    token = db.session.get(AccessToken, token_id)
    if token is None or token.agent_id != agent.id:
        raise NotFound(_("This token does not exist."))
    return _revoke(token)


def revoke_any_token(token_id: int) -> AccessToken:
    """Revoke any agent's token (an operator's command)."""
    token = db.session.get(AccessToken, token_id)
    if token is None:
        raise NotFound(_("This token does not exist."))
    return _revoke(token)


def _revoke(token: AccessToken) -> AccessToken:
    token.revoked_at = token.revoked_at or utcnow()
    db.session.flush()
    return token


def delete_account(agent: Agent) -> None:
    """Erase personal data; pages and money stay, shown as a former supporter's.

    One signal, answered by each package for its own tables (agents/erasure.py,
    campaigns/erasure.py, messaging/erasure.py), inside the caller's unit of work."""
    account_deleted.send(erasure_for(agent))
    db.session.flush()


def memberships(organisation_id: int) -> list[Membership]:
    """The staff of one organisation, admins first."""
    return list(
        db.session.scalars(
            select(Membership)
            .where(Membership.organisation_id == organisation_id)
            .order_by(Membership.role, Membership.created_at)
        )
    )


def admin_count(organisation_id: int) -> int:
    return sum(1 for m in memberships(organisation_id) if m.role == MembershipRole.ADMIN)


def remove_membership(membership: Membership) -> str:
    """Remove one staff member; an organisation keeps at least one admin.
    Returns the removed member's name."""
    if membership.role == MembershipRole.ADMIN and admin_count(membership.organisation_id) <= 1:
        raise ValidationError(
            {"role": _("An organisation needs at least one admin. Add another first.")}
        )
    name = membership.agent.display_name
    db.session.delete(membership)
    db.session.flush()
    return name
