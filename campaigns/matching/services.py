"""Match challenges: staff set one on a page, an event or a cause; the public
sees what is left of it; the sponsor gets a statement when its window ends.
The money itself is ``campaigns.matching.settlement``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select

from agents.models import Agent
from campaigns import audit
from campaigns.errors import NotFound, ValidationError
from campaigns.giving.follow_ups import remaining
from campaigns.giving.models import Donation, PendingGift
from campaigns.inputs import parse_datetime, text_field
from campaigns.matching.models import Match, MatchedGift, MatchScope
from campaigns.model_types import utcnow
from campaigns.money import format_money
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page, PageStatus
from campaigns.signals import match_statement_ready
from campaigns.unit_of_work import locked_row
from extensions import db

ACTION = "match.create"
RATIO = re.compile(r"\s*(\d{1,4})\s*(?:[:/]\s*(\d{1,4})\s*)?")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_CAP_MINOR = 10**12
PAGE_ADDRESS = re.compile(r"(?:.*/p/)?([A-Za-z0-9_-]{1,80})/?(?:[?#].*)?")
# Pages whose gifts can be matched: open ones.
MATCHABLE_PAGES = (PageStatus.PUBLISHED,)


def parse_ratio(text) -> tuple[int, int] | None:
    """(2, 1) from '2:1', '2/1' or '2'; None when it is no ratio above zero."""
    found = RATIO.fullmatch(text) if isinstance(text, str) else None
    if not found:
        return None
    num, den = int(found.group(1)), int(found.group(2) or 1)
    return (num, den) if num > 0 and den > 0 else None


def _page(text: str, cause: Cause, errors: dict) -> Page | None:
    if not text:
        return None
    found = PAGE_ADDRESS.fullmatch(text)
    page = (
        db.session.scalar(select(Page).where(Page.slug == found.group(1).lower()))
        if found
        else None
    )
    if page is None or page.cause_id != cause.id:
        errors["page"] = _("No page of this cause has that address. Paste the page's link.")
        return None
    return page


def _time(data: dict, key: str, errors: dict) -> datetime | None:
    try:
        value = parse_datetime(data.get(key))
    except (ValueError, TypeError, OverflowError):
        value = None
    if value is None:
        errors[key] = _("Enter a date and time such as 2026-06-21 19:00.")
    return value


def create_match(actor: Agent | None, org: Organisation, data: dict) -> Match:
    """A match on a cause of ``org`` (or one of its pages or events): ``data``
    has cause (slug), page (address, optional), sponsor_name, sponsor_email,
    ratio ('1:1'), cap_minor, starts_at, ends_at (the organiser's wall clock
    without a zone). Staff only (``actor`` None for a command); raises
    ValidationError with a message per field, and writes nothing then."""
    if actor is not None:
        org_services.require_staff(actor, org.id)
    errors: dict[str, str] = {}
    cause = db.session.scalar(
        select(Cause).where(
            Cause.slug == str(data.get("cause") or ""), Cause.organisation_id == org.id
        )
    )
    if cause is None:
        errors["cause"] = _("Choose one of the organisation's causes.")
    page = _page(str(data.get("page") or "").strip(), cause, errors) if cause else None
    name = text_field(data, "sponsor_name", errors, max_length=200, required=True)
    email = text_field(data, "sponsor_email", errors, max_length=255).lower()
    if email and not EMAIL.match(email):
        errors["sponsor_email"] = _("Enter the sponsor's email address, such as ana@example.org.")
    ratio = parse_ratio(data.get("ratio"))
    if ratio is None:
        errors["ratio"] = _("Enter the ratio as two whole numbers above zero, such as 1:1 or 2:1.")
    cap = data.get("cap_minor")
    if isinstance(cap, bool) or not isinstance(cap, int) or not 0 < cap <= MAX_CAP_MINOR:
        errors["cap"] = _("Enter the cap as an amount above zero, such as 5000.")
    starts_at, ends_at = _time(data, "starts_at", errors), _time(data, "ends_at", errors)
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = _("The match must end after it starts.")
    if errors:
        raise ValidationError(errors)
    scope = MatchScope.CAUSE
    if page is not None:
        scope = MatchScope.EVENT if page.is_event else MatchScope.PAGE
    match = Match(
        organisation_id=org.id,
        cause_id=cause.id,
        page_id=page.id if page else None,
        scope=scope,
        sponsor_name=name,
        sponsor_email=email,
        ratio_num=ratio[0],
        ratio_den=ratio[1],
        cap_minor=cap,
        currency=org.currency,
        matched_minor=0,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by_id=actor.id if actor is not None else None,
    )
    db.session.add(match)
    db.session.flush()
    audit.record(
        org.id,
        actor,
        ACTION,
        f"Match by {name!r} on {(page.title if page else cause.title)!r}: "
        f"{ratio[0]}:{ratio[1]} up to {format_money(cap, org.currency, 'en')}",
        subject=match,
        amount_minor=cap,
        currency=org.currency,
        details={"scope": str(scope), "page_id": match.page_id, "cause_id": cause.id},
    )
    return match


def staff_match(org: Organisation, match_id: int) -> Match:
    """A match of ``org``; NotFound for another organisation's (staff see their own only)."""
    match = db.session.get(Match, match_id)
    if match is None or match.organisation_id != org.id:
        raise NotFound(_("There is no match at this address."))
    return match


