"""Outgoing webhooks: the endpoints staff register, and the outbox rows an
event becomes.

An event is queued in the unit of work of the news itself (a receiver of a
campaigns signal, ``messaging.listeners``): one outbox row per endpoint that
wants it, dedupe key ``webhook:<endpoint id>:<event id>``, so a unit that runs
again, or a Stripe event delivered twice, queues nothing twice. A worker sends
it later (``messaging.outbox.delivery``), signed (``sending``).
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update

from agents.models import Agent
from campaigns import audit
from campaigns.errors import Conflict, NotFound, ValidationError
from campaigns.fund_use.models import Expense
from campaigns.giving.models import Donation, DonationKind
from campaigns.model_types import utcnow
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Organisation
from campaigns.pages.models import Page
from extensions import db
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus
from messaging.outbox.queue import enqueue
from messaging.webhooks import events, sending
from messaging.webhooks.addresses import url_problem
from messaging.webhooks.models import WebhookEndpoint

DESCRIPTION_MAX = 300
# Rows a person may send again: finished ones (a row waiting or being sent is on its way).
FINISHED = (
    OutboxStatus.SENT,
    OutboxStatus.DEAD,
    OutboxStatus.SKIPPED,
    OutboxStatus.CANCELLED,
    OutboxStatus.REVIEW,
)


# -- endpoints ---------------------------------------------------------------------------


def check(data: dict) -> tuple[dict, dict]:
    """The endpoint's fields from a form: (clean values, {field: message})."""
    errors: dict[str, str] = {}
    url = str(data.get("url") or "").strip()
    problem = url_problem(url)
    if problem:
        errors["url"] = problem
    description = " ".join(str(data.get("description") or "").split())
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = _(
            "Keep the description under %(max)d characters.", max=DESCRIPTION_MAX
        )
    chosen = data.get("event_types") or []
    if isinstance(chosen, str):
        chosen = [chosen]
    types = [t for t in events.CATALOGUE if t in set(map(str, chosen))]
    if not types or len(types) != len(set(map(str, chosen))):
        errors["event_types"] = _("Choose at least one of the events listed.")
    return {"url": url, "description": description, "event_types": types}, errors


def endpoints(organisation: Organisation) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organisation_id == organisation.id)
            .order_by(WebhookEndpoint.id)
        )
    )


