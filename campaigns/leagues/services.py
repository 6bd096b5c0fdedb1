"""Leagues: a contest across the organisations of one instance (GlobalGiving
style). The site operator creates it with a window, its entrants (whole
organisations or single causes) and a rule; the board ranks the entrants by
what donors gave inside the window (refunds, disputes and their reversals in
the window count too), donors breaking ties — or by unique donors, raised
breaking ties. Sponsors' matches, Stripe's fees and transfers never count: a
league ranks what donors gave, not what a sponsor promised.

Every reader of a contest's money goes through ``counted_donations``: the one
place that leaves out the gifts staff excluded as unfair (``campaigns.fairplay``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, case, func, literal, or_, select

from campaigns.errors import NotFound, ValidationError
from campaigns.fairplay import counting as fair_play
from campaigns.giving.models import Donation, DonationKind
from campaigns.inputs import parse_datetime, text_field
from campaigns.leagues.models import Contest, ContestEntry, ContestRule
from campaigns.organisations.models import Cause, Organisation
from extensions import db

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
# What donors gave and what was taken back of it: the rows a league counts.
LEAGUE_KINDS = (
    DonationKind.GIFT,
    DonationKind.OFFLINE,
    DonationKind.REFUND,
    DonationKind.REFUND_REVERSAL,
    DonationKind.DISPUTE,
    DonationKind.DISPUTE_REVERSAL,
)
GIFT_KINDS = (DonationKind.GIFT, DonationKind.OFFLINE)


def _time(data: dict, key: str, errors: dict) -> datetime | None:
    try:
        value = parse_datetime(data.get(key))
    except (ValueError, TypeError, OverflowError):
        value = None
    if value is None:
        errors[key] = _("Enter a date and time such as 2026-06-21 19:00.")
    return value


def _entrants(specs, errors: dict) -> list[tuple[Organisation, Cause | None]]:
    """``org`` or ``org/cause`` slugs, each an entrant once."""
    found: list[tuple[Organisation, Cause | None]] = []
    for spec in specs or []:
        org_slug, _sep, cause_slug = str(spec).strip().partition("/")
        org = db.session.scalar(select(Organisation).where(Organisation.slug == org_slug))
        cause = (
            db.session.scalar(
                select(Cause).where(Cause.slug == cause_slug, Cause.organisation_id == org.id)
            )
            if org and cause_slug
            else None
        )
        if org is None or (cause_slug and cause is None):
            errors["entrants"] = _(
                "No organisation or cause is called %(name)s: write org or org/cause slugs.",
                name=str(spec),
            )
            return []
        found.append((org, cause))
    if len(found) < 2:
        errors.setdefault("entrants", _("A league needs at least two entrants."))
    orgs = [org.id for org, _cause in found]
    whole = {org.id for org, cause in found if cause is None}
    if len({(o.id, c.id if c else None) for o, c in found}) != len(found) or any(
        orgs.count(o) > 1 for o in whole
    ):
        errors.setdefault(
            "entrants",
            _("Each entrant once: an organisation takes part whole or by some of its causes."),
        )
    return found


def create_contest(data: dict) -> Contest:
    """A contest from ``data`` (slug, title, description, rule, starts_at,
    ends_at, entrants: ['org', 'org/cause', …]); the operator's command, so no
    acting agent. ValidationError with a message per field; nothing written then."""
    errors: dict[str, str] = {}
    slug = str(data.get("slug") or "").strip().lower()
    if not SLUG.fullmatch(slug):
        errors["slug"] = _("Use lower-case letters, digits and dashes for the address.")
    elif db.session.scalar(select(Contest.id).where(Contest.slug == slug)):
        errors["slug"] = _("A league already has this address. Choose another one.")
    title = text_field(data, "title", errors, max_length=200, required=True)
    description = text_field(data, "description", errors, max_length=5000)
    rule = str(data.get("rule") or ContestRule.RAISED)
    if rule not in set(ContestRule):
        errors["rule"] = _("The rule is raised or donors.")
    starts_at, ends_at = _time(data, "starts_at", errors), _time(data, "ends_at", errors)
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = _("The league must end after it starts.")
    entrants = _entrants(data.get("entrants"), errors)
    currencies = {org.currency for org, _cause in entrants}
    if len(currencies) > 1:
        errors["entrants"] = _("Every entrant must count in the same currency.")
    if errors:
        raise ValidationError(errors)
    contest = Contest(
        slug=slug,
        title=title,
        description=description,
        rule=ContestRule(rule),
        currency=currencies.pop(),
        starts_at=starts_at,
        ends_at=ends_at,
    )
    db.session.add(contest)
    db.session.flush()
    for org, cause in entrants:
        db.session.add(
            ContestEntry(
                contest_id=contest.id, organisation_id=org.id, cause_id=cause.id if cause else None
            )
        )
    db.session.flush()
    return contest


def get_contest(slug: str) -> Contest:
    contest = db.session.scalar(select(Contest).where(Contest.slug == slug))
    if contest is None:
        raise NotFound(_("There is no league at this address."))
    return contest


def contests() -> list[Contest]:
    return list(db.session.scalars(select(Contest).order_by(Contest.starts_at.desc())))


# --- the board ---------------------------------------------------------------------


def counted_donations(contest: Contest) -> Select:
    """The ledger rows the contest counts, with the entry each counts for
    (``entry_id``): donors' gifts and what was taken back of them, made inside
    the window, of its entrants, in its currency.

    The one filter every figure of a league reads: what must not count is
    left out here (gifts staff excluded as unfair, ``campaigns.fairplay``)."""
    entries = db.session.scalars(
        select(ContestEntry).where(ContestEntry.contest_id == contest.id)
    ).all()
    by_cause = {e.cause_id: e.id for e in entries if e.cause_id}
    by_org = {e.organisation_id: e.id for e in entries if e.cause_id is None}
    entry = case(
        *((Donation.cause_id == cause_id, entry_id) for cause_id, entry_id in by_cause.items()),
        *((Donation.organisation_id == org_id, entry_id) for org_id, entry_id in by_org.items()),
        else_=literal(None),
    )
    takes_part = [Donation.cause_id.in_(by_cause)] if by_cause else []
    if by_org:
        takes_part.append(Donation.organisation_id.in_(by_org))
    return select(
        entry.label("entry_id"),
        Donation.kind,
        Donation.amount_minor,
        Donation.donor_key,
    ).where(
        or_(*takes_part) if takes_part else literal(False),
        Donation.kind.in_(LEAGUE_KINDS),
        Donation.currency == contest.currency,
        Donation.created_at >= contest.starts_at,
        Donation.created_at < contest.ends_at,
        # Gifts staff excluded as unfair (their refunds too); the totals keep them.
        fair_play.counted(),
    )


@dataclass(frozen=True)
class Standing:
    rank: int
    entry_id: int
    organisation: Organisation
    cause: Cause | None
    raised_minor: int
    donor_count: int
    gift_count: int

    @property
    def name(self) -> str:
        if self.cause is None:
            return self.organisation.name
        return f"{self.organisation.name} — {self.cause.title}"


def board(contest: Contest) -> list[Standing]:
    """The entrants in order, with their figures in the window; an exact tie
    (both figures) shares its rank, and the names order it."""
    rows = counted_donations(contest).subquery()
    is_gift = rows.c.kind.in_(GIFT_KINDS)
    figures = {
        r.entry_id: r
        for r in db.session.execute(
            select(
                rows.c.entry_id,
                func.coalesce(func.sum(rows.c.amount_minor), 0).label("raised"),
                func.count(func.distinct(case((is_gift, rows.c.donor_key)))).label("donors"),
                func.coalesce(func.sum(case((is_gift, 1), else_=0)), 0).label("gifts"),
            ).group_by(rows.c.entry_id)
        )
    }
    standings = []
    for entry in db.session.scalars(
        select(ContestEntry).where(ContestEntry.contest_id == contest.id)
    ):
        found = figures.get(entry.id)
        standings.append(
            Standing(
                0,
                entry.id,
                db.session.get(Organisation, entry.organisation_id),
                db.session.get(Cause, entry.cause_id) if entry.cause_id else None,
                int(found.raised) if found else 0,
                int(found.donors) if found else 0,
                int(found.gifts) if found else 0,
            )
        )

    def score(s: Standing) -> tuple[int, int]:
        if contest.rule == ContestRule.DONORS:
            return (s.donor_count, s.raised_minor)
        return (s.raised_minor, s.donor_count)

    standings.sort(key=lambda s: (tuple(-v for v in score(s)), s.name.lower(), s.entry_id))
    ranked: list[Standing] = []
    for n, s in enumerate(standings, 1):
        rank = ranked[-1].rank if ranked and score(ranked[-1]) == score(s) else n
        ranked.append(replace(s, rank=rank))
    return ranked


def open_rows() -> list[dict]:
    """Every league's board, for open data: an entrant's amount is left out
    while fewer donors than its organisation's floor gave in the window."""
    rows = []
    for contest in contests():
        for s in board(contest):
            rows.append(
                {
                    "league": contest.slug,
                    "rank": s.rank,
                    "organisation": s.organisation.slug,
                    "cause": s.cause.slug if s.cause else "",
                    "currency": contest.currency,
                    "raised_minor": s.raised_minor
                    if s.donor_count >= s.organisation.open_data_k_floor
                    else None,
                    "donor_count": s.donor_count,
                    "gift_count": s.gift_count,
                }
            )
    return rows
