"""Fan-out: one template rendered for many (agent, page) pairs and written to
the outbox in bulk. Broadcasts and the automatic messages share it.

Made for 100 000 agents in seconds: the recipients come back as plain rows in
one query, the money, ranks and gaps are computed once per cause, each
template is compiled once, and rows are inserted as dicts, a thousand per
statement, ``ON CONFLICT (dedupe_key) DO NOTHING``. Nothing is sent here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.sql import Select
from werkzeug.routing import BuildError

from campaigns.model_types import utcnow
from campaigns.money import format_money
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import EVENT_KINDS, Page
from campaigns.urls import absolute_url
from extensions import db
from messaging.broadcasts.recipients import (
    Places,
    Recipient,
    Standing,
    places,
    recipients,
)
from messaging.outbox.models import Channel
from messaging.outbox.queue import bulk_insert, enqueue
from messaging.sharing.models import ShareLink
from messaging.templating.models import MessageTemplate

log = logging.getLogger(__name__)

CHUNK = 1000
# The channels a message is delivered on; text to copy is pasted by the agent.
SENT_CHANNELS = frozenset({Channel.X.value, Channel.FACEBOOK.value, Channel.EMAIL.value})


# --- templates ---------------------------------------------------------------


class TemplateSet:
    """The templates of one message, by channel then locale; an agent gets
    their own language when a template exists in it, else the organisation's.
    Text to copy is left out: only the agent's share kit offers it."""

    def __init__(self, templates: Iterable[MessageTemplate], default_locale: str):
        self.by_channel: dict[str, dict[str, MessageTemplate]] = {}
        for template in templates:
            if str(template.channel) not in SENT_CHANNELS:
                continue
            self.by_channel.setdefault(str(template.channel), {})[template.locale] = template
        self.default_locale = default_locale

    def __bool__(self) -> bool:
        return bool(self.by_channel)

    def pick(self, locale: str) -> list[MessageTemplate]:
        chosen = []
        for variants in self.by_channel.values():
            template = (
                variants.get(locale)
                or variants.get(self.default_locale)
                or next(iter(variants.values()))
            )
            chosen.append(template)
        return chosen


def locale_variants(template: MessageTemplate) -> list[MessageTemplate]:
    """A template and its translations: same organisation, name, trigger and channel."""
    siblings = db.session.scalars(
        select(MessageTemplate).where(
            MessageTemplate.organisation_id == template.organisation_id,
            MessageTemplate.name == template.name,
            MessageTemplate.trigger == template.trigger,
            MessageTemplate.channel == template.channel,
            MessageTemplate.cause_id.is_(None)
            if template.cause_id is None
            else MessageTemplate.cause_id == template.cause_id,
            MessageTemplate.is_active.is_(True),
            MessageTemplate.id != template.id,
        )
    ).all()
    return [*(s for s in siblings if s.locale != template.locale), template]


# --- contexts ----------------------------------------------------------------


class Links:
    """Absolute addresses of pages, causes and share links, the same as
    ``campaigns.urls.absolute_url`` gives, built once per fan-out."""

    def __init__(self):
        self._page = absolute_url("campaigns.page_detail", slug="SLUG")
        self._cause = absolute_url("campaigns.cause_detail", slug="SLUG")
        try:
            self._share = absolute_url("sharing.follow", code="CODE")
        except BuildError:  # share links not served: messages link to the page
            self._share = ""

    def page(self, slug: str) -> str:
        return self._page.replace("SLUG", slug)

    def cause(self, slug: str) -> str:
        return self._cause.replace("SLUG", slug)

    @property
    def can_share(self) -> bool:
        return bool(self._share)

    def share(self, code: str) -> str:
        return self._share.replace("CODE", code)


@lru_cache(maxsize=8192)
def money(amount_minor: int, currency: str, locale: str) -> str:
    # Many pages share a goal or a total, and Babel's formatting is the costly part.
    return format_money(amount_minor, currency, locale)


def _days_left(ends_at: datetime | None, now: datetime) -> int | None:
    if ends_at is None:
        return None
    return max(0, math.ceil((ends_at - now).total_seconds() / 86400))