def endpoint_of(organisation: Organisation, endpoint_id: int) -> WebhookEndpoint:
    """The organisation's endpoint; NotFound for another organisation's."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.organisation_id != organisation.id:
        raise NotFound(_("This endpoint does not exist."))
    return endpoint


def _log(staff: Agent, endpoint: WebhookEndpoint, action: str, summary: str, **details) -> None:
    audit.record(
        endpoint.organisation_id,
        staff,
        f"webhook.{action}",
        f"Webhook endpoint #{endpoint.id} ({endpoint.url}): {summary}",
        subject=endpoint,
        details={"url": endpoint.url, **details},
    )


def create_endpoint(staff: Agent, organisation: Organisation, data: dict) -> WebhookEndpoint:
    """Register an endpoint with a new secret (staff); it receives events from now on."""
    org_services.require_staff(staff, organisation.id)
    clean, errors = check(data)
    if errors:
        raise ValidationError(errors)
    endpoint = WebhookEndpoint(
        organisation_id=organisation.id,
        secret_encrypted=sending.seal(sending.new_secret()),
        created_by_id=staff.id,
        **clean,
    )
    db.session.add(endpoint)
    db.session.flush()
    _log(staff, endpoint, "create", "registered", event_types=clean["event_types"])
    return endpoint


def update_endpoint(staff: Agent, endpoint: WebhookEndpoint, data: dict) -> WebhookEndpoint:
    """Change the URL, description or events (staff). Waiting deliveries go to the new URL."""
    org_services.require_staff(staff, endpoint.organisation_id)
    clean, errors = check(data)
    if errors:
        raise ValidationError(errors)
    before = {"url": endpoint.url, "event_types": list(endpoint.event_types)}
    for key, value in clean.items():
        setattr(endpoint, key, value)
    db.session.flush()
    _log(staff, endpoint, "update", "changed", before=before, event_types=clean["event_types"])
    return endpoint


def set_enabled(staff: Agent, endpoint: WebhookEndpoint, enabled: bool) -> WebhookEndpoint:
    """Turn an endpoint off (no new deliveries; waiting ones are skipped) or on again."""
    org_services.require_staff(staff, endpoint.organisation_id)
    if endpoint.is_enabled == enabled:
        raise Conflict(
            _("This endpoint is already enabled.")
            if enabled
            else _("This endpoint is already disabled.")
        )
    endpoint.is_enabled = enabled
    if enabled:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
        endpoint.consecutive_dead, endpoint.failing_since = 0, None
    else:
        endpoint.disabled_at = utcnow()
    db.session.flush()
    _log(staff, endpoint, "enable" if enabled else "disable", "enabled" if enabled else "disabled")
    return endpoint


def delete_endpoint(staff: Agent, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint; its waiting deliveries are cancelled, its history stays in the outbox."""
    org_services.require_staff(staff, endpoint.organisation_id)
    _log(staff, endpoint, "delete", "deleted")
    rows = OutboxMessage.webhook_endpoint_id == endpoint.id
    db.session.execute(
        update(OutboxMessage)
        .where(rows, OutboxMessage.status.in_((OutboxStatus.QUEUED, OutboxStatus.FAILED)))
        .values(status=OutboxStatus.CANCELLED, last_error="The endpoint was deleted.")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(OutboxMessage)
        .where(rows)
        .values(webhook_endpoint_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.delete(endpoint)
    db.session.flush()


def rotate_secret(staff: Agent, endpoint: WebhookEndpoint) -> str:
    """A new secret for the endpoint; the old one keeps signing beside it for
    ``WEBHOOK_ROTATION_OVERLAP_HOURS`` so the receiver can switch. Returns the new one."""
    org_services.require_staff(staff, endpoint.organisation_id)
    secret = sending.new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = utcnow() + sending.rotation_overlap()
    endpoint.secret_encrypted = sending.seal(secret)
    db.session.flush()
    _log(staff, endpoint, "rotate", "secret rotated")
    return secret


def secret_of(endpoint: WebhookEndpoint) -> str:
    """The endpoint's current secret, for its staff to copy into the receiver."""
    return sending.unseal(endpoint.secret_encrypted)


def deliveries(endpoint: WebhookEndpoint, limit: int = 50) -> list[OutboxMessage]:
    """The endpoint's latest deliveries, newest first."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.webhook_endpoint_id == endpoint.id)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def send_test(staff: Agent, endpoint: WebhookEndpoint) -> OutboxMessage:
    """Queue a ``webhook.test`` event for this endpoint (even a disabled one:
    staff check that the receiver is back before enabling it)."""
    org_services.require_staff(staff, endpoint.organisation_id)
    event = events.ping_event(db.session.get(Organisation, endpoint.organisation_id))
    _queue([endpoint], event)
    db.session.flush()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == _key(endpoint, event))
    ).one()


def send_again(staff: Agent, endpoint: WebhookEndpoint, message_id: int) -> OutboxMessage:
    """Queue one finished delivery again, as it was: same body, same webhook-id."""
    org_services.require_staff(staff, endpoint.organisation_id)
    message = db.session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.webhook_endpoint_id != endpoint.id:
        raise NotFound(_("This delivery does not exist."))
    if message.status not in FINISHED:
        raise Conflict(_("This delivery is on its way already."))
    previous = str(message.status)
    message.status = OutboxStatus.QUEUED
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.claimed_at, message.claimed_by = None, ""
    db.session.flush()
    _log(staff, endpoint, "send_again", f"{message.message_id} sent again", previous=previous)
    return message


# -- events become outbox rows ----------------------------------------------------------


def _key(endpoint: WebhookEndpoint, event: events.Event) -> str:
    return f"webhook:{endpoint.id}:{event.id}"


def _queue(targets: list[WebhookEndpoint], event: events.Event) -> int:
    return enqueue(
        {
            "dedupe_key": _key(endpoint, event),
            "organisation_id": endpoint.organisation_id,
            "webhook_endpoint_id": endpoint.id,
            "channel": Channel.WEBHOOK.value,
            "trigger": "webhook",
            "subject": event.type,
            "body_text": event.body,
            "message_id": event.id,
        }
        for endpoint in targets
    )


def queue_event(event: events.Event) -> int:
    """One outbox row per enabled endpoint of the organisation that wants this
    event, in the caller's unit of work; returns how many were added."""
    subscribed = [
        endpoint
        for endpoint in db.session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.organisation_id == event.organisation_id,
                WebhookEndpoint.is_enabled.is_(True),
            )
        )
        if event.type in (endpoint.event_types or [])
    ]
    return _queue(subscribed, event) if subscribed else 0


def _has_endpoints(organisation_id: int | None) -> bool:
    # The common case (no endpoint at all) costs one indexed read per news.
    return organisation_id is not None and (
        db.session.scalar(
            select(WebhookEndpoint.id)
            .where(
                WebhookEndpoint.organisation_id == organisation_id,
                WebhookEndpoint.is_enabled.is_(True),
            )
            .limit(1)
        )
        is not None
    )


# Receivers of campaigns' signals (connected in messaging.listeners).


def on_gift_recorded(donation: Donation, **_extra) -> int:
    if donation.kind not in (DonationKind.GIFT, DonationKind.OFFLINE):
        return 0
    if not _has_endpoints(donation.organisation_id):
        return 0
    return queue_event(events.gift_recorded(donation))


def on_gift_refunded(refund: Donation, *, gift: Donation, **_extra) -> int:
    if not _has_endpoints(gift.organisation_id):
        return 0
    return queue_event(events.gift_refunded(refund, gift))


def on_gift_disputed(dispute: Donation, *, gift: Donation, dispute_id: str, **_extra) -> int:
    if not _has_endpoints(gift.organisation_id):
        return 0
    return queue_event(events.gift_disputed(dispute, gift, dispute_id))


def on_page_published(page: Page, **_extra) -> int:
    if not _has_endpoints(page.cause.organisation_id):
        return 0
    if page.id is None:
        db.session.flush()  # a new page is published before its first flush
    return queue_event(events.page_published(page))


def on_page_closed(page: Page, **_extra) -> int:
    if not _has_endpoints(page.cause.organisation_id):
        return 0
    return queue_event(events.page_closed(page))


def on_expense_published(expense: Expense, **_extra) -> int:
    if not _has_endpoints(expense.project.cause.organisation_id):
        return 0
    return queue_event(events.expense_published(expense))
