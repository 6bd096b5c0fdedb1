"""Free agents' public profiles (``/agents/<handle>``), shown only once the agent
chooses to: their name and bio, a photo, links, their public pages, what
those raised and the badges they earned.

What a profile shows of pages and money is what the pages themselves show the
public: drafts and hidden pages never, amounts through
``campaigns.giving.discretion`` ("hide my amount" holds here too).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Agent, Profile
from campaigns.badges import services as badges
from campaigns.errors import NotFound, ValidationError
from campaigns.giving.discretion import public_page_figures
from campaigns.inputs import RESERVED_SLUGS, SLUG_RE, slugify, web_address
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page, PageStatus
from campaigns.pages.services import PUBLIC_CAUSES, PUBLIC_PAGES
from campaigns.totals.services import Figures
from extensions import db

HANDLE_MAX = 40
LINKS = ("website_url", "blog_url", "x_url", "facebook_url")
# Links that must point at one network: its hosts (a handle like @name is a link to it).
NETWORK_HOSTS = {
    "x_url": ("x.com", "twitter.com"),
    "facebook_url": ("facebook.com", "fb.com", "fb.me"),
}


def profile_of(agent: Agent) -> Profile | None:
    return db.session.get(Profile, agent.id) if agent is not None and agent.id else None


def public_profile_of(agent: Agent | None) -> Profile | None:
    """The agent's profile when the public may see it."""
    if agent is None or agent.is_deleted or not agent.active:
        return None
    profile = profile_of(agent)
    return profile if profile is not None and profile.is_public else None


def _handle_taken(handle: str, agent_id: int) -> bool:
    return (
        db.session.scalar(
            select(Profile.agent_id).where(
                func.lower(Profile.handle) == handle.lower(), Profile.agent_id != agent_id
            )
        )
        is not None
    )


def suggest_handle(agent: Agent) -> str:
    """A free handle from the agent's name: 'camille-martin', then 'camille-martin-2', …"""
    base = slugify(agent.display_name or "agent", HANDLE_MAX - 4)
    if base in RESERVED_SLUGS:
        base = f"{base}-agent"
    candidate, n = base, 1
    while _handle_taken(candidate, agent.id):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _network_link(value: str, field: str) -> str:
    """A link to X or Facebook: an address on that network, or a name (@name)."""
    if re.fullmatch(r"@[A-Za-z0-9_.]{1,50}|[A-Za-z0-9_]{1,50}", value):
        return f"https://{NETWORK_HOSTS[field][0]}/{value.lstrip('@')}"
    address = web_address(value)
    host = (urlsplit(address).hostname or "").lower()
    for prefix in ("www.", "m.", "mobile."):
        host = host.removeprefix(prefix)
    if host not in NETWORK_HOSTS[field]:
        raise ValueError("another site")
    return address


def save_profile(
    agent: Agent,
    *,
    is_public: bool,
    handle: str,
    links: dict[str, str],
    photo: str | None = None,
    remove_photo: bool = False,
) -> Profile:
    """Save the agent's public profile; ``photo`` is the name of a photo saved
    by ``campaigns.photos`` (checked like page photos)."""
    errors: dict[str, str] = {}
    handle = (handle or "").strip().lower() or suggest_handle(agent)
    if len(handle) > HANDLE_MAX or not SLUG_RE.match(handle):
        errors["handle"] = _(
            "Use lower-case letters, digits and dashes only, %(n)s at most (for example "
            "camille-m).",
            n=HANDLE_MAX,
        )
    elif handle in RESERVED_SLUGS:
        errors["handle"] = _("This address is reserved. Choose another one.")
    elif _handle_taken(handle, agent.id):
        errors["handle"] = _("This address is already taken. Choose another one.")
    clean: dict[str, str] = {}
    for field in LINKS:
        value = (links.get(field) or "").strip()
        try:
            if field in NETWORK_HOSTS and value:
                clean[field] = _network_link(value, field)
            else:
                clean[field] = web_address(value)
        except ValueError:
            errors[field] = {
                "x_url": _("Enter your X address (https://x.com/…) or @name."),
                "facebook_url": _("Enter a Facebook address (https://facebook.com/…)."),
            }.get(field, _("Enter a web address, for example https://example.org."))
    if is_public and not agent.name.strip():
        errors["is_public"] = _("Enter your name above before showing your profile.")
    if errors:
        raise ValidationError(errors)
    profile = profile_of(agent)
    if profile is None:
        profile = Profile(agent_id=agent.id)
        db.session.add(profile)
    profile.handle = handle
    profile.is_public = bool(is_public)
    for field, value in clean.items():
        setattr(profile, field, value)
    if photo:
        profile.photo = photo
    elif remove_photo:
        profile.photo = None
    db.session.flush()
    return profile


def get_public_profile(handle: str) -> Profile:
    profile = db.session.scalar(
        select(Profile).where(func.lower(Profile.handle) == (handle or "").lower())
    )
    if profile is None or public_profile_of(profile.agent) is None:
        raise NotFound(_("There is no profile at this address."))
    return profile


# --- what a profile shows -----------------------------------------------------


@dataclass(frozen=True)
class Showcase:
    pages: list[Page]  # published first, then closed
    figures: dict[int, Figures]  # public figures (discretion)
    raised: list[tuple[str, int]]  # (currency, amount) over the pages, each gift once
    badges: list[badges.Shown]


def public_pages(agent: Agent) -> list[Page]:
    """The agent's pages the public may see, open ones first, newest first."""
    return list(
        db.session.scalars(
            select(Page)
            .join(Cause, Cause.id == Page.cause_id)
            .where(
                Page.owner_id == agent.id,
                Page.status.in_(PUBLIC_PAGES),
                Cause.status.in_(PUBLIC_CAUSES),
            )
            .order_by((Page.status == PageStatus.CLOSED), Page.published_at.desc(), Page.id.desc())
        )
    )


def raised_total(pages: list[Page], figures: dict[int, Figures]) -> list[tuple[str, int]]:
    """What the pages show as raised, added up per currency: a page inside one
    of the agent's own events is already in the event's figure, and a figure
    the public may not see is left out (never worked back from the total)."""
    ids = {p.id for p in pages}
    sums: dict[str, int] = defaultdict(int)
    for page in pages:
        if page.parent_id in ids:
            continue
        raised = figures[page.id].raised_minor
        if raised is not None:
            sums[page.currency] += raised
    return sorted(sums.items())


def showcase(agent: Agent) -> Showcase:
    pages = public_pages(agent)
    figures = public_page_figures(pages)
    return Showcase(
        pages=pages,
        figures=figures,
        raised=raised_total(pages, figures),
        badges=badges.combined(badges.shown(pages, figures)),
    )
