"""Business rules for organisations, causes, projects, pages and gifts.

Services take the acting agent as an argument, ``add``/``flush`` and never
commit: the view, API call or command that called them commits once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Agent, Membership, MembershipRole
from campaigns import audit, totals
from campaigns.errors import Conflict, NotFound, PermissionDenied, ValidationError
from campaigns.models import (
    Cause,
    CauseStatus,
    CohostInvite,
    Donation,
    DonationKind,
    Organisation,
    Page,
    PageHost,
    PageKind,
    PageStatus,
    Project,
    utcnow,
)
from campaigns.signals import gift_recorded, page_published
from extensions import db

MAX_GOAL_MINOR = 100_000_000_00  # 100 million in major units
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = {"new", "edit", "api", "admin", "staff", "static", "media", "account", "me"}


# --- slugs -----------------------------------------------------------------


def slugify(text: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "page"


def _slug_taken(model, slug: str, exclude_id: int | None = None) -> bool:
    query = select(model.id).where(func.lower(model.slug) == slug.lower())
    if exclude_id:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query) is not None


def suggest_slug(model, title: str) -> str:
    """A free slug from a title: 'lyon-twestival', then 'lyon-twestival-2', …"""
    base = slugify(title)
    if base in RESERVED_SLUGS:
        base = f"{base}-page"
    candidate, n = base, 1
    while _slug_taken(model, candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def check_slug(model, slug: str, exclude_id: int | None = None) -> str | None:
    """An error message for a slug, or None when it can be used."""
    if not slug or len(slug) > 80 or not SLUG_RE.match(slug):
        return _("Use lower-case letters, digits and dashes only (for example lyon-2026).")
    if slug in RESERVED_SLUGS:
        return _("This address is reserved. Choose another one.")
    if _slug_taken(model, slug, exclude_id):
        return _("This address is already taken. Choose another one.")
    return None


# --- permissions -----------------------------------------------------------


def membership_role(agent: Agent | None, organisation_id: int) -> MembershipRole | None:
    if agent is None or not getattr(agent, "id", None):
        return None
    return db.session.scalar(
        select(Membership.role).where(
            Membership.agent_id == agent.id, Membership.organisation_id == organisation_id
        )
    )


def is_staff(agent: Agent | None, organisation_id: int) -> bool:
    return membership_role(agent, organisation_id) is not None


def require_staff(agent: Agent | None, organisation_id: int) -> None:
    if not is_staff(agent, organisation_id):
        raise PermissionDenied(_("Only the organisation's staff can do that."))


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


def require_editor(agent: Agent | None, page: Page) -> None:
    if not can_edit(agent, page):
        raise PermissionDenied(_("Only the page's owner and co-hosts can change it."))


# --- input -----------------------------------------------------------------


def _text(data: dict, key: str, errors: dict, *, max_length: int, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        errors[key] = _("This must be text.")
        return ""
    value = value.strip()
    if required and not value:
        errors[key] = _("This field is required.")
    elif len(value) > max_length:
        errors[key] = _("Keep this under %(n)s characters.", n=max_length)
    return value


def parse_goal(value: Any) -> int:
    """A goal in minor units: a whole number from 0 up; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise ValueError("not an integer")
    if value < 0 or value > MAX_GOAL_MINOR:
        raise ValueError("out of range")
    return value


def parse_datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError("not a date")
    if parsed.tzinfo is None:
        # A naive time is the organiser's wall clock; the demo organisation is in Paris.
        from zoneinfo import ZoneInfo

        parsed = parsed.replace(tzinfo=ZoneInfo("Europe/Paris"))
    from datetime import UTC

    return parsed.astimezone(UTC)


PAGE_FIELDS = ("title", "slug", "story", "goal_minor", "city", "venue", "starts_at", "status")


def clean_page_input(data: dict, *, kind: PageKind, page: Page | None) -> dict:
    """Validate page fields (all of them for a new page, the given ones for an
    edit); raise ValidationError with a message per field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    is_new = page is None
    if is_new or "title" in data:
        clean["title"] = _text(data, "title", errors, max_length=200, required=True)
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
        clean["story"] = _text(data, "story", errors, max_length=20_000)
    if is_new or "goal_minor" in data:
        try:
            clean["goal_minor"] = parse_goal(data.get("goal_minor", 0) or 0)
        except ValueError:
            errors["goal"] = _("Enter the goal as a whole amount, 0 or more (for example 500).")
    is_event = kind in (PageKind.EVENT, PageKind.TEAM)
    if is_new or "city" in data:
        clean["city"] = _text(data, "city", errors, max_length=120, required=is_event)
    if is_new or "venue" in data:
        clean["venue"] = _text(data, "venue", errors, max_length=200)
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
    page = db.session.scalar(select(Page).where(Page.slug == slug))
    if page is None:
        raise NotFound(_("There is no page at this address."))
    return page


def get_cause(slug: str) -> Cause:
    cause = db.session.scalar(select(Cause).where(Cause.slug == slug))
    if cause is None:
        raise NotFound(_("There is no cause at this address."))
    return cause


def get_organisation(slug: str) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(_("There is no organisation at this address."))
    return org


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
    return page


def join_event(agent: Agent, page: Page, event: Page) -> Page:
    """Put the agent's personal page under an event page."""
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
    page.parent = event
    db.session.flush()
    return page


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


