"""Pages: create, edit, publish, close, join and leave events, co-hosts, moderation.

Services take the acting agent as an argument, ``add``/``flush`` and never
commit: the view, API call or command that called them commits once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from agents.models import Agent
from campaigns import audit
from campaigns.errors import Conflict, NotFound, PermissionDenied, ValidationError
from campaigns.inputs import check_slug, parse_datetime, parse_goal, suggest_slug, text_field
from campaigns.model_types import utcnow
from campaigns.organisations.models import Cause, CauseStatus
from campaigns.organisations.services import is_staff, require_staff
from campaigns.pages.models import EVENT_KINDS, CohostInvite, Page, PageHost, PageKind, PageStatus
from campaigns.signals import page_closed, page_joined, page_published
from extensions import db


def is_cohost(agent: Agent | None, page: Page) -> bool:
    if agent is None or not getattr(agent, "id", None):
        return False
    return (
        db.session.scalar(
            select(PageHost.id).where(PageHost.page_id == page.id, PageHost.agent_id == agent.id)
        )
        is not None
    )


def can_edit(agent: Agent | None, page: Page) -> bool:
    if agent is None or not getattr(agent, "id", None):
        return False
    return page.owner_id == agent.id or is_cohost(agent, page)


def is_editor_or_staff(agent: Agent | None, page: Page) -> bool:
    """Its owner, a co-host or the organisation's staff: who sees what the public does not."""
    return can_edit(agent, page) or is_staff(agent, page.cause.organisation_id)


def require_editor(agent: Agent | None, page: Page) -> None:
    if not can_edit(agent, page):
        raise PermissionDenied(_("Only the page's owner and co-hosts can change it."))


PAGE_FIELDS = ("title", "slug", "story", "goal_minor", "city", "venue", "starts_at", "status")


def clean_page_input(data: dict, *, kind: PageKind, page: Page | None) -> dict:
    """Validate page fields (all of them for a new page, the given ones for an
    edit); raise ValidationError with a message per field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    is_new = page is None
    if is_new or "title" in data:
        clean["title"] = text_field(data, "title", errors, max_length=200, required=True)
    if "slug" in data and data.get("slug") not in (None, ""):
        slug = data["slug"]
        if not isinstance(slug, str):
            errors["slug"] = _("This must be text.")
        else:
            slug = slug.strip().lower()
            problem = check_slug(Page, slug, exclude_id=page.id if page else None)
            if problem:
                errors["slug"] = problem
            clean["slug"] = slug
    if is_new or "story" in data:
        clean["story"] = text_field(data, "story", errors, max_length=20_000)
    if is_new or "goal_minor" in data:
        try:
            clean["goal_minor"] = parse_goal(data.get("goal_minor", 0) or 0)
        except ValueError:
            errors["goal"] = _("Enter the goal as a whole amount, 0 or more (for example 500).")
    is_event = kind in EVENT_KINDS
    if is_new or "city" in data:
        clean["city"] = text_field(data, "city", errors, max_length=120, required=is_event)
    if is_new or "venue" in data:
        clean["venue"] = text_field(data, "venue", errors, max_length=200)
    if "starts_at" in data:
        try:
            starts_at = parse_datetime(data.get("starts_at"))
        except (ValueError, TypeError, OverflowError):
            errors["starts_at"] = _("Enter a date and time such as 2026-06-21 19:00.")
        else:
            changed = page is None or starts_at != page.starts_at
            if starts_at and changed and starts_at < utcnow():
                errors["starts_at"] = _("The event date must be in the future.")
            clean["starts_at"] = starts_at
    if "status" in data and data["status"] not in (None, ""):
        if data["status"] not in (PageStatus.DRAFT, PageStatus.PUBLISHED):
            errors["status"] = _("Status must be draft or published.")
        else:
            clean["status"] = PageStatus(data["status"])
    if errors:
        raise ValidationError(errors)
    return clean


# --- pages -----------------------------------------------------------------


def get_page(slug: str) -> Page:
    # Its cause and organisation in the same statement: every screen of a page
    # reads them (who may see it, the organisation's language).
    page = db.session.scalar(
        select(Page)
        .where(Page.slug == slug)
        .options(joinedload(Page.cause).joinedload(Cause.organisation))
    )
    if page is None:
        raise NotFound(_("There is no page at this address."))
    return page


PUBLIC_PAGES = (PageStatus.PUBLISHED, PageStatus.CLOSED)
PUBLIC_CAUSES = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)


def is_public(page: Page) -> bool:
    """Anyone may see it: published or closed, in a published or closed cause."""
    return page.status in PUBLIC_PAGES and page.cause.status in PUBLIC_CAUSES


def visible_page(agent: Agent | None, slug: str) -> Page:
    """The page ``agent`` may see, on the web and in the API alike: a public page
    for everyone, any other for its owner, its co-hosts and the organisation's
    staff; NotFound otherwise (a hidden page is not told apart from none)."""
    page = get_page(slug)
    if is_public(page) or is_editor_or_staff(agent, page):
        return page
    raise NotFound(_("There is no page at this address."))


def create_page(agent: Agent, cause: Cause, kind: str, data: dict) -> Page:
    """Create a page (a draft unless ``status`` says published) under a cause."""
    if cause.status != CauseStatus.PUBLISHED:
        raise ValidationError({"cause": _("Pages can only be created under a published cause.")})
    if kind not in (PageKind.PERSONAL, PageKind.EVENT, PageKind.TEAM):
        raise ValidationError({"kind": _("Choose a personal page or an event page.")})
    kind = PageKind(kind)
    data = dict(data)
    if kind == PageKind.EVENT and not data.get("starts_at"):
        # An event happens somewhere at some time: city and start are required.
        try:
            clean_page_input(data, kind=kind, page=None)
        except ValidationError as exc:
            raise ValidationError(
                {**exc.errors, "starts_at": _("Give the date and time of the event.")}
            ) from None
        raise ValidationError({"starts_at": _("Give the date and time of the event.")})
    clean = clean_page_input(data, kind=kind, page=None)
    status = clean.pop("status", PageStatus.DRAFT)
    slug = clean.pop("slug", None) or suggest_slug(Page, clean["title"])
    page = Page(cause=cause, owner_id=agent.id, kind=kind, slug=slug, **clean)
    db.session.add(page)
    if status == PageStatus.PUBLISHED:
        _publish(page)
    db.session.flush()
    return page


def update_page(agent: Agent, page: Page, data: dict) -> Page:
    """Change a page's fields (owner or co-host)."""
    require_editor(agent, page)
    if page.status == PageStatus.CLOSED:
        raise Conflict(_("This page is closed and can no longer be changed."))
    clean = clean_page_input(data, kind=page.kind, page=page)
    status = clean.pop("status", None)
    for key, value in clean.items():
        setattr(page, key, value)
    if status == PageStatus.PUBLISHED:
        publish_page(agent, page)
    elif status == PageStatus.DRAFT and page.status == PageStatus.PUBLISHED:
        page.status = PageStatus.DRAFT
    db.session.flush()
    return page


