"""Achievement badges: what a page earns from the facts of campaigns (its
gifts, donors, goal, place on the board, share links, its event), awarded
once, shown on the page, its owner's profile and in the API.

Badges are given when the facts move: a gift recorded (``gift_recorded``, for
the page and its event) and a page joining an event (``page_joined``).
``relais badges award`` gives the badges older data earned. A badge stays once
earned: a refund or a page passing it on the board takes nothing back. Each
organisation chooses which badges it awards (all by default); one it turns off
is neither given nor shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, or_, select

from agents.models import Agent
from campaigns import per_transaction
from campaigns.badges.catalogue import (
    BY_CODE,
    CATALOGUE,
    DONORS,
    GIFT_CODES,
    GOAL_PERCENTS,
    JOIN_CODES,
    NEWS_CODES,
    ORDER,
    Kind,
    Shown,
)
from campaigns.badges.models import BadgeSetting, PageBadge
from campaigns.discovery.search import in_city
from campaigns.errors import ValidationError
from campaigns.giving.models import Donation, DonationKind
from campaigns.model_types import utcnow
from campaigns.news.models import FieldUpdate
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Organisation
from campaigns.pages.models import EVENT_KINDS, Page, PageKind, PageStatus
from campaigns.signals import badge_awarded
from campaigns.standings import board_reads
from campaigns.standings.board_index import board_of_kind
from campaigns.totals import services as totals
from campaigns.totals.models import Total
from extensions import db, dialect_insert

COUNTED = (DonationKind.GIFT, DonationKind.OFFLINE)
RANKED = (PageStatus.PUBLISHED, PageStatus.CLOSED)
# A board of ten pages or fewer puts everyone in its top 10: no badge there.
TOP = 10


# --- settings ------------------------------------------------------------------


def turned_off(organisation_ids: Iterable[int]) -> dict[int, set[str]]:
    """The badges each organisation turned off (read once per transaction)."""
    ids = frozenset(organisation_ids)

    def read() -> dict[int, set[str]]:
        out: dict[int, set[str]] = {i: set() for i in ids}
        if ids:
            rows = db.session.execute(
                select(BadgeSetting.organisation_id, BadgeSetting.code).where(
                    BadgeSetting.organisation_id.in_(ids), BadgeSetting.is_enabled.is_(False)
                )
            )
            for org_id, code in rows:
                out[org_id].add(code)
        return out

    kept = per_transaction.remembered(("badges.turned_off", ids), read, watch=(BadgeSetting,))
    return {i: set(codes) for i, codes in kept.items()}


def settings(org: Organisation) -> list[tuple[Kind, bool]]:
    """Every badge and whether the organisation awards it."""
    off = turned_off([org.id])[org.id]
    return [(kind, kind.code not in off) for kind in CATALOGUE]


def save_settings(staff: Agent, org: Organisation, enabled: Iterable[str]) -> None:
    """Choose the badges the organisation awards (staff); the others are not shown."""
    org_services.require_staff(staff, org.id)
    enabled = set(enabled)
    unknown = enabled - set(BY_CODE)
    if unknown:
        raise ValidationError({"enabled": _("Choose badges from the list.")})
    rows = {
        row.code: row
        for row in db.session.scalars(
            select(BadgeSetting).where(BadgeSetting.organisation_id == org.id)
        )
    }
    for kind in CATALOGUE:
        row = rows.get(kind.code)
        if row is None:
            row = BadgeSetting(organisation_id=org.id, code=kind.code)
            db.session.add(row)
        row.is_enabled = kind.code in enabled
    db.session.flush()


# --- the facts and what they earn ------------------------------------------------


@dataclass(frozen=True)
class Facts:
    is_event: bool
    goal_minor: int
    figures: totals.Figures
    has_parent: bool = False
    has_members: bool = False
    share_brought_gift: bool = False
    rank: int | None = None  # on its board, when the board has more than TOP pages
    city_rank: int | None = None  # among its board's pages in its city, when there are two
    posted_news: bool = False


def earned(facts: Facts) -> set[str]:
    """The badges these facts earn (a pure function: the rules in one place)."""
    fig = facts.figures
    codes = set()
    if fig.donation_count >= 1:
        codes.add("first_gift")
    if facts.goal_minor > 0:
        for code, pct in GOAL_PERCENTS.items():
            if fig.raised_minor * 100 >= facts.goal_minor * pct:
                codes.add(code)
    codes |= {code for code, n in DONORS.items() if fig.donor_count >= n}
    if facts.share_brought_gift:
        codes.add("share_brought_gift")
    if facts.rank is not None and facts.rank <= TOP:
        codes.add("top_10")
    if facts.city_rank == 1:
        codes.add("first_in_city")
    if facts.posted_news:
        codes.add("news_posted")
    if facts.is_event and facts.has_members:
        codes.add("event_host")
    if not facts.is_event and facts.has_parent:
        codes.add("team_player")
    return codes


def _board(page: Page, *, city: bool = False):
    """The pages ranked with ``page``: its cause's board, or that board's pages in its city."""
    kinds = EVENT_KINDS if page.is_event else (PageKind.PERSONAL,)
    board = select(Page.id).where(
        Page.cause_id == page.cause_id, Page.kind.in_(kinds), Page.status.in_(RANKED)
    )
    return board.where(in_city(page.city)) if city else board


def _board_rank(page: Page) -> int | None:
    """The page's rank on its cause's leaderboard, from the rank index (a count
    of what is ahead: no pass over the board), or None on a board of TOP pages
    or fewer."""
    found = board_reads.rank(page.id)
    if found is None or board_reads.size(page.cause_id, board_of_kind(page.is_event)) <= TOP:
        return None
    return found[0]


def _rank_on(page: Page, fig: totals.Figures, board, least: int) -> int | None:
    """The page's rank on ``board`` (raised, then donors), or None when the
    board has fewer than ``least`` pages for a rank to mean anything. Bounded
    queries: they stop counting past TOP pages."""
    size = db.session.scalar(select(func.count()).select_from(board.limit(TOP + 1).subquery()))
    if size < least:
        return None
    sums = (
        select(
            Total.scope_id.label("page_id"),
            func.sum(Total.raised_minor).label("raised"),
            func.sum(Total.donor_count).label("donors"),
        )
        .where(Total.scope == totals.page_scope(page.kind), Total.scope_id.in_(board))
        .group_by(Total.scope_id)
        .subquery()
    )
    ahead = (
        select(sums.c.page_id)
        .where(
            sums.c.page_id != page.id,
            or_(
                sums.c.raised > fig.raised_minor,
                and_(sums.c.raised == fig.raised_minor, sums.c.donors > fig.donor_count),
            ),
        )
        .limit(TOP)
    )
    return 1 + db.session.scalar(select(func.count()).select_from(ahead.subquery()))


def facts_of(page: Page, wanted: set[str], fig: totals.Figures) -> Facts:
    """What campaigns knows of the page (``fig``: what it shows as raised),
    asking only what ``wanted`` badges need."""
    has_members = (
        "event_host" in wanted
        and page.is_event
        and bool(
            db.session.scalar(
                select(exists().where(Page.parent_id == page.id, Page.status != PageStatus.HIDDEN))
            )
        )
    )
    shared = "share_brought_gift" in wanted and bool(
        db.session.scalar(
            select(
                exists().where(
                    Donation.page_id == page.id,
                    Donation.kind.in_(COUNTED),
                    Donation.share_link_id.is_not(None),
                )
            )
        )
    )
    posted_news = "news_posted" in wanted and bool(
        db.session.scalar(select(exists().where(FieldUpdate.page_id == page.id)))
    )
    rank = city_rank = None
    if fig.raised_minor > 0 and page.status in RANKED:
        if "top_10" in wanted:
            rank = _board_rank(page)
        if "first_in_city" in wanted and page.city.strip():
            city_rank = _rank_on(page, fig, _board(page, city=True), 2)
    return Facts(
        is_event=bool(page.is_event),
        goal_minor=page.goal_minor,
        figures=fig,
        has_parent=page.parent_id is not None,
        has_members=has_members,
        share_brought_gift=shared,
        rank=rank,
        city_rank=city_rank,
        posted_news=posted_news,
    )


def award(page: Page, codes: Iterable[str] | None = None) -> list[str]:
    """Give the page the badges its facts earn and it has not got yet
    (``award_pages`` for one page). Returns the new codes."""
    return award_pages([(page, codes)]).get(page.id, [])


def award_pages(
    items: list[tuple[Page, Iterable[str] | None]], *, backfill: bool = False
) -> dict[int, list[str]]:
    """Give each page the badges its facts earn and it has not got yet, each
    once ever (a unique key: a concurrent award of the same badge does
    nothing). With each page, the codes to look at (what the news at hand can
    change; None: all), so that a gift's way asks no more than it needs: the
    pages' badges, settings and figures in one query each. Returns the new
    codes per page; ``badge_awarded`` tells about them (``backfill``: older
    data catching up, which nobody announces)."""
    if any(page.id is None for page, _codes in items):
        db.session.flush()
    pages = [page for page, _codes in items]
    have: dict[int, set[str]] = {page.id: set() for page in pages}
    for page_id, code in db.session.execute(
        select(PageBadge.page_id, PageBadge.code).where(PageBadge.page_id.in_(list(have)))
    ):
        have[page_id].add(code)
    off = turned_off({page.cause.organisation_id for page in pages})
    rows, found = [], {}
    figures = None
    for page, codes in items:
        wanted = set(BY_CODE if codes is None else codes) - have[page.id]
        wanted -= off[page.cause.organisation_id]
        if not wanted:
            continue
        fig = totals.Figures()  # a join's and news' badges do not depend on money
        if wanted - JOIN_CODES - NEWS_CODES:
            if figures is None:  # read once, for every page, when one needs them
                figures = totals.page_figures(pages)
            fig = figures[page.id]
        new = sorted(earned(facts_of(page, wanted, fig)) & wanted, key=ORDER.get)
        found[page.id] = (page, new)
        rows += [{"page_id": page.id, "code": code} for code in new]
    if not rows:
        return {}
    now = utcnow()
    inserted = set(
        db.session.execute(
            dialect_insert(PageBadge)
            .values([{**row, "awarded_at": now} for row in rows])
            .on_conflict_do_nothing(index_elements=["page_id", "code"])
            .returning(PageBadge.page_id, PageBadge.code)
        ).all()
    )
    out = {}
    for page_id, (page, new) in found.items():
        new = [code for code in new if (page_id, code) in inserted]
        if new:
            out[page_id] = new
            badge_awarded.send(page, codes=new, backfill=backfill)
    return out


def award_all(cause_id: int | None = None) -> int:
    """Give every public page the badges it earned (older data); returns how many."""
    query = select(Page).where(Page.status.in_(RANKED)).order_by(Page.id)
    if cause_id is not None:
        query = query.where(Page.cause_id == cause_id)
    pages = db.session.scalars(query).all()
    count = 0
    for start in range(0, len(pages), 200):  # a few queries per 200 pages
        awarded = award_pages([(page, None) for page in pages[start : start + 200]], backfill=True)
        count += sum(len(codes) for codes in awarded.values())
    return count


# --- receivers of campaigns' own news (connected by campaigns.badges.views.init_app) --


def on_gift(donation: Donation, **_extra) -> None:
    """A gift moved the page's figures, and its event's."""
    if donation.kind not in COUNTED or not donation.page_id or donation.amount_minor <= 0:
        return
    page = db.session.get(Page, donation.page_id)
    if page is None:
        return
    shared = {"share_brought_gift"} if donation.share_link_id else set()
    items: list[tuple[Page, Iterable[str] | None]] = [(page, GIFT_CODES | shared)]
    if donation.event_id and donation.event_id != page.id:
        event = db.session.get(Page, donation.event_id)
        if event is not None:
            items.append((event, GIFT_CODES))
    award_pages(items)


def on_news(update: FieldUpdate, **_extra) -> None:
    """News from the field was posted on a page."""
    page = db.session.get(Page, update.page_id) if update.page_id else None
    if page is not None:
        award_pages([(page, NEWS_CODES)])


def on_join(page: Page, *, event: Page, **_extra) -> None:
    """A page joined an event or a team: a team player, and a host."""
    award_pages([(page, JOIN_CODES), (event, JOIN_CODES)])


# --- reading ---------------------------------------------------------------------


def shown(pages: Iterable[Page], figures: dict[int, totals.Figures]) -> dict[int, list[Shown]]:
    """The badges each page shows the public, in catalogue order; ``figures``
    are the public ones (``discretion.public_page_figures``): where the
    amount is hidden, so are the badges that would tell it."""
    pages = list(pages)
    out: dict[int, list[Shown]] = {p.id: [] for p in pages}
    if not pages:
        return out
    off = turned_off({p.cause.organisation_id for p in pages})
    org_of = {p.id: p.cause.organisation_id for p in pages}
    rows = db.session.execute(
        select(PageBadge.page_id, PageBadge.code, PageBadge.awarded_at).where(
            PageBadge.page_id.in_(list(out))
        )
    ).all()
    for page_id, code, awarded_at in rows:
        kind = BY_CODE.get(code)
        if kind is None or code in off[org_of[page_id]]:
            continue
        fig = figures.get(page_id)
        if kind.tells_amount and (fig is None or fig.raised_minor is None):
            continue
        out[page_id].append(Shown(kind, awarded_at))
    for badges in out.values():
        badges.sort(key=lambda b: ORDER[b.code])
    return out


def combined(per_page: dict[int, list[Shown]]) -> list[Shown]:
    """Badges of several pages (a profile): each once, with how many pages
    earned it and when the first did."""
    merged: dict[str, Shown] = {}
    for badges in per_page.values():
        for badge in badges:
            seen = merged.get(badge.code)
            if seen is None:
                merged[badge.code] = badge
            else:
                merged[badge.code] = Shown(
                    badge.kind, min(seen.awarded_at, badge.awarded_at), seen.count + 1
                )
    return sorted(merged.values(), key=lambda b: ORDER[b.code])
