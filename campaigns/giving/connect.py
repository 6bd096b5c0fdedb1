"""Stripe Connect: each organisation's own Stripe account.

An organisation's admin opens Stripe's onboarding (an Account Link) from the
staff screen; its ``connected_account_id`` is kept, and Stripe's word on it
(``charges_enabled``) comes back from the return URL and from the Connect
webhook's ``account.updated``. Once charges are enabled, its Checkout
Sessions run on that account (the money lands there, a direct charge) and
every later call about that money (refunds, reconciliation, fees) names it.
Before that — and on a site with one organisation and no Connect at all —
gifts are paid into the site's own Stripe account, exactly as before Connect.

A Connect event names its ``account``: the organisation holding it owns the
event; an account no organisation holds is kept as an anomaly for the site's
operator (``/operator/stripe``), never dropped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import select

from agents.models import Agent, MembershipRole
from campaigns.errors import Conflict, PermissionDenied
from campaigns.giving import stripe_gateway
from campaigns.giving.follow_ups import Result, as_amount, as_currency
from campaigns.giving.models import StripeEventOutcome
from campaigns.model_types import utcnow
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Organisation
from extensions import db

ACCOUNT_EVENTS = ("account.updated", "account.application.deauthorized")
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,250}")


class ConnectState(StrEnum):
    NOT_CONNECTED = "not_connected"  # gifts go to the site's own Stripe account
    ONBOARDING = "onboarding"  # an account, but Stripe has not enabled charges (yet)
    ENABLED = "enabled"  # gifts are paid into the organisation's own account


def state_of(organisation: Organisation) -> ConnectState:
    if not organisation.connected_account_id:
        return ConnectState.NOT_CONNECTED
    if organisation.connect_charges_enabled:
        return ConnectState.ENABLED
    return ConnectState.ONBOARDING


def account_for(organisation: Organisation) -> str | None:
    """The Stripe account a new gift to ``organisation`` is paid into: its own
    once charges are enabled there, else None (the site's own account)."""
    if state_of(organisation) == ConnectState.ENABLED:
        return organisation.connected_account_id
    return None


def connected_accounts() -> list[str]:
    """Every organisation's connected account, for reconciliation."""
    return list(
        db.session.scalars(
            select(Organisation.connected_account_id)
            .where(Organisation.connected_account_id.is_not(None))
            .order_by(Organisation.id)
        )
    )


# --- events ----------------------------------------------------------------------------


def event_account(event: dict) -> str | None:
    """The connected account a Connect event happened on (its ``account``), or
    None for an event of the site's own account."""
    account = event.get("account")
    if not isinstance(account, str) or not account.strip():
        return None
    return account.strip()[:255]


def owner_of(account_id: str) -> Organisation | None:
    if not ACCOUNT_ID.fullmatch(account_id):
        return None
    return db.session.scalars(
        select(Organisation).where(Organisation.connected_account_id == account_id)
    ).first()


def unknown_account(account_id: str, obj: dict) -> Result:
    """An event of an account no organisation holds: kept, with its object, for
    the operator; nothing is added to any total."""
    amount = obj.get("amount_total", obj.get("amount"))
    return Result(
        StripeEventOutcome.ANOMALY,
        _(
            "This event comes from the Stripe account %(account)s, which no organisation "
            "on this site has connected; nothing was recorded.",
            account=account_id,
        ),
        amount_minor=as_amount(amount),
        currency=as_currency(obj.get("currency")),
    )


def foreign_cause(
    owner: Organisation, organisation: Organisation, amount: int | None, currency: str | None
) -> Result:
    """Money paid into ``owner``'s account that names another organisation's
    cause: it is ``owner``'s money, shown to its staff, and no total moves."""
    return Result(
        StripeEventOutcome.ANOMALY,
        _(
            "The money was paid into the Stripe account of %(owner)s but names a cause "
            "of %(organisation)s; nothing was added to the totals.",
            owner=owner.name,
            organisation=organisation.name,
        ),
        organisation_id=owner.id,
        amount_minor=amount,
        currency=currency,
    )


def _moment(event: dict) -> datetime | None:
    created = event.get("created")
    if isinstance(created, int) and not isinstance(created, bool) and created > 0:
        try:
            return datetime.fromtimestamp(created, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def handle_account_event(event: dict, obj: dict, owner: Organisation | None) -> Result:
    """``account.updated`` and ``account.application.deauthorized`` of a
    connected account: what Stripe says of it now, unless an older word."""
    if owner is None:
        # Only a Connect event (with its account) can say anything of an account.
        return Result(StripeEventOutcome.IGNORED, _("No connected account named."))
    if event["type"] == "account.application.deauthorized":
        account = {"charges_enabled": False, "details_submitted": False}
    else:
        account = obj
    if not apply_account(owner, account, _moment(event)):
        return Result(
            StripeEventOutcome.DUPLICATE,
            _("Stripe said something newer about this account already."),
            organisation_id=owner.id,
        )
    return Result(StripeEventOutcome.RECORDED, organisation_id=owner.id)


def apply_account(organisation: Organisation, account: dict, said_at: datetime | None) -> bool:
    """Keep what Stripe said of the organisation's account at ``said_at``
    (None: now), unless it said something later already; returns whether kept."""
    said_at = said_at or utcnow()
    checked = organisation.connect_checked_at
    if checked is not None and checked.replace(tzinfo=checked.tzinfo or UTC) > said_at:
        return False
    organisation.connect_charges_enabled = account.get("charges_enabled") is True
    organisation.connect_details_submitted = account.get("details_submitted") is True
    organisation.connect_checked_at = said_at
    return True


# --- onboarding (staff) ----------------------------------------------------------------


def _require_admin(actor: Agent | None, organisation: Organisation) -> None:
    if org_services.membership_role(actor, organisation.id) != MembershipRole.ADMIN:
        raise PermissionDenied(
            _("Only an admin of the organisation can connect its Stripe account.")
        )


def account_params(organisation: Organisation) -> dict:
    """A connected account of the organisation's own (a Standard account: its
    full Stripe dashboard, its own fees and disputes)."""
    return {
        "controller": {
            "stripe_dashboard": {"type": "full"},
            "fees": {"payer": "account"},
            "losses": {"payments": "stripe"},
        },
        "business_profile": {"name": organisation.legal_name or organisation.name},
        "default_currency": organisation.currency.lower(),
        "metadata": {"relais_organisation": organisation.slug},
    }


def ensure_account(actor: Agent | None, organisation: Organisation) -> str:
    """The organisation's connected account, created at Stripe if it has none
    (the same key while it is not stored: never two accounts). Raises Conflict."""
    _require_admin(actor, organisation)
    if organisation.connected_account_id:
        return organisation.connected_account_id
    try:
        account = stripe_gateway.gateway().create_account(
            account_params(organisation),
            idempotency_key=f"relais-connect-{organisation.id}-{organisation.slug}",
        )
    except stripe_gateway.GatewayError as exc:
        raise Conflict(_connect_problem(exc)) from exc
    organisation.connected_account_id = account["id"]
    apply_account(organisation, account, None)
    db.session.flush()
    return account["id"]


def onboarding_link(
    actor: Agent | None, organisation: Organisation, return_url: str, refresh_url: str
) -> str:
    """A fresh one-time link to Stripe's onboarding of the organisation's
    account (Stripe sends the admin back to ``return_url``, or to
    ``refresh_url`` when the link has expired). Raises Conflict."""
    _require_admin(actor, organisation)
    if not organisation.connected_account_id:
        raise Conflict(_("Connect a Stripe account first."))
    try:
        link = stripe_gateway.gateway().create_account_link(
            {
                "account": organisation.connected_account_id,
                "type": "account_onboarding",
                "return_url": return_url,
                "refresh_url": refresh_url,
            }
        )
    except stripe_gateway.GatewayError as exc:
        raise Conflict(_connect_problem(exc)) from exc
    return link["url"]


def refresh_state(actor: Agent | None, organisation: Organisation) -> ConnectState:
    """Ask Stripe where the organisation's account stands now and keep it."""
    _require_admin(actor, organisation)
    if organisation.connected_account_id:
        try:
            account = stripe_gateway.gateway().retrieve_account(organisation.connected_account_id)
        except stripe_gateway.GatewayError as exc:
            raise Conflict(_connect_problem(exc)) from exc
        apply_account(organisation, account, None)
    return state_of(organisation)


def _connect_problem(exc: stripe_gateway.GatewayError) -> str:
    if isinstance(exc, stripe_gateway.GatewayNotConfigured):
        return _(
            "Stripe Connect needs the site's Stripe key (STRIPE_SECRET_KEY): ask the "
            "site's operator. Nothing was changed."
        )
    if isinstance(exc, stripe_gateway.KeyRejected):
        return _(
            "Stripe did not accept the site's key for Connect: the operator must enable "
            "Connect on the platform's Stripe account. Nothing was changed."
        )
    if isinstance(exc, stripe_gateway.GatewayRefused):
        return _(
            "Stripe refused (%(detail)s). Nothing was changed.",
            detail=exc.message or _("no reason given"),
        )
    return _("Stripe did not answer. Nothing was changed; try again in a minute.")
