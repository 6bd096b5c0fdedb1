"""Automatic messages: welcome, first gift, 50 % and 100 % of the goal, gifts
on your page (batched), rank changes (to the page that moved up and to the
page it passed), the daily digest of a cause's last days, and a nudge for
quiet pages.

Each is a message template with that trigger, toggled per organisation
(``AutoMessageSetting``, on by default). Signal receivers run inside the
sender's transaction and jobs run on the scheduler; both only add outbox rows,
with dedupe keys that make each message happen once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from agents.models import Agent
from campaigns import unit_of_work
from campaigns.errors import ValidationError
from campaigns.giving.models import Donation, DonationKind
from campaigns.model_types import utcnow
from campaigns.organisations import services
from campaigns.organisations.models import Cause, CauseStatus, Organisation
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.standings import boards as standings_boards
from campaigns.standings import leaderboards as standings_leaderboards
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db
from messaging.automatic.models import AutoMessageSetting, RankSnapshot
from messaging.broadcasts import fanout
from messaging.outbox.models import Channel, OutboxMessage
from messaging.templating.models import MessageTemplate, Trigger

log = logging.getLogger(__name__)

EVENT_KINDS = (PageKind.EVENT, PageKind.TEAM)
COUNTED = (DonationKind.GIFT, DonationKind.OFFLINE)
WALL_CLOCK = ZoneInfo("Europe/Paris")

# Every automatic message, its label and its knobs (name: (default, low, high)).
AUTOMATIC: dict[str, dict[str, Any]] = {
    Trigger.WELCOME: {"label": _l("Welcome, when a page is published"), "options": {}},
    Trigger.FIRST_GIFT: {"label": _l("A page's first gift"), "options": {}},
    Trigger.GOAL_50: {"label": _l("Half of a page's goal reached"), "options": {}},
    Trigger.GOAL_100: {"label": _l("A page's goal reached"), "options": {}},
    Trigger.GIFTS: {
        "label": _l("Gifts on your page (at most one message an hour)"),
        "options": {},
    },
    Trigger.RANK_CHANGE: {"label": _l("Moving up the leaderboard"), "options": {}},
    Trigger.RANK_PASSED: {
        "label": _l("Passed on the leaderboard (to the page that was passed)"),
        "options": {},
    },
    Trigger.DAILY_DIGEST: {
        "label": _l("Daily digest in a cause's last days"),
        "options": {"days_before_end": (3, 1, 30), "hour": (9, 0, 23)},
    },
    Trigger.NUDGE: {
        "label": _l("Nudge for a page without gifts"),
        "options": {"inactive_days": (7, 1, 90)},
    },
}
OPTION_LABELS = {
    "days_before_end": _l("Days before the end of the cause"),
    "hour": _l("Hour of the day it is sent (Paris time)"),
    "inactive_days": _l("Days without a gift"),
}
GIFT_DIGEST_WINDOW = timedelta(hours=24)
GIFT_DIGEST_EVERY = timedelta(hours=1)
SNAPSHOT_RETENTION = timedelta(days=30)


# --- settings ----------------------------------------------------------------


def setting(organisation_id: int, trigger: str) -> tuple[bool, dict[str, int]]:
    """Whether an organisation sends this message, and its options (defaults filled in)."""
    row = db.session.get(AutoMessageSetting, (organisation_id, str(trigger)))
    defaults = {k: v[0] for k, v in AUTOMATIC[trigger]["options"].items()}
    if row is None:
        return True, defaults
    return bool(row.is_enabled), {**defaults, **(row.options or {})}


def settings(org: Organisation) -> list[dict[str, Any]]:
    """Every automatic message with its state, for the staff page."""
    with_template = set(
        db.session.scalars(
            select(MessageTemplate.trigger)
            .where(
                MessageTemplate.organisation_id == org.id,
                MessageTemplate.is_active.is_(True),
                # Text to copy is never sent: it does not make a message go out.
                MessageTemplate.channel != Channel.COPY,
            )
            .distinct()
        )
    )
    out = []
    for trigger, spec in AUTOMATIC.items():
        enabled, options = setting(org.id, trigger)
        out.append(
            {
                "trigger": str(trigger),
                "label": spec["label"],
                "is_enabled": enabled,
                "options": [
                    {"name": name, "label": OPTION_LABELS[name], "value": options[name]}
                    for name in spec["options"]
                ],
                "has_template": str(trigger) in with_template,
            }
        )
    return out


def save_setting(
    staff: Agent, org: Organisation, trigger: str, is_enabled: bool, options: dict[str, Any]
) -> AutoMessageSetting:
    """Turn one automatic message on or off and set its options (staff)."""
    services.require_staff(staff, org.id)
    if trigger not in AUTOMATIC:
        raise ValidationError({"trigger": _("Choose one of the automatic messages.")})
    clean, errors = {}, {}
    for name, (default, low, high) in AUTOMATIC[trigger]["options"].items():
        raw = options.get(name, default)
        try:
            value = int(str(raw).strip())
            if not low <= value <= high:
                raise ValueError
        except ValueError:
            errors[f"{trigger}-{name}"] = _(
                "Enter a whole number from %(low)s to %(high)s.", low=low, high=high
            )
            continue
        clean[name] = value
    if errors:
        raise ValidationError(errors)
    row = db.session.get(AutoMessageSetting, (org.id, str(trigger)))
    if row is None:
        row = AutoMessageSetting(organisation_id=org.id, trigger=str(trigger))
        db.session.add(row)
    row.is_enabled = bool(is_enabled)
    row.options = clean
    db.session.flush()
    return row


def templates_for(org: Organisation, cause_id: int, trigger: str) -> fanout.TemplateSet:
    """The active templates of a trigger; a cause's own beat the organisation's."""
    found = db.session.scalars(
        select(MessageTemplate)
        .where(
            MessageTemplate.organisation_id == org.id,
            MessageTemplate.trigger == str(trigger),
            MessageTemplate.is_active.is_(True),
            (MessageTemplate.cause_id.is_(None)) | (MessageTemplate.cause_id == cause_id),
        )
        .order_by(MessageTemplate.cause_id.is_not(None), MessageTemplate.id)
    ).all()
    # Later entries win in TemplateSet: the cause's own come last.
    return fanout.TemplateSet(found, org.locale)


def _ready(org: Organisation, cause_id: int, trigger: str):
    """The templates to use, or None when the message is off or has no template."""
    enabled, options = setting(org.id, trigger)
    if not enabled:
        return None, options
    templates = templates_for(org, cause_id, trigger)
    return (templates or None), options


def _page_people(page_ids) -> Any:
    return fanout.people_of(select(Page.id, Page.owner_id).where(Page.id.in_(list(page_ids))))


def queue_for_page(page: Page, trigger: str, key: str, extra: dict | None = None) -> int:
    """Queue one automatic message to a page's owner and co-hosts; ``key`` is
    the part of the dedupe key that makes it happen once."""
    cause = page.cause
    org = cause.organisation
    templates, _options = _ready(org, cause.id, trigger)
    if templates is None:
        return 0
    return fanout.fan_out(
        org,
        cause,
        templates,
        _page_people([page.id]),
        dedupe=lambda row, channel: f"{key}:agent:{row.agent_id}:{channel}",
        trigger=trigger,
        extra=extra,
        where=fanout.places(cause.id, only=[page.id]),
    )


# --- receivers (inside the sender's transaction: rows only) -------------------


def welcome(page: Page, **_extra) -> int:
    """A page was published: welcome its owner, once per page."""
    if page.id is None:
        db.session.flush()
    return queue_for_page(page, Trigger.WELCOME, f"welcome:page:{page.id}")


def _milestone(before: int, after: int, goal: int, count_after: int) -> str | None:
    """The most notable milestone one gift crossed."""
    if goal > 0 and before * 100 < goal * 100 <= after * 100:
        return Trigger.GOAL_100
    if goal > 0 and before * 100 < goal * 50 <= after * 100:
        return Trigger.GOAL_50
    if count_after == 1:
        return Trigger.FIRST_GIFT
    return None


def gift_milestones(donation: Donation, **_extra) -> int:
    """First gift, 50 % and 100 % of the goal, for the page and its event:
    the page's money before and after this gift; each once ever per page."""
    if donation.kind not in COUNTED or not donation.page_id or donation.amount_minor <= 0:
        return 0
    page = db.session.get(Page, donation.page_id)
    targets = []
    if page.kind in EVENT_KINDS:
        targets.append((page, TotalScope.EVENT))
    else:
        targets.append((page, TotalScope.PAGE))
        if donation.event_id and donation.event_id != page.id:
            targets.append((db.session.get(Page, donation.event_id), TotalScope.EVENT))
    written = 0
    for target, scope in targets:
        if target is None or target.status != PageStatus.PUBLISHED:
            continue
        after = totals.figures_one(scope, target.id)
        milestone = _milestone(
            after.raised_minor - donation.amount_minor,
            after.raised_minor,
            target.goal_minor,
            after.donation_count,
        )
        if milestone:
            written += queue_for_page(target, milestone, f"{milestone}:page:{target.id}")
    return written


