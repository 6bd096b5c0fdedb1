"""What a staff-written template sees: plain dicts built from a page, its
agent, its event and cause (``context_for``), and the realistic sample that
validation and previews render on (``sample_context``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from flask_babel import force_locale
from sqlalchemy import select

from campaigns.badges.catalogue import BY_CODE
from campaigns.money import format_money
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.standings import leaderboards
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures_one, page_scope
from campaigns.urls import absolute_url
from extensions import db
from messaging.sharing import services as sharing


def _first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


def _agent_dict(agent, page: Page | None) -> dict:
    who = agent if agent is not None else (page.owner if page is not None else None)
    name = "" if who is None or getattr(who, "is_deleted", False) else who.display_name
    return {"name": name, "first_name": _first_name(name)}


def _raised(page: Page):
    return figures_one(page_scope(page.kind), page.id)


def _percent(part: int, whole: int) -> int:
    return max(0, int(part * 100 // whole)) if whole else 0


def _days_left(ends_at: datetime | None) -> int | None:
    if ends_at is None:
        return None
    return max(0, math.ceil((ends_at - datetime.now(UTC)).total_seconds() / 86400))


def _page_dict(page: Page, locale: str, share_url: str) -> dict:
    currency = page.cause.organisation.currency
    figures = _raised(page)
    entry = leaderboards.rank_of(page)
    above = leaderboards.neighbour_above(page) if entry else None
    gap = max(0, above.raised_minor - entry.raised_minor) if above and entry else None
    return {
        "title": page.title,
        "url": absolute_url("campaigns.page_detail", slug=page.slug),
        "share_url": share_url,
        "raised": format_money(figures.raised_minor, currency, locale),
        "raised_minor": figures.raised_minor,
        "goal": format_money(page.goal_minor, currency, locale),
        "goal_minor": page.goal_minor,
        "percent": _percent(figures.raised_minor, page.goal_minor),
        "rank": entry.rank if entry else None,
        "gap_to_next": format_money(gap, currency, locale) if gap is not None else "",
        "next_title": above.title if above else "",
        "donor_count": figures.donor_count,
        "city": page.city,
        "kind": str(page.kind),
    }


def _event_dict(page: Page, locale: str) -> dict | None:
    event = page if page.is_event else page.parent
    if event is None:
        return None
    currency = event.cause.organisation.currency
    figures = figures_one(TotalScope.EVENT, event.id)
    entry = leaderboards.rank_of(event)
    return {
        "title": event.title,
        "url": absolute_url("campaigns.page_detail", slug=event.slug),
        "city": event.city,
        "raised": format_money(figures.raised_minor, currency, locale),
        "rank": entry.rank if entry else None,
    }


def build_context(agent, page: Page, *, locale: str, share_url: str) -> dict:
    """The plain data a template sees, for one agent and page."""
    cause = page.cause
    org = cause.organisation
    cause_figures = figures_one(TotalScope.CAUSE, cause.id)
    return {
        "agent": _agent_dict(agent, page),
        "page": _page_dict(page, locale, share_url),
        "cause": {
            "title": cause.title,
            "url": absolute_url("campaigns.cause_detail", slug=cause.slug),
            "raised": format_money(cause_figures.raised_minor, org.currency, locale),
            "goal": format_money(cause.goal_minor, org.currency, locale),
            "days_left": _days_left(cause.ends_at),
        },
        "organisation": {"name": org.name},
        "event": _event_dict(page, locale),
        # Filled by the messages that have them (rank changes, batched gifts):
        # ``passed`` is the page a mover went past, ``passed_by`` the one that
        # went past a page.
        "old_rank": None,
        "passed": None,
        "passed_by": None,
        "gifts": None,
        "badge": None,
    }


def badge_data(code: str, locale: str) -> dict:
    """A badge as templates see it (``badge``), in ``locale``."""
    kind = BY_CODE[code]
    with force_locale(locale):
        return {"code": code, "title": str(kind.title), "description": str(kind.description)}


def context_for(
    agent, page: Page, *, channel: str, extra: dict | None = None, locale: str | None = None
) -> dict:
    """What a template renders for ``agent`` on ``page`` and ``channel``: plain
    dicts only, with the agent's own share link for that channel (created on
    first use, flushed).

    ``extra`` adds or replaces keys, e.g. ``{"old_rank": 5, "passed": {"title":
    "Marseille…", "city": "Marseille"}, "passed_by": {"title": "Lyon…", "city":
    "Lyon"}, "gifts": {"count": 3, "amount": "45 €", "amount_minor": 4500,
    "donors": ["Léa", "Hugo"]}, "badge": {"code": "top_10", "title": "Top 10",
    "description": "…"}}``. Amounts are formatted
    in ``locale`` (default: the organisation's).
    """

    locale = locale or page.cause.organisation.locale or "fr"
    link = sharing.link_for(agent, page, channel)
    context = build_context(agent, page, locale=locale, share_url=sharing.share_url(link))
    context.update(extra or {})
    return context


def sample_page(organisation: Organisation | None) -> Page | None:
    """A real published page of the organisation for previews: a personal page
    in an event first (every variable then has a value), else any."""
    if organisation is None:
        return None
    base = (
        select(Page)
        .join(Cause, Cause.id == Page.cause_id)
        .where(Cause.organisation_id == organisation.id, Page.status == PageStatus.PUBLISHED)
        .order_by(Page.id)
        .limit(1)
    )
    return db.session.scalar(
        base.where(Page.kind == PageKind.PERSONAL, Page.parent_id.is_not(None))
    ) or db.session.scalar(base)


SAMPLE_CODE = "AbC123xY"


def sample_context(
    organisation: Organisation | None, *, locale: str | None = None, page: Page | None = None
) -> dict:
    """A realistic context for validation and previews: a real page of the
    organisation when one exists, else made-up values. Writes nothing."""
    locale = locale or (organisation.locale if organisation else "fr")
    page = page or sample_page(organisation)
    share = absolute_url("sharing.follow", code=SAMPLE_CODE)
    if page is not None:
        context = build_context(page.owner, page, locale=locale, share_url=share)
    else:
        context = _made_up_context(organisation, locale, share)
    currency = organisation.currency if organisation else "EUR"
    rank = context["page"]["rank"] or 3
    context["old_rank"] = rank + 1
    context["passed"] = {"title": "Marseille, une soirée pour les puits", "city": "Marseille"}
    context["passed_by"] = {"title": "Lyon se mobilise pour l'eau", "city": "Lyon"}
    context["gifts"] = {
        "count": 3,
        "amount": format_money(4500, currency, locale),
        "amount_minor": 4500,
        "donors": ["Léa", "Hugo", "Inès"],
    }
    context["badge"] = badge_data("top_10", locale)
    if context["event"] is None:
        context["event"] = {
            "title": "Lyon se mobilise pour l'eau",
            "url": context["page"]["url"],
            "city": "Lyon",
            "raised": context["page"]["raised"],
            "rank": 2,
        }
    return context


def _made_up_context(organisation: Organisation | None, locale: str, share: str) -> dict:
    currency = organisation.currency if organisation else "EUR"
    name = organisation.name if organisation else "Eau Vive"

    def money(minor: int) -> str:
        return format_money(minor, currency, locale)

    return {
        "agent": {"name": "Camille Martin", "first_name": "Camille"},
        "page": {
            "title": "Camille relève le défi à Lyon",
            "url": share,
            "share_url": share,
            "raised": money(32_000),
            "raised_minor": 32_000,
            "goal": money(50_000),
            "goal_minor": 50_000,
            "percent": 64,
            "rank": 3,
            "gap_to_next": money(4_500),
            "next_title": "Léa relève le défi à Marseille",
            "donor_count": 17,
            "city": "Lyon",
            "kind": "personal",
        },
        "cause": {
            "title": "Twestival : de l'eau pour 20 villages",
            "url": share,
            "raised": money(2_400_000),
            "goal": money(6_000_000),
            "days_left": 12,
        },
        "organisation": {"name": name},
        "event": None,
        "old_rank": None,
        "passed": None,
        "passed_by": None,
        "gifts": None,
        "badge": None,
    }