def context(
    org: Organisation,
    cause: Cause,
    row: Recipient,
    where: Places,
    links: Links,
    *,
    locale: str,
    share_url: str,
    now: datetime,
    memo: dict | None = None,
) -> dict:
    """What ``messaging.templating.context.build_context`` gives for this agent and page,
    from figures computed in bulk (the tests hold the two equal). ``memo``: a dict
    kept for one fan-out, where the parts that many rows share (the cause, the
    organisation, an event, per language) are made once; the sandbox is
    immutable, so rows may share them."""
    memo = {} if memo is None else memo
    currency = org.currency
    standing = where.pages.get(row.page_id) or Standing()
    raised = standing.raised_minor
    is_event = row.page_kind in EVENT_KINDS
    event_id = row.page_id if is_event else row.page_parent_id
    page_url = links.page(row.page_slug)
    name = row.agent_name
    shared = memo.get(locale)
    if shared is None:
        shared = memo[locale] = _shared(org, cause, where, links, locale, now)
    event = None
    if event_id and (info := where.events.get(event_id)) is not None:
        event = memo.get((event_id, locale))
        if event is None:
            event = memo[(event_id, locale)] = {
                "title": info.title,
                "url": links.page(info.slug),
                "city": info.city,
                "raised": money(info.raised_minor, currency, locale),
                "rank": info.rank,
            }
    return {
        "agent": {"name": name, "first_name": name.split()[0] if name.strip() else ""},
        "page": {
            "title": row.page_title,
            "url": page_url,
            "share_url": share_url or page_url,
            "raised": money(raised, currency, locale),
            "raised_minor": raised,
            "goal": money(row.page_goal, currency, locale),
            "goal_minor": row.page_goal,
            "percent": max(0, raised * 100 // row.page_goal) if row.page_goal else 0,
            "rank": standing.rank,
            "gap_to_next": money(standing.gap_minor, currency, locale)
            if standing.gap_minor is not None
            else "",
            "next_title": standing.above_title,
            "donor_count": standing.donor_count,
            "city": row.page_city,
            "kind": row.page_kind,
        },
        "cause": shared["cause"],
        "organisation": shared["organisation"],
        "event": event,
        "old_rank": None,
        "passed": None,
        "passed_by": None,
        "gifts": None,
        "badge": None,
    }


def _shared(org, cause, where: Places, links: Links, locale: str, now: datetime) -> dict:
    return {
        "cause": {
            "title": cause.title,
            "url": links.cause(cause.slug),
            "raised": money(where.cause_raised, org.currency, locale),
            "goal": money(cause.goal_minor, org.currency, locale),
            "days_left": _days_left(cause.ends_at, now),
        },
        "organisation": {"name": org.name},
    }


# --- rows --------------------------------------------------------------------


def render_rows(
    org: Organisation,
    cause: Cause,
    templates: TemplateSet,
    rows: list[Recipient],
    *,
    extra: Callable[[Recipient], dict] | dict | None = None,
    where: Places | None = None,
) -> Iterator[tuple]:
    """(Rendered, recipient, template) for every recipient and its channels.
    ``where``: the cause's figures when already known, else computed once here."""
    from messaging.templating.rendering import render_message

    where = where or places(cause.id)
    links = Links()
    codes = share_codes(cause.id, rows, list(templates.by_channel)) if links.can_share else {}
    now = utcnow()
    memo: dict = {}
    for row in rows:
        locale = row.agent_locale or org.locale or templates.default_locale
        more = extra(row) if callable(extra) else extra
        for template in templates.pick(locale):
            channel = str(template.channel)
            data = context(
                org,
                cause,
                row,
                where,
                links,
                locale=template.locale,
                share_url=links.share(code)
                if (code := codes.get((row.agent_id, row.page_id, channel)))
                else "",
                now=now,
                memo=memo,
            )
            if more:
                data.update(more)
            try:
                rendered = render_message(template, data)
            except Exception:
                # The template was checked when saved; one bad row must not stop the rest.
                log.exception("template %s failed for agent %s", template.id, row.agent_id)
                continue
            yield rendered, row, template


def share_codes(cause_id: int, rows: list[Recipient], channels: list[str]) -> dict[tuple, str]:
    """Each agent's share-link code per page and channel (``messaging.sharing.services``'s
    links), the missing ones made in one bulk insert."""
    from messaging.sharing.services import SHARE_CHANNELS, new_codes

    channels = [c for c in channels if c in SHARE_CHANNELS]
    if not rows or not channels:
        return {}
    wanted = {(r.agent_id, r.page_id, c) for r in rows for c in channels}
    query = select(ShareLink.agent_id, ShareLink.page_id, ShareLink.channel, ShareLink.code).where(
        ShareLink.channel.in_(channels)
    )
    if len(rows) > 500:
        query = query.where(ShareLink.page_id.in_(select(Page.id).where(Page.cause_id == cause_id)))
    else:
        query = query.where(ShareLink.page_id.in_({r.page_id for r in rows}))
    for _attempt in range(3):
        codes = {
            (a, p, c): code for a, p, c, code in db.session.execute(query) if (a, p, c) in wanted
        }
        missing = wanted - codes.keys()
        if not missing:
            break
        now = utcnow()
        bulk_insert(
            ShareLink.__table__,
            [
                {
                    "code": code,
                    "agent_id": a,
                    "page_id": p,
                    "channel": c,
                    "click_count": 0,
                    "created_at": now,
                }
                for (a, p, c), code in zip(sorted(missing), new_codes(len(missing)), strict=True)
            ],
        )
    return codes


def fan_out(
    org: Organisation,
    cause: Cause,
    templates: TemplateSet,
    pairs: Select,
    *,
    dedupe: Callable[[Recipient, str], str],
    trigger: str,
    broadcast_id: int | None = None,
    extra: Callable[[Recipient], dict] | dict | None = None,
    rows: list[Recipient] | None = None,
    where: Places | None = None,
    now: datetime | None = None,
) -> int:
    """Render a message for every (agent, page) pair and add the outbox rows;
    returns how many were new (a dedupe key already there adds nothing)."""
    if not templates:
        return 0
    rows = recipients(pairs) if rows is None else rows
    now = now or utcnow()
    batch: list[dict] = []
    written = 0
    for rendered, row, template in render_rows(
        org, cause, templates, rows, extra=extra, where=where
    ):
        channel = str(template.channel)
        if channel not in SENT_CHANNELS:
            continue  # nothing would deliver it (a TemplateSet built by hand)
        if channel == Channel.EMAIL and not row.agent_email:
            continue
        key = dedupe(row, channel)
        batch.append(
            {
                "dedupe_key": key,
                "organisation_id": org.id,
                "agent_id": row.agent_id,
                "page_id": row.page_id,
                "broadcast_id": broadcast_id,
                "template_id": template.id,
                "trigger": str(trigger),
                "channel": channel,
                "recipient": (row.agent_email or "") if channel == Channel.EMAIL else "",
                "subject": (rendered.subject or "")[:300],
                "body_text": rendered.text or "",
                "body_html": rendered.html or "",
                # Every other column takes outbox.enqueue's defaults.
                "next_attempt_at": now,
                "created_at": now,
            }
        )
        if len(batch) >= CHUNK * 10:
            written += enqueue(batch)
            batch = []
    if batch:
        written += enqueue(batch)
    return written