# --- jobs ----------------------------------------------------------------------


def _published_causes() -> list[Cause]:
    return list(db.session.scalars(select(Cause).where(Cause.status == CauseStatus.PUBLISHED)))


def gift_digest(now: datetime | None = None) -> int:
    """Scheduled job: one message per agent about the gifts on their pages since
    their last one, at most one an hour."""
    now = now or utcnow()
    gifts = db.session.execute(
        select(
            Donation.page_id,
            Donation.cause_id,
            Donation.amount_minor,
            Donation.donor_name,
            Donation.is_anonymous,
            Donation.created_at,
        )
        .where(
            Donation.kind.in_(COUNTED),
            Donation.page_id.is_not(None),
            Donation.created_at > now - GIFT_DIGEST_WINDOW,
            Donation.created_at <= now,
        )
        .order_by(Donation.created_at)
    ).all()
    if not gifts:
        return 0
    by_page = defaultdict(list)
    for gift in gifts:
        by_page[gift.page_id].append(gift)
    people = fanout.recipients(_page_people(by_page))
    last = dict(
        db.session.execute(
            select(OutboxMessage.agent_id, func.max(OutboxMessage.created_at))
            .where(
                OutboxMessage.trigger == Trigger.GIFTS,
                OutboxMessage.agent_id.in_({p.agent_id for p in people}),
            )
            .group_by(OutboxMessage.agent_id)
        ).all()
    )
    # Per agent: the new gifts on all their pages, told on the page with the latest.
    per_agent: dict[int, list] = defaultdict(list)
    for person in people:
        since = last.get(person.agent_id)
        if since is not None and since > now - GIFT_DIGEST_EVERY:
            continue
        new = [g for g in by_page[person.page_id] if since is None or g.created_at > since]
        if new:
            per_agent[person.agent_id].append((person, new))
    hour = now.strftime("%Y%m%d%H")
    causes: dict[int, list] = defaultdict(list)
    for items in per_agent.values():
        person = max(items, key=lambda item: item[1][-1].created_at)[0]
        gathered = sorted((g for _p, new in items for g in new), key=lambda g: g.created_at)
        causes[by_page[person.page_id][0].cause_id].append((person, gathered))
    written = 0
    for cause_id, entries in causes.items():
        cause = db.session.get(Cause, cause_id)
        org = cause.organisation
        templates, _options = _ready(org, cause.id, Trigger.GIFTS)
        if templates is None:
            continue
        gathered_by_agent = {person.agent_id: gathered for person, gathered in entries}

        def extra(row, org=org, gathered_by_agent=gathered_by_agent) -> dict:
            mine = gathered_by_agent[row.agent_id]
            locale = row.agent_locale or org.locale
            names = [g.donor_name for g in mine if g.donor_name and not g.is_anonymous]
            amount = sum(g.amount_minor for g in mine)
            return {
                "gifts": {
                    "count": len(mine),
                    "amount": fanout.money(amount, org.currency, locale),
                    "amount_minor": amount,
                    "donors": names[:5],
                }
            }

        written += fanout.fan_out(
            org,
            cause,
            templates,
            None,
            rows=[person for person, _gathered in entries],
            dedupe=lambda row, channel: f"gifts:agent:{row.agent_id}:hour:{hour}:{channel}",
            trigger=Trigger.GIFTS,
            now=now,
            extra=extra,
        )
    return written


