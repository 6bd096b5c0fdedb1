"""Fund use: staff record what a project's money paid for; donors see raised
vs spent per project, and on each page what that page's share funded.

Expenses are drafts until staff publish them. Every change writes an audit
entry in the same transaction. A supporting document (PDF, PNG or JPEG,
checked by its content) is kept outside the public ``/media/`` folder and
served by a view that shows a draft's document to the organisation's staff only.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from agents.models import Agent
from campaigns import audit
from campaigns.errors import Conflict, PermissionDenied, ValidationError
from campaigns.fund_use.models import Expense
from campaigns.inputs import text_field
from campaigns.model_types import utcnow
from campaigns.offline.services import WALL_CLOCK
from campaigns.organisations import services
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.signals import expense_published
from extensions import db

MAX_AMOUNT_MINOR = 100_000_000_000  # a billion euros: anything above is a typing slip
EARLIEST_DAY = date(2000, 1, 1)
DOCUMENT_FOLDER = "private/expenses"
DOCUMENT_RE = re.compile(r"^[0-9a-f]{32}\.(pdf|png|jpg)$")
MEDIA_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}


# --- documents ---------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """A checked, cleaned supporting document (``expense_forms.read_document``)."""

    data: bytes
    extension: str  # pdf | png | jpg


def document_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / DOCUMENT_FOLDER


def _store(document: Document) -> str:
    folder = document_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{document.extension}"
    (folder / name).write_bytes(document.data)
    return name


def discard_document(name: str | None) -> None:
    """Remove a document file no row names any more (called after the commit)."""
    if name and DOCUMENT_RE.match(name):
        (document_folder() / name).unlink(missing_ok=True)


# --- staff: recording expenses -------------------------------------------------


def _spent_at(value: Any, errors: dict) -> datetime | None:
    """The day the money was spent, kept as noon UTC so it reads as the same
    day in every time zone the organisations work in."""
    if not isinstance(value, date) or isinstance(value, datetime):
        errors["spent_at"] = _("Enter the day the money was spent, such as 2026-06-21.")
        return None
    if value > datetime.now(WALL_CLOCK).date():
        errors["spent_at"] = _("The day cannot be in the future: record the expense once paid.")
        return None
    if value < EARLIEST_DAY:
        errors["spent_at"] = _("Enter a day from the year 2000 on.")
        return None
    return datetime.combine(value, time(12), UTC)


def check(data: dict) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate an expense's fields without writing anything: (clean, errors).

    ``data``: ``project`` (a Project), ``amount_minor`` (int), ``spent_on`` (a
    date), ``title``, ``description``, optional ``document`` (a Document) and
    ``remove_document`` (bool).
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "title": text_field(
            data,
            "title",
            errors,
            max_length=200,
            required=True,
            required_message=_("Give the expense a short title, for example “Well #34, Kati”."),
        ),
        "description": text_field(data, "description", errors, max_length=5000),
    }
    project = data.get("project")
    if not isinstance(project, Project):
        errors["project"] = _("Choose the project this money was spent on.")
    clean["project"] = project
    amount = data.get("amount_minor")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        errors["amount_minor"] = _("Enter the amount spent, greater than 0, such as 2400 or 12.50.")
    elif amount > MAX_AMOUNT_MINOR:
        errors["amount_minor"] = _("This amount is too large. Check it and try again.")
    clean["amount_minor"] = amount
    clean["spent_at"] = _spent_at(data.get("spent_on"), errors)
    document = data.get("document")
    if document is not None and (
        not isinstance(document, Document) or document.extension not in MEDIA_TYPES
    ):
        errors["document"] = _("Choose a PDF, PNG or JPEG file.")
    clean["document"] = document
    clean["remove_document"] = bool(data.get("remove_document"))
    return clean, errors


def _label(expense: Expense) -> str:
    return f"“{expense.title}” ({expense.project.cause.slug}/{expense.project.slug})"


def save_expense(staff: Agent, organisation: Organisation, expense: Expense | None, data: dict):
    """Record a new expense as a draft (``expense`` None) or edit one (staff).

    The project must belong to ``organisation``; the amount is in its currency.
    Editing a published expense is allowed (a typo, a late invoice): the audit
    entry keeps what changed.
    """
    services.require_staff(staff, organisation.id)
    if expense is not None and expense.project.cause.organisation_id != organisation.id:
        raise PermissionDenied(_("Only the organisation's staff can do that."))
    clean, errors = check(data)
    project = clean["project"]
    if isinstance(project, Project) and project.cause.organisation_id != organisation.id:
        errors["project"] = _("Choose one of your organisation's projects.")
    if errors:
        raise ValidationError(errors)
    fields = {k: clean[k] for k in ("title", "description", "amount_minor", "spent_at")}
    fields["project_id"] = project.id
    fields["currency"] = organisation.currency
    is_new = expense is None
    changes: dict[str, list[str]] = {}
    if expense is None:
        expense = Expense(created_by_id=staff.id, is_published=False, **fields)
        db.session.add(expense)
    else:
        changes = {
            key: [str(getattr(expense, key)), str(value)]
            for key, value in fields.items()
            if getattr(expense, key) != value
        }
        for key, value in fields.items():
            setattr(expense, key, value)
    old_document = expense.document
    if clean["document"] is not None:
        # Written only once everything else is valid; a failed commit leaves an
        # unreferenced file, never a row that names a missing one.
        expense.document = _store(clean["document"])
    elif clean["remove_document"]:
        expense.document = None
    if expense.document != old_document:
        changes["document"] = ["yes" if old_document else "no", "yes" if expense.document else "no"]
    if not is_new and not changes:
        return expense  # saved as it was: nothing happened to log
    expense.project = project
    db.session.flush()
    audit.record(
        organisation.id,
        staff,
        "expense.create" if is_new else "expense.edit",
        f"Recorded expense {_label(expense)}"
        if is_new
        else f"Edited expense {_label(expense)}: {', '.join(sorted(changes))}",
        subject=expense,
        amount_minor=expense.amount_minor,
        currency=expense.currency,
        details={"changes": changes, "is_published": expense.is_published},
    )
    return expense


def _locked(staff: Agent, organisation: Organisation, expense: Expense) -> Expense:
    """The staff member's expense re-read under a row lock (PostgreSQL; SQLite
    writers are serial), so two people publishing it at once change and log it once."""
    services.require_staff(staff, organisation.id)
    if expense.project.cause.organisation_id != organisation.id:
        raise PermissionDenied(_("Only the organisation's staff can do that."))
    found = db.session.scalars(
        select(Expense)
        .where(Expense.id == expense.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise Conflict(_("This expense was deleted in the meantime."))
    return found


def _log(staff: Agent, organisation: Organisation, expense: Expense, action: str, verb: str):
    audit.record(
        organisation.id,
        staff,
        action,
        f"{verb} expense {_label(expense)}",
        subject=expense,
        amount_minor=expense.amount_minor,
        currency=expense.currency,
    )


def publish_expense(staff: Agent, organisation: Organisation, expense: Expense) -> Expense:
    """Show an expense to the public: project page, pages' fund use, open data."""
    expense = _locked(staff, organisation, expense)
    if expense.is_published:
        raise Conflict(_("This expense is already published."))
    expense.is_published = True
    expense.published_at = utcnow()
    db.session.flush()
    _log(staff, organisation, expense, "expense.publish", "Published")
    expense_published.send(expense)
    return expense