def _publish(page: Page) -> None:
    page.status = PageStatus.PUBLISHED
    page.published_at = page.published_at or utcnow()
    page_published.send(page)


def publish_page(agent: Agent, page: Page) -> Page:
    """Make a draft page public."""
    require_editor(agent, page)
    if page.status == PageStatus.HIDDEN:
        raise Conflict(
            _("This page was hidden by the organisation: %(reason)s", reason=page.hidden_reason)
        )
    if page.status == PageStatus.CLOSED:
        raise Conflict(_("This page is closed and can no longer be published."))
    _publish(page)
    db.session.flush()
    return page


def close_page(agent: Agent, page: Page) -> Page:
    """Close a page (its owner only): no new gifts; its history and money stay counted."""
    if page.owner_id != getattr(agent, "id", None):
        raise PermissionDenied(_("Only the page's owner can close it."))
    if page.status != PageStatus.CLOSED:
        page.status = PageStatus.CLOSED
        page.closed_at = utcnow()
        db.session.flush()
        page_closed.send(page)
    db.session.flush()
    return page


def join_event(agent: Agent, page: Page, event: Page, *, approved: bool = False) -> Page:
    """Put the agent's personal page under an event page. A team takes a page
    only once its captain approved it or invited its owner (``approved``; see
    ``campaigns.pages.teams``), or when the page's owner is one of its hosts."""
    check_join(agent, page, event)
    if event.kind == PageKind.TEAM and not approved and not can_edit(agent, event):
        raise ValidationError(
            {
                "event": _(
                    "A team takes new members on its captain's approval: ask to join "
                    "from the team's page, or use the invitation link the captain shares."
                )
            }
        )
    page.parent = event
    db.session.flush()
    page_joined.send(page, event=event)
    return page