def rank_snapshots(now: datetime | None = None) -> int:
    """Scheduled job: snapshot both leaderboards of every published cause, tell
    the pages that moved up, naming the page they passed ("Lyon just passed
    Marseille"), and tell the pages that were passed who passed them. A board
    that did not change gets no new snapshot."""
    now = now or utcnow()
    written = 0
    for cause in _published_causes():
        for board in standings_boards.BOARDS:
            written += _snapshot(cause, board, now)
        unit_of_work.checkpoint()  # one cause at a time: the write lock is not held for all
    return written


def _snapshot(cause: Cause, board: str, now: datetime) -> int:
    entries = standings_leaderboards.board(cause.id, board, limit=10_000_000)
    previous_at = select(func.max(RankSnapshot.taken_at)).where(
        RankSnapshot.cause_id == cause.id, RankSnapshot.board == board
    )
    before = {
        page_id: (rank, raised)
        for page_id, rank, raised in db.session.execute(
            select(RankSnapshot.page_id, RankSnapshot.rank, RankSnapshot.raised_minor).where(
                RankSnapshot.cause_id == cause.id,
                RankSnapshot.board == board,
                RankSnapshot.taken_at == previous_at.scalar_subquery(),
            )
        )
    }
    after = {e.page_id: (e.rank, e.raised_minor) for e in entries}
    if after == before:
        return 0
    if entries:
        db.session.execute(
            RankSnapshot.__table__.insert(),
            [
                {
                    "cause_id": cause.id,
                    "board": board,
                    "page_id": e.page_id,
                    "rank": e.rank,
                    "raised_minor": e.raised_minor,
                    "taken_at": now,
                }
                for e in entries
            ],
        )
    db.session.execute(
        delete(RankSnapshot).where(
            RankSnapshot.cause_id == cause.id,
            RankSnapshot.board == board,
            RankSnapshot.taken_at < now - SNAPSHOT_RETENTION,
        )
    )
    if not before:
        return 0
    moved_up, passed = rank_moves(entries, {p: rank for p, (rank, _raised) in before.items()})
    org = cause.organisation
    stamp = now.strftime("%Y%m%dT%H%M%S")
    where = None
    written = 0
    # Each trigger its own templates: "you moved up" never reaches a page that was passed.
    for trigger, told, prefix in (
        (Trigger.RANK_CHANGE, moved_up, "rank"),
        (Trigger.RANK_PASSED, passed, "rank_passed"),
    ):
        if not told:
            continue
        templates, _options = _ready(org, cause.id, trigger)
        if templates is None:
            continue
        where = where or fanout.places(cause.id)
        written += fanout.fan_out(
            org,
            cause,
            templates,
            _page_people(told),
            dedupe=lambda row, channel, prefix=prefix: (
                f"{prefix}:{board}:page:{row.page_id}:at:{stamp}:agent:{row.agent_id}:{channel}"
            ),
            trigger=trigger,
            now=now,
            extra=lambda row, told=told: told[row.page_id],
            where=where,
        )
    return written


