"""What a worker needs to send a webhook delivery, and what it does after.

Signing follows Standard Webhooks (the ``standardwebhooks`` package): headers
``webhook-id`` (the event's stable id), ``webhook-timestamp`` (this attempt,
Unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``; two of them, space-separated, while a rotated secret
still overlaps). The secret is ``whsec_`` + base64 of 24 random bytes,
encrypted at rest with the social credentials' key.

An endpoint that keeps failing is disabled: when ``WEBHOOK_DISABLE_AFTER_DEAD``
(5) of its deliveries in a row were dead-lettered (each after every outbox
retry) AND nothing it was sent has succeeded for
``WEBHOOK_DISABLE_AFTER_HOURS`` (24) since the first of those failures. Both,
so that a short outage of a busy receiver (many dead letters in an hour) or
one bad event a week (a long time, few failures) does not turn it off. The
organisation's admins get an email and the screen shows a banner; staff send
the dead letters again once the receiver is back.
"""

from __future__ import annotations

import base64
import math
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from standardwebhooks import Webhook

from agents.models import Agent, Membership, MembershipRole
from campaigns.model_types import utcnow
from campaigns.organisations.models import Organisation
from campaigns.urls import absolute_url
from extensions import db
from messaging.outbox.models import OutboxMessage
from messaging.outbox.queue import queue_email
from messaging.social.crypto import decrypt_credentials, encrypt_credentials
from messaging.webhooks import events
from messaging.webhooks.addresses import url_problem
from messaging.webhooks.models import WebhookEndpoint

DEFAULTS = {
    "WEBHOOK_DISABLE_AFTER_DEAD": 5,
    "WEBHOOK_DISABLE_AFTER_HOURS": 24,
    "WEBHOOK_ROTATION_OVERLAP_HOURS": 24,
}
USER_AGENT = "Relais-Webhooks/1.0"


def setting(name: str) -> float:
    """A webhook setting: app config, else the environment, else the default."""
    value = current_app.config.get(name)
    if value is None and os.environ.get(name):
        value = float(os.environ[name])
    return DEFAULTS[name] if value is None else value


def rotation_overlap() -> timedelta:
    return timedelta(hours=float(setting("WEBHOOK_ROTATION_OVERLAP_HOURS")))


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def seal(secret: str) -> bytes:
    return encrypt_credentials({"secret": secret})


def unseal(sealed: bytes) -> str:
    return decrypt_credentials(sealed)["secret"]


class Skip(Exception):
    """This delivery will not be sent (the endpoint is gone or disabled)."""


@dataclass
class Outgoing:
    """One signed request, built in the worker's first transaction."""

    endpoint_id: int
    url: str
    body: str
    headers: dict


def signing_secrets(endpoint: WebhookEndpoint, now) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [unseal(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        found.append(unseal(endpoint.previous_secret_encrypted))
    return found


def outgoing(row: OutboxMessage) -> Outgoing:
    """The request for this delivery, signed now; Skip when it must not go."""
    endpoint = (
        db.session.get(WebhookEndpoint, row.webhook_endpoint_id)
        if row.webhook_endpoint_id
        else None
    )
    if endpoint is None:
        raise Skip("The endpoint was deleted.")
    if not endpoint.is_enabled and row.subject != events.TEST:
        raise Skip("The endpoint is disabled.")
    problem = url_problem(endpoint.url)
    if problem:
        raise Skip(f"The endpoint's address is refused: {problem}")
    now = utcnow()
    signatures = [
        Webhook(secret).sign(row.message_id, now, row.body_text)
        for secret in signing_secrets(endpoint, now)
    ]
    headers = {
        "webhook-id": row.message_id,
        "webhook-timestamp": str(math.floor(now.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    return Outgoing(endpoint.id, endpoint.url, row.body_text, headers)


def delivery_finished(endpoint_id: int, outcome: str, error: str = "") -> None:
    """Keep the endpoint's failure count after a delivery ("sent", "retry",
    "dead"); disable it when it keeps failing (see the module). No commit."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if endpoint is None:
        return
    now = utcnow()
    if outcome == "sent":
        endpoint.consecutive_dead, endpoint.failing_since = 0, None
        endpoint.last_success_at = now
    elif outcome in ("retry", "dead"):
        endpoint.failing_since = endpoint.failing_since or now
        if outcome == "dead":
            endpoint.consecutive_dead += 1
            _maybe_disable(endpoint, now, error)
    db.session.flush()


def _maybe_disable(endpoint: WebhookEndpoint, now, error: str) -> None:
    hours = timedelta(hours=float(setting("WEBHOOK_DISABLE_AFTER_HOURS")))
    if (
        not endpoint.is_enabled
        or endpoint.consecutive_dead < int(setting("WEBHOOK_DISABLE_AFTER_DEAD"))
        or now - endpoint.failing_since < hours
    ):
        return
    endpoint.is_enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = (error or "failing")[:2000]
    _notify_admins(endpoint)


def _notify_admins(endpoint: WebhookEndpoint) -> int:
    """An email to each admin of the organisation: the endpoint was turned off."""
    org = db.session.get(Organisation, endpoint.organisation_id)
    admins = db.session.scalars(
        select(Agent)
        .join(Membership, Membership.agent_id == Agent.id)
        .where(
            Membership.organisation_id == org.id,
            Membership.role == MembershipRole.ADMIN,
            Agent.deleted_at.is_(None),
        )
        .order_by(Agent.id)
    ).all()
    link = absolute_url("outgoing_webhooks.detail", org_slug=org.slug, endpoint_id=endpoint.id)
    sent = 0
    for admin in admins:
        if not admin.email:
            continue
        with force_locale(admin.locale or org.locale or "fr"):
            subject = _("A webhook endpoint of %(name)s was disabled", name=org.name)
            text = _(
                "Relais stopped sending events to %(url)s: its last %(count)d deliveries "
                "failed, and none has succeeded since %(since)s.\n\n"
                "Last error: %(error)s\n\n"
                "Once the receiver works again, enable the endpoint and send the failed "
                "deliveries again from:\n%(link)s",
                url=endpoint.url,
                count=endpoint.consecutive_dead,
                since=endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC"),
                error=endpoint.disabled_reason,
                link=link,
            )
        queue_email(
            to=admin.email,
            subject=subject,
            text=text,
            trigger="webhook_off",
            organisation_id=org.id,
            agent_id=admin.id,
            dedupe_key=f"webhook-disabled:{endpoint.id}:{int(endpoint.disabled_at.timestamp())}"
            f":{admin.id}",
        )
        sent += 1
    return sent