def matches_of(org: Organisation) -> list[Match]:
    return list(
        db.session.scalars(
            select(Match).where(Match.organisation_id == org.id).order_by(Match.starts_at.desc())
        )
    )


def target_title(match: Match) -> str:
    if match.page_id:
        return db.session.get(Page, match.page_id).title
    return db.session.get(Cause, match.cause_id).title


# --- what the public sees -----------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    match_id: int
    ratio_num: int
    ratio_den: int
    ends_at: datetime
    left_minor: int
    cap_minor: int
    currency: str


def _notices(where, now: datetime | None = None) -> list[Notice]:
    now = now or utcnow()
    rows = db.session.scalars(
        select(Match)
        .where(where, Match.starts_at <= now, Match.ends_at > now)
        .order_by(Match.ends_at, Match.id)
    ).all()
    return [
        Notice(m.id, m.ratio_num, m.ratio_den, m.ends_at, m.left_minor, m.cap_minor, m.currency)
        for m in rows
    ]


def notices_for_page(page: Page, now: datetime | None = None) -> list[Notice]:
    """The matches running now on a page's gifts: its own, its event's, its cause's."""
    scopes = [(Match.scope == MatchScope.CAUSE) & (Match.cause_id == page.cause_id)]
    if page.is_event:
        scopes.append((Match.scope == MatchScope.EVENT) & (Match.page_id == page.id))
    else:
        scopes.append((Match.scope == MatchScope.PAGE) & (Match.page_id == page.id))
        if page.parent_id:
            scopes.append((Match.scope == MatchScope.EVENT) & (Match.page_id == page.parent_id))
    return _notices(or_(*scopes), now)


def notices_for_cause(cause_id: int, now: datetime | None = None) -> list[Notice]:
    """The cause-wide matches running now."""
    return _notices((Match.scope == MatchScope.CAUSE) & (Match.cause_id == cause_id), now)


def live_figures(cause_id: int, now: datetime | None = None) -> dict[str, dict]:
    """What the live stream says of every match of the cause running now, by id."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(Match).where(Match.cause_id == cause_id, Match.starts_at <= now, Match.ends_at > now)
    ).all()
    return {
        str(m.id): {
            "left": {"amount_minor": m.left_minor, "currency": m.currency},
            "cap": {"amount_minor": m.cap_minor, "currency": m.currency},
        }
        for m in rows
    }


# --- the sponsor's statement ------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    gift_id: int
    given_at: datetime
    page: str
    donor: str  # as the public wall shows it: a name, or "" for anonymous
    gift_minor: int | None  # None when the donor hid their amount
    matched_minor: int


def statement(match: Match) -> list[StatementLine]:
    """The gifts the match holds a part of, oldest first, with no more about the
    donor than the public wall shows (no address, no email)."""
    rows = db.session.execute(
        select(MatchedGift, Donation, Page.title, PendingGift.is_amount_hidden)
        .join(Donation, Donation.id == MatchedGift.gift_id)
        .outerjoin(Page, Page.id == Donation.page_id)
        .outerjoin(PendingGift, PendingGift.id == Donation.pending_gift_id)
        .where(MatchedGift.match_id == match.id, MatchedGift.matched_minor > 0)
        .order_by(Donation.created_at, Donation.id)
    ).all()
    return [
        StatementLine(
            gift.id,
            gift.created_at,
            title or "",
            "" if gift.is_anonymous else gift.donor_name,
            None if hidden else remaining(gift),
            entry.matched_minor,
        )
        for entry, gift, title, hidden in rows
    ]


def statement_text(match: Match, locale: str = "en") -> str:
    lines = [
        _(
            "Statement of the match by %(sponsor)s on %(target)s",
            sponsor=match.sponsor_name,
            target=target_title(match),
        ),
        "",
    ]
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")
    for line in statement(match):
        lines.append(
            f"{line.given_at.astimezone(zone):%Y-%m-%d %H:%M} · {line.page or '-'} · "
            f"{line.donor or _('Anonymous')} · "
            f"{format_money(line.matched_minor, match.currency, locale)}"
        )
    lines += [
        "",
        _(
            "Total owed: %(total)s (cap %(cap)s).",
            total=format_money(match.matched_minor, match.currency, locale),
            cap=format_money(match.cap_minor, match.currency, locale),
        ),
    ]
    return "\n".join(lines)


def send_statements(now: datetime | None = None) -> int:
    """Send the statement of every match whose window has ended, once; returns how many."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Match)
        .where(Match.ends_at <= now, Match.statement_sent_at.is_(None))
        .order_by(Match.id)
    ).all()
    sent = 0
    for candidate in due:
        match = locked_row(candidate)
        if match.statement_sent_at is not None:
            continue
        match.statement_sent_at = now
        if match.sponsor_email:
            org = db.session.get(Organisation, match.organisation_id)
            match_statement_ready.send(
                match,
                email=match.sponsor_email,
                organisation_id=org.id,
                subject=_("Your match on %(target)s: the statement", target=target_title(match)),
                text=statement_text(match, org.locale),
            )
            sent += 1
    return sent