# --- gifts -----------------------------------------------------------------


def donor_key_for(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest() if email else ""


def record_gift(
    *,
    page: Page | None,
    cause: Cause,
    amount_minor: int,
    donor_name: str = "",
    donor_email: str = "",
    message: str = "",
    is_anonymous: bool = False,
    project: Project | None = None,
    kind: DonationKind = DonationKind.GIFT,
    created_at: datetime | None = None,
    payment_method: str = "card",
    extra: dict | None = None,
    collected_earlier: bool = False,
) -> Donation:
    """Append a gift to the ledger and to every total it counts in, and tell
    listeners (notifications). Its receipt number comes later, from
    ``campaigns.receipts.issue_pending``.

    A page that is missing or closed does not lose the money: it lands on the
    cause as unattributed, unless ``collected_earlier`` (cash collected while
    the page was open, confirmed after it closed). ``extra`` sets further
    Donation columns (Stripe ids, the pending or offline gift it came from).
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationError({"amount": _("The amount must be a positive whole number.")})
    # Money collected while the page was open (cash confirmed later) stays on it.
    open_statuses = (
        (PageStatus.PUBLISHED, PageStatus.CLOSED) if collected_earlier else (PageStatus.PUBLISHED,)
    )
    is_unattributed = page is None or page.status not in open_statuses
    target = None if is_unattributed else page
    donation = Donation(
        kind=kind,
        organisation_id=cause.organisation_id,
        cause_id=cause.id,
        project_id=project.id if project else None,
        page_id=target.id if target else None,
        event_id=(target.parent_id or (target.id if target.is_event else None)) if target else None,
        amount_minor=amount_minor,
        currency=cause.organisation.currency,
        donor_name=donor_name,
        donor_email=donor_email,
        donor_key=donor_key_for(donor_email),
        message=message,
        is_anonymous=is_anonymous,
        is_unattributed=is_unattributed,
        payment_method=payment_method,
        **(extra or {}),
    )
    if created_at:
        donation.created_at = created_at
    db.session.add(donation)
    db.session.flush()
    if not donation.donor_key:
        donation.donor_key = f"row:{donation.id}"
    totals.apply(donation)
    gift_recorded.send(donation)
    return donation


# --- organisations, causes, projects (staff) --------------------------------


ORG_TEXT = {"name": 200, "legal_name": 200, "address": 2000, "website": 300}


def _amounts(value: Any, errors: dict) -> list[int]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    try:
        amounts = [parse_goal(v) for v in value]
        if not amounts or any(a <= 0 for a in amounts) or len(amounts) > 6:
            raise ValueError
    except (TypeError, ValueError):
        errors["suggested_amounts"] = _("Give one to six positive amounts, separated by commas.")
        return []
    return amounts


def save_organisation(agent: Agent | None, org: Organisation | None, data: dict) -> Organisation:
    """Create (``org`` None, by a CLI or a site admin) or edit an organisation."""
    from campaigns.money import CURRENCIES

    if org is not None:
        role = membership_role(agent, org.id)
        if role != MembershipRole.ADMIN:
            raise PermissionDenied(_("Only the organisation's admins can change it."))
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, limit in ORG_TEXT.items():
        if org is None or key in data:
            clean[key] = _text(data, key, errors, max_length=limit, required=key == "name")
    if org is None or "slug" in data:
        slug = str(data.get("slug") or slugify(clean.get("name", ""))).strip().lower()
        problem = check_slug(Organisation, slug, exclude_id=org.id if org else None)
        if problem:
            errors["slug"] = problem
        clean["slug"] = slug
    if "currency" in data or org is None:
        currency = str(data.get("currency") or "EUR").upper()
        if currency not in CURRENCIES:
            errors["currency"] = _("Choose one of: %(list)s.", list=", ".join(CURRENCIES))
        if (
            org is not None
            and currency != org.currency
            and db.session.scalar(
                select(Donation.id).where(Donation.organisation_id == org.id).limit(1)
            )
        ):
            errors["currency"] = _("The currency cannot change once gifts were received.")
        clean["currency"] = currency
    if "locale" in data or org is None:
        locale = str(data.get("locale") or "fr")
        if locale not in ("fr", "en"):
            errors["locale"] = _("Choose French (fr) or English (en).")
        clean["locale"] = locale
    if "suggested_amounts" in data:
        clean["suggested_amounts"] = _amounts(data["suggested_amounts"], errors)
    for key in ("min_amount_minor", "max_amount_minor", "open_data_k_floor"):
        if key in data:
            try:
                clean[key] = parse_goal(data[key])
            except ValueError:
                errors[key] = _("Enter a whole number, 0 or more.")
    low = clean.get("min_amount_minor", org.min_amount_minor if org else 200)
    high = clean.get("max_amount_minor", org.max_amount_minor if org else 1_000_000)
    if low > high:
        errors["min_amount_minor"] = _("The smallest gift must not be above the largest.")
    if errors:
        raise ValidationError(errors)
    if org is None:
        org = Organisation(**clean)
        db.session.add(org)
    else:
        for key, value in clean.items():
            setattr(org, key, value)
    db.session.flush()
    return org


def add_staff(organisation: Organisation, agent: Agent, role: str) -> Membership:
    """Give an agent a staff role in an organisation (or change it)."""
    if role not in (MembershipRole.ADMIN, MembershipRole.STAFF):
        raise ValidationError({"role": _("The role must be admin or staff.")})
    membership = db.session.scalar(
        select(Membership).where(
            Membership.agent_id == agent.id, Membership.organisation_id == organisation.id
        )
    )
    if membership is None:
        membership = Membership(agent=agent, organisation_id=organisation.id)
        db.session.add(membership)
    membership.role = MembershipRole(role)
    db.session.flush()
    return membership


def save_cause(agent: Agent | None, org: Organisation, cause: Cause | None, data: dict) -> Cause:
    """Create or edit a cause (staff)."""
    if agent is not None:
        require_staff(agent, org.id)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, limit in (("title", 200), ("summary", 300), ("story", 50_000)):
        if cause is None or key in data:
            clean[key] = _text(data, key, errors, max_length=limit, required=key == "title")
    if cause is None or "slug" in data:
        slug = str(data.get("slug") or "").strip().lower() or suggest_slug(
            Cause, clean.get("title", "")
        )
        problem = check_slug(Cause, slug, exclude_id=cause.id if cause else None)
        if problem:
            errors["slug"] = problem
        clean["slug"] = slug
    if cause is None or "goal_minor" in data:
        try:
            clean["goal_minor"] = parse_goal(data.get("goal_minor", 0) or 0)
        except ValueError:
            errors["goal"] = _("Enter the goal as a whole amount, 0 or more (for example 500).")
    for key in ("starts_at", "ends_at"):
        if key in data:
            try:
                clean[key] = parse_datetime(data[key])
            except (ValueError, TypeError, OverflowError):
                errors[key] = _("Enter a date and time such as 2026-06-21 19:00.")
    starts, ends = clean.get("starts_at"), clean.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = _("The end must come after the start.")
    if "status" in data:
        try:
            clean["status"] = CauseStatus(data["status"])
        except ValueError:
            errors["status"] = _("Status must be draft, published or closed.")
    if errors:
        raise ValidationError(errors)
    # A new cause starts from nothing: created as a draft, it changed no visibility.
    previous = str(cause.status) if cause is not None else str(CauseStatus.DRAFT)
    if cause is None:
        cause = Cause(organisation=org, **clean)
        db.session.add(cause)
    else:
        for key, value in clean.items():
            setattr(cause, key, value)
    db.session.flush()
    if str(cause.status) != previous:
        audit.record(
            org.id,
            agent,
            "cause.status",
            f"Cause {cause.slug}: {previous} -> {cause.status}",
            subject=cause,
            details={
                "title": cause.title,
                "slug": cause.slug,
                "from": previous,
                "to": str(cause.status),
            },
        )
    return cause


def save_project(agent: Agent | None, cause: Cause, project: Project | None, data: dict) -> Project:
    """Create or edit a project (a designation donors can choose)."""
    if agent is not None:
        require_staff(agent, cause.organisation_id)
    errors: dict[str, str] = {}
    name = _text(data, "name", errors, max_length=200, required=True)
    description = _text(data, "description", errors, max_length=5000)
    try:
        goal = parse_goal(data.get("goal_minor", 0) or 0)
    except ValueError:
        errors["goal"] = _("Enter the goal as a whole amount, 0 or more (for example 500).")
        goal = 0
    slug = str(data.get("slug") or slugify(name)).strip().lower()
    if not SLUG_RE.match(slug):
        errors["slug"] = _(
            "Use lower-case letters, digits and dashes only (for example lyon-2026)."
        )
    else:
        clash = db.session.scalar(
            select(Project.id).where(Project.cause_id == cause.id, Project.slug == slug)
        )
        if clash and (project is None or clash != project.id):
            errors["slug"] = _("This address is already taken. Choose another one.")
    if errors:
        raise ValidationError(errors)
    if project is None:
        project = Project(cause=cause, position=len(cause.projects))
        db.session.add(project)
    project.name, project.description, project.goal_minor, project.slug = (
        name,
        description,
        goal,
        slug,
    )
    db.session.flush()
    return project
