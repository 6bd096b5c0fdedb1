"""Broadcasts: a template sent to an audience of a cause, now, later or on a
schedule. Staff create, preview, schedule and cancel them; ``expand_due`` (run
by the ``expand-broadcasts`` job, ``jobs.expand_due_job``) turns each due
broadcast into outbox rows in bulk and sends nothing itself.

Services take the acting staff agent and never commit; ``expand_due`` is a job
and commits once per broadcast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql import Select

from agents.models import Agent
from campaigns import inputs, unit_of_work
from campaigns.errors import Conflict, ValidationError
from campaigns.model_types import utcnow
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page, PageStatus
from campaigns.totals import services as totals
from campaigns.totals.models import Total, TotalScope
from campaigns.unit_of_work import begin_write
from extensions import db
from messaging.broadcasts import fanout
from messaging.broadcasts.models import Audience, Broadcast, BroadcastStatus
from messaging.broadcasts.recipients import people_of, recipients
from messaging.outbox.models import Channel, OutboxMessage
from messaging.templating.models import MessageTemplate, Trigger

log = logging.getLogger(__name__)

RECURRENCES = {"": None, "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
SAMPLE_SIZE = 3
# A time a few minutes in the past is "now" typed slowly, not a mistake.
PAST_TOLERANCE = timedelta(minutes=5)
MAX_BROADCASTS_PER_RUN = 100


@dataclass(frozen=True)
class AudienceParams:
    """Who a broadcast goes to, without the broadcast (for previews)."""

    cause_id: int
    audience: str
    audience_value: int | None = None


@dataclass(frozen=True)
class Sample:
    agent_name: str
    page_title: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Preview:
    count: int
    samples: list[Sample]


# --- audiences ---------------------------------------------------------------


def page_raised():
    """A page's money for goal checks: its own gifts, or with its members' for an event."""
    figures = (
        select(
            Total.scope,
            Total.scope_id,
            func.sum(Total.raised_minor).label("raised"),
            func.sum(Total.donation_count).label("gifts"),
        )
        .where(Total.scope.in_((TotalScope.PAGE, TotalScope.EVENT)))
        .group_by(Total.scope, Total.scope_id)
        .subquery()
    )
    join = and_(figures.c.scope_id == Page.id, figures.c.scope == totals.page_scope_column())
    return figures, join


def _pages(params: AudienceParams) -> Select:
    """The pages an audience covers (id, owner)."""
    query = select(Page.id, Page.owner_id).where(
        Page.cause_id == params.cause_id, Page.status == PageStatus.PUBLISHED
    )
    audience = params.audience
    if audience == Audience.HOSTS:
        query = query.where(Page.is_event)
    elif audience in (Audience.BELOW_GOAL, Audience.NO_GIFT):
        figures, join = page_raised()
        query = query.outerjoin(figures, join)
        if audience == Audience.BELOW_GOAL:
            percent = int(params.audience_value or 0)
            query = query.where(
                Page.goal_minor > 0,
                func.coalesce(figures.c.raised, 0) * 100 < Page.goal_minor * percent,
            )
        else:
            query = query.where(func.coalesce(figures.c.gifts, 0) == 0)
    elif audience == Audience.EVENT:
        event_id = int(params.audience_value or 0)
        query = query.where(or_(Page.id == event_id, Page.parent_id == event_id))
    elif audience != Audience.ALL:
        raise ValueError(f"unknown audience {audience!r}")
    return query


def audience_query(source: Broadcast | AudienceParams) -> Select:
    """The (agent_id, page_id) pairs a broadcast reaches: each page's owner and,
    for events, its co-hosts; deleted and deactivated agents are left out."""
    return people_of(_pages(_params(source)))


def audience_count(source: Broadcast | AudienceParams) -> int:
    pairs = audience_query(source).subquery()
    return int(db.session.scalar(select(func.count()).select_from(pairs)) or 0)


def _params(source: Broadcast | AudienceParams) -> AudienceParams:
    if isinstance(source, AudienceParams):
        return source
    return AudienceParams(source.cause_id, str(source.audience), source.audience_value)


# --- input -------------------------------------------------------------------


def clean_input(org: Organisation, data: dict[str, Any]) -> dict[str, Any]:
    """Check a broadcast's fields; ValidationError names each problem and what to do."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    cause = _own(Cause, data.get("cause_id"))
    if cause is None or cause.organisation_id != org.id:
        errors["cause_id"] = _("Choose one of your organisation's causes.")
    else:
        clean["cause_id"] = cause.id
    template = _own(MessageTemplate, data.get("template_id"))
    if (
        template is None
        or template.organisation_id != org.id
        or template.trigger != Trigger.BROADCAST
        or not template.is_active
        or (cause is not None and template.cause_id not in (None, cause.id))
    ):
        errors["template_id"] = _(
            "Choose an active broadcast template of your organisation for this cause."
        )
    elif template.channel == Channel.COPY:  # saved before copy templates were refused
        errors["template_id"] = _(
            "Text to copy is only offered in agents' share kits, never sent: choose an X, "
            "Facebook or email template."
        )
    else:
        clean["template_id"] = template.id
    audience = str(data.get("audience") or "")
    if audience not in {a.value for a in Audience}:
        errors["audience"] = _("Choose who receives the broadcast.")
    else:
        clean["audience"] = Audience(audience)
    value = _int(data.get("audience_value"))
    clean["audience_value"] = None
    if audience == Audience.BELOW_GOAL:
        if value is None or not 1 <= value <= 100:
            errors["audience_value"] = _("Enter a percentage of the goal from 1 to 100.")
        clean["audience_value"] = value
    elif audience == Audience.EVENT:
        event = db.session.get(Page, value) if value else None
        if (
            event is None
            or not event.is_event
            or event.status != PageStatus.PUBLISHED
            or (cause is not None and event.cause_id != cause.id)
        ):
            errors["audience_value"] = _("Choose a published event of this cause.")
        clean["audience_value"] = value
    try:
        send_at = inputs.parse_datetime(data.get("send_at"))
    except (ValueError, TypeError, OverflowError):
        errors["send_at"] = _("Enter a date and time such as 2026-06-21 19:00, or send now.")
        send_at = None
    if send_at is not None and send_at < utcnow() - PAST_TOLERANCE:
        errors["send_at"] = _("This time has passed. Choose a time in the future, or send now.")
    clean["send_at"] = send_at
    recurrence = str(data.get("recurrence") or "")
    if recurrence not in RECURRENCES:
        errors["recurrence"] = _("Choose once, every day or every week.")
    clean["recurrence"] = recurrence
    if errors:
        raise ValidationError(errors)
    return clean