def check_join(agent: Agent, page: Page, event: Page) -> None:
    """Whether the agent's page may join the event; ValidationError if not."""
    if page.owner_id != agent.id:
        raise PermissionDenied(_("You can only join an event with your own page."))
    errors = {}
    if page.kind != PageKind.PERSONAL:
        errors["page"] = _("Only a personal page can join an event.")
    if not event.is_event:
        errors["event"] = _("This page is not an event; choose an event page to join.")
    elif event.status != PageStatus.PUBLISHED:
        errors["event"] = _("This event is not open: it is closed, hidden or not yet published.")
    if event.cause_id != page.cause_id:
        errors["page"] = _("Your page must belong to the same cause as the event.")
    if page.status == PageStatus.CLOSED:
        errors["page"] = _("Your page is closed; open a new one to join an event.")
    if errors:
        raise ValidationError(errors)


def leave_event(agent: Agent, page: Page) -> Page:
    """Take a page out of its event; gifts made while it was a member stay counted there."""
    if page.owner_id != agent.id:
        raise PermissionDenied(_("Only the page's owner can take it out of an event."))
    page.parent = None
    db.session.flush()
    return page


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_cohost(agent: Agent, page: Page, email: str) -> tuple[CohostInvite, str]:
    """Invite someone by email to co-host an event; returns the invite and its token."""
    require_editor(agent, page)
    if not page.is_event:
        raise ValidationError({"email": _("Only event pages have co-hosts.")})
    email = (email or "").strip().lower()
    if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email) or len(email) > 255:
        raise ValidationError({"email": _("Enter a valid email address.")})
    token = secrets.token_urlsafe(32)
    invite = CohostInvite(
        page=page, email=email, token_hash=hash_token(token), invited_by_id=agent.id
    )
    db.session.add(invite)
    db.session.flush()
    return invite, token


INVITE_VALID_FOR = timedelta(days=14)


def accept_invite(agent: Agent, token: str) -> Page:
    """Make the agent a co-host of the page the invite is for."""
    invite = db.session.scalar(
        select(CohostInvite).where(CohostInvite.token_hash == hash_token(token))
    )
    if invite is None or invite.accepted_at is not None:
        raise NotFound(_("This invitation link is not valid or was already used."))
    if invite.created_at + INVITE_VALID_FOR < utcnow():
        raise NotFound(_("This invitation has expired. Ask the event's host for a new one."))
    page = invite.page
    if page.owner_id != agent.id and not is_cohost(agent, page):
        db.session.add(PageHost(page=page, agent_id=agent.id))
    invite.accepted_at = utcnow()
    invite.accepted_by_id = agent.id
    db.session.flush()
    return page


def hide_page(staff: Agent, page: Page, reason: str) -> Page:
    """Moderation: hide a page from the public, with a reason its owner sees."""
    require_staff(staff, page.cause.organisation_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Tell the owner why the page is hidden.")})
    reason = reason[:2000]
    if page.status == PageStatus.HIDDEN and page.hidden_reason == reason:
        return page  # hidden already, for the same reason: nothing to log
    previous = str(page.status)
    page.status = PageStatus.HIDDEN
    page.hidden_reason = reason
    db.session.flush()
    audit.record(
        page.cause.organisation_id,
        staff,
        "page.hide",
        f"Page {page.slug} hidden: {reason}",
        subject=page,
        details={"title": page.title, "slug": page.slug, "reason": reason, "from": previous},
    )
    return page


def unhide_page(staff: Agent, page: Page) -> Page:
    require_staff(staff, page.cause.organisation_id)
    if page.status == PageStatus.HIDDEN:
        # Back to where its owner left it: closed, published, or still a draft.
        if page.closed_at:
            page.status = PageStatus.CLOSED
        elif page.published_at:
            page.status = PageStatus.PUBLISHED
        else:
            page.status = PageStatus.DRAFT
        page.hidden_reason = ""
        audit.record(
            page.cause.organisation_id,
            staff,
            "page.unhide",
            f"Page {page.slug} visible again ({page.status})",
            subject=page,
            details={"title": page.title, "slug": page.slug, "to": str(page.status)},
        )
    db.session.flush()
    return page


def editable_pages(agent: Agent) -> list[Page]:
    """Pages the agent owns or co-hosts, newest first."""
    cohosted = select(PageHost.page_id).where(PageHost.agent_id == agent.id)
    return list(
        db.session.scalars(
            select(Page)
            .where((Page.owner_id == agent.id) | Page.id.in_(cohosted))
            .order_by(Page.created_at.desc())
        )
    )
