"""The scheduled automatic messages: gifts on your page (batched), rank
snapshots and the moves they show, the daily digest of a cause's last days,
and nudges for quiet pages. Each only adds outbox rows, with dedupe keys that
make each message happen once (see ``messaging.scheduling.scheduler.JOBS``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from campaigns import unit_of_work
from campaigns.giving.models import Donation
from campaigns.model_types import utcnow
from campaigns.organisations.models import Cause, CauseStatus
from campaigns.pages.models import Page, PageStatus
from campaigns.standings import boards as standings_boards
from campaigns.standings import leaderboards as standings_leaderboards
from extensions import db
from messaging.automatic.models import RankSnapshot
from messaging.automatic.services import COUNTED, page_people, ready
from messaging.broadcasts import fanout
from messaging.broadcasts.recipients import people_of, places, recipients
from messaging.outbox.models import OutboxMessage
from messaging.templating.models import Trigger

WALL_CLOCK = ZoneInfo("Europe/Paris")
GIFT_DIGEST_WINDOW = timedelta(hours=24)
GIFT_DIGEST_EVERY = timedelta(hours=1)
SNAPSHOT_RETENTION = timedelta(days=30)


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
    people = recipients(page_people(by_page))
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
        templates, _options = ready(org, cause.id, Trigger.GIFTS)
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
        templates, _options = ready(org, cause.id, trigger)
        if templates is None:
            continue
        where = where or places(cause.id)
        written += fanout.fan_out(
            org,
            cause,
            templates,
            page_people(told),
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
        templates, options = ready(org, cause.id, Trigger.DAILY_DIGEST)
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
        for row in recipients(audience_query(AudienceParams(cause.id, Audience.ALL))):
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
        templates, options = ready(org, cause.id, Trigger.NUDGE)
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
        rows = [r for r in recipients(people_of(pages)) if r.page_id not in done]
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