MAX_ID = 2**31 - 1  # PostgreSQL integer keys


def _int(value: Any) -> int | None:
    """A database id from form input, or None (also for ids no row can have)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 1 <= value <= MAX_ID:
        return value
    return None


def _own(model, value: Any):
    ident = _int(value)
    return db.session.get(model, ident) if ident else None


# --- staff actions -----------------------------------------------------------


def preview(staff: Agent, org: Organisation, cause: Cause, params: dict[str, Any]) -> Preview:
    """How many agents a broadcast would reach, and the message rendered for
    the first few of them. Writes nothing."""
    org_services.require_staff(staff, org.id)
    clean = clean_input(org, {**params, "cause_id": cause.id, "send_at": None})
    template = db.session.get(MessageTemplate, clean["template_id"])
    audience = AudienceParams(cause.id, clean["audience"], clean["audience_value"])
    pairs = audience_query(audience).order_by("agent_id", "page_id")
    rows = recipients(pairs.limit(SAMPLE_SIZE))
    samples = []
    for rendered, row, _template in fanout.render_rows(
        org, cause, fanout.TemplateSet([template], org.locale), rows
    ):
        samples.append(
            Sample(row.agent_name, row.page_title, rendered.subject, rendered.text, rendered.html)
        )
    return Preview(audience_count(audience), samples)


def create(staff: Agent, org: Organisation, data: dict[str, Any]) -> Broadcast:
    """A draft broadcast; ``schedule`` queues it."""
    org_services.require_staff(staff, org.id)
    clean = clean_input(org, data)
    broadcast = Broadcast(
        organisation_id=org.id,
        status=BroadcastStatus.DRAFT,
        created_by_id=staff.id,
        **clean,
    )
    db.session.add(broadcast)
    db.session.flush()
    return broadcast


def schedule(staff: Agent, broadcast: Broadcast) -> Broadcast:
    """Queue a draft for its send time (now when it has none)."""
    org_services.require_staff(staff, broadcast.organisation_id)
    if broadcast.status != BroadcastStatus.DRAFT:
        raise Conflict(
            _(
                "Only a draft can be scheduled; this broadcast is already %(status)s.",
                status=status_label(broadcast.status),
            )
        )
    broadcast.send_at = broadcast.send_at or utcnow()
    broadcast.status = BroadcastStatus.SCHEDULED
    db.session.flush()
    return broadcast


def cancel(staff: Agent, broadcast: Broadcast) -> Broadcast:
    """Stop a draft or scheduled broadcast (a recurring one stops recurring).
    Messages already in the outbox stay there."""
    org_services.require_staff(staff, broadcast.organisation_id)
    if broadcast.status not in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED):
        raise Conflict(_("This broadcast was already sent or cancelled."))
    broadcast.status = BroadcastStatus.CANCELLED
    db.session.flush()
    return broadcast


def status_label(status: str) -> str:
    return {
        BroadcastStatus.DRAFT: _("draft"),
        BroadcastStatus.SCHEDULED: _("scheduled"),
        BroadcastStatus.SENT: _("sent"),
        BroadcastStatus.CANCELLED: _("cancelled"),
    }.get(status, str(status))


def outbox_counts(broadcast_ids: list[int]) -> dict[int, dict[str, int]]:
    """Outbox rows per status for each broadcast: what was delivered, what waits."""
    if not broadcast_ids:
        return {}
    rows = db.session.execute(
        select(OutboxMessage.broadcast_id, OutboxMessage.status, func.count())
        .where(OutboxMessage.broadcast_id.in_(broadcast_ids))
        .group_by(OutboxMessage.broadcast_id, OutboxMessage.status)
    ).all()
    counts: dict[int, dict[str, int]] = {i: {} for i in broadcast_ids}
    for broadcast_id, status, count in rows:
        counts[broadcast_id][str(status)] = int(count)
    return counts


# --- expansion (the scheduled job) -------------------------------------------


def expand_due(now: datetime | None = None) -> int:
    """Expand every due broadcast into outbox rows; returns how many rows were
    written. One commit per broadcast; a broadcast another process is
    expanding is skipped (row lock on PostgreSQL, write lock on SQLite)."""
    now = now or utcnow()
    written, failed = 0, set()
    for _attempt in range(MAX_BROADCASTS_PER_RUN):
        if db.session.get_bind().dialect.name == "sqlite":
            begin_write()
        query = (
            select(Broadcast)
            .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.send_at <= now)
            .order_by(Broadcast.send_at, Broadcast.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if failed:
            query = query.where(Broadcast.id.not_in(failed))
        broadcast = db.session.scalars(query).first()
        if broadcast is None:
            break
        broadcast_id = broadcast.id
        try:
            written += expand(broadcast, now)
            unit_of_work.checkpoint()  # one broadcast at a time: a failure spoils only its own
        except Exception:
            unit_of_work.discard()
            failed.add(broadcast_id)
            log.exception("broadcast %s could not be expanded", broadcast_id)
    return written


def expand(broadcast: Broadcast, now: datetime) -> int:
    """Write one run of a (locked) broadcast into the outbox and move it on:
    sent, or its next time when it recurs. Returns the rows written."""
    run = broadcast.runs + 1
    org = db.session.get(Organisation, broadcast.organisation_id)
    cause = db.session.get(Cause, broadcast.cause_id)
    template = db.session.get(MessageTemplate, broadcast.template_id)
    templates = fanout.TemplateSet(fanout.locale_variants(template), org.locale)
    prefix = f"broadcast:{broadcast.id}:run:{run}"
    written = fanout.fan_out(
        org,
        cause,
        templates,
        audience_query(broadcast).order_by("agent_id", "page_id"),
        dedupe=lambda row, channel: f"{prefix}:agent:{row.agent_id}:page:{row.page_id}:{channel}",
        trigger=Trigger.BROADCAST,
        broadcast_id=broadcast.id,
        now=now,
    )
    broadcast.runs = run
    broadcast.last_run_at = now
    broadcast.message_count = (broadcast.message_count or 0) + written
    period = RECURRENCES.get(broadcast.recurrence or "")
    if period is None:
        broadcast.status = BroadcastStatus.SENT
    else:
        next_at = broadcast.send_at or now
        while next_at <= now:
            next_at += period
        broadcast.send_at = next_at
    db.session.flush()
    return written