def rank_moves(
    entries: list[standings_leaderboards.Entry], before: dict[int, int]
) -> tuple[dict[int, dict], dict[int, dict]]:
    """Between a board's previous ranks (page id: rank) and its entries now:
    the pages that moved up, each with the nearest page it passed, and the
    pages they passed, each with the nearest page that passed it.

    A page passed but higher than before (it passed others more) is only told
    it moved up."""
    by_id = {e.page_id: e for e in entries}
    moved_up: dict[int, dict] = {}
    passers: dict[int, list] = defaultdict(list)
    for entry in entries:
        old = before.get(entry.page_id)
        if old is None or entry.rank >= old:
            continue
        # The pages it went past: above it before, below it now.
        went_past = [
            by_id[p]
            for p, rank in before.items()
            if p != entry.page_id and rank < old and p in by_id and by_id[p].rank > entry.rank
        ]
        for other in went_past:
            passers[other.page_id].append(entry)
        nearest = min(went_past, key=lambda e: (e.rank, e.page_id)) if went_past else None
        moved_up[entry.page_id] = {"old_rank": old, "passed": _named(nearest)}
    passed = {}
    for page_id, by in passers.items():
        if page_id in moved_up:
            continue
        # The nearest is the one now just above: the first place to win back.
        nearest = min(by, key=lambda e: (-e.rank, e.page_id))
        passed[page_id] = {"old_rank": before[page_id], "passed_by": _named(nearest)}
    return moved_up, passed