def unpublish_expense(staff: Agent, organisation: Organisation, expense: Expense) -> Expense:
    """Take a published expense back to draft: it leaves every public view."""
    expense = _locked(staff, organisation, expense)
    if not expense.is_published:
        raise Conflict(_("This expense is not published."))
    expense.is_published = False
    expense.published_at = None
    db.session.flush()
    _log(staff, organisation, expense, "expense.unpublish", "Unpublished")
    return expense


def delete_expense(staff: Agent, organisation: Organisation, expense: Expense) -> str | None:
    """Delete a draft expense; returns its document's file name, to remove after
    the commit. A published one must be unpublished first: donors may have seen it."""
    expense = _locked(staff, organisation, expense)
    if expense.is_published:
        raise Conflict(_("Unpublish this expense before deleting it: donors may have seen it."))
    _log(staff, organisation, expense, "expense.delete", "Deleted draft")
    document = expense.document
    db.session.delete(expense)
    db.session.flush()
    return document


def organisation_expenses(organisation_id: int, project_id: int | None = None):
    """A query of an organisation's expenses, drafts too, newest first (staff)."""
    query = (
        select(Expense)
        .join(Project, Project.id == Expense.project_id)
        .join(Cause, Cause.id == Project.cause_id)
        .where(Cause.organisation_id == organisation_id)
        .order_by(Expense.spent_at.desc(), Expense.id.desc())
    )
    if project_id is not None:
        query = query.where(Expense.project_id == project_id)
    return query


def published_expenses(project: Project):
    """A query of a project's published expenses, newest first."""
    return (
        select(Expense)
        .where(Expense.project_id == project.id, Expense.is_published.is_(True))
        .order_by(Expense.spent_at.desc(), Expense.id.desc())
    )
