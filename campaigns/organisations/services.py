"""Organisations, causes and projects, and who is staff of an organisation.

Services take the acting agent as an argument, ``add``/``flush`` and never
commit: the view, API call or command that called them commits once.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from agents.models import Agent, Membership, MembershipRole
from campaigns import audit
from campaigns.errors import NotFound, PermissionDenied, ValidationError
from campaigns.giving.models import Donation
from campaigns.inputs import (
    SLUG_RE,
    check_slug,
    parse_datetime,
    parse_goal,
    slugify,
    suggest_slug,
    text_field,
)
from campaigns.organisations.models import Cause, CauseStatus, Organisation, Project
from extensions import db

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


def get_cause(slug: str) -> Cause:
    cause = db.session.scalar(
        select(Cause).where(Cause.slug == slug).options(joinedload(Cause.organisation))
    )
    if cause is None:
        raise NotFound(_("There is no cause at this address."))
    return cause


def get_organisation(slug: str) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(_("There is no organisation at this address."))
    return org


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
            clean[key] = text_field(data, key, errors, max_length=limit, required=key == "name")
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
    if "hidden_gift_total" in data:
        clean["hidden_gift_total"] = str(data["hidden_gift_total"] or "rounded")
        if clean["hidden_gift_total"] not in ("rounded", "hidden"):
            errors["hidden_gift_total"] = _("Choose rounded or hidden.")
    for key in ("offers_fee_cover", "counts_covers"):
        if key in data:
            clean[key] = data[key] is True or str(data[key]).lower() in ("y", "on", "true", "1")
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
            clean[key] = text_field(data, key, errors, max_length=limit, required=key == "title")
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
    name = text_field(data, "name", errors, max_length=200, required=True)
    description = text_field(data, "description", errors, max_length=5000)
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