def _named(entry: standings_leaderboards.Entry | None) -> dict | None:
    return {"title": entry.title, "city": entry.city} if entry else None


def daily_digest(now: datetime | None = None) -> int:
    """Scheduled job (hourly): in a cause's last days, one digest a day to every
    agent with a page in it, from the organisation's chosen hour."""
    from messaging.broadcasts.models import Audience
    from messaging.broadcasts.services import AudienceParams, audience_query

    now = now or utcnow()
    today = now.astimezone(WALL_CLOCK)
    written = 0
    for cause in _published_causes():
        if cause.ends_at is None or cause.ends_at <= now:
            continue
        org = cause.organisation
        templates, options = _ready(org, cause.id, Trigger.DAILY_DIGEST)
        if templates is None:
            continue
        if cause.ends_at > now + timedelta(days=options["days_before_end"]):
            continue
        if today.hour < options["hour"]:
            continue
        date = today.strftime("%Y%m%d")
        done = _already(org.id, Trigger.DAILY_DIGEST, today.replace(hour=0, minute=0, second=0))
        seen: set[int] = set()
        rows = []
        for row in fanout.recipients(audience_query(AudienceParams(cause.id, Audience.ALL))):
            if row.agent_id in seen or row.agent_id in done["agents"]:
                continue
            seen.add(row.agent_id)
            rows.append(row)
        days_left = max(0, (cause.ends_at - now).days)
        written += fanout.fan_out(
            org,
            cause,
            templates,
            None,
            rows=rows,
            dedupe=lambda row, channel, date=date: f"digest:agent:{row.agent_id}:{date}:{channel}",
            trigger=Trigger.DAILY_DIGEST,
            now=now,
            extra={"days_left": days_left},
        )
        unit_of_work.checkpoint()  # one cause at a time: the write lock is not held for all
    return written


def nudges(now: datetime | None = None) -> int:
    """Scheduled job (hourly): a nudge to the people of pages without a gift for
    N days (counted from publication when none came), at most once a week."""
    now = now or utcnow()
    written = 0
    iso = now.isocalendar()
    week = f"{iso.year}W{iso.week:02d}"
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    last_gift = (
        select(Donation.page_id, func.max(Donation.created_at).label("at"))
        .where(Donation.kind.in_(COUNTED), Donation.page_id.is_not(None))
        .group_by(Donation.page_id)
        .subquery()
    )
    for cause in _published_causes():
        org = cause.organisation
        templates, options = _ready(org, cause.id, Trigger.NUDGE)
        if templates is None:
            continue
        days = options["inactive_days"]
        quiet_since = now - timedelta(days=days)
        pages = (
            select(Page.id, Page.owner_id)
            .outerjoin(last_gift, last_gift.c.page_id == Page.id)
            .where(
                Page.cause_id == cause.id,
                Page.status == PageStatus.PUBLISHED,
                func.coalesce(last_gift.c.at, Page.published_at) < quiet_since,
            )
        )
        done = _already(org.id, Trigger.NUDGE, monday)["pages"]
        rows = [r for r in fanout.recipients(fanout.people_of(pages)) if r.page_id not in done]
        written += fanout.fan_out(
            org,
            cause,
            templates,
            None,
            rows=rows,
            dedupe=lambda row, channel: (
                f"nudge:page:{row.page_id}:week:{week}:agent:{row.agent_id}:{channel}"
            ),
            trigger=Trigger.NUDGE,
            now=now,
            extra={"inactive_days": days},
        )
        unit_of_work.checkpoint()  # one cause at a time: the write lock is not held for all
    return written


def _already(organisation_id: int, trigger: str, since: datetime) -> dict[str, set[int]]:
    """Agents and pages that got this message since a time: skipped before
    rendering (the dedupe key would refuse them anyway)."""
    rows = db.session.execute(
        select(OutboxMessage.agent_id, OutboxMessage.page_id).where(
            OutboxMessage.organisation_id == organisation_id,
            OutboxMessage.trigger == str(trigger),
            OutboxMessage.created_at >= since,
        )
    ).all()
    return {"agents": {r[0] for r in rows}, "pages": {r[1] for r in rows}}
