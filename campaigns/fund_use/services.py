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
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from fractions import Fraction
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Agent
from campaigns import audit
from campaigns.errors import Conflict, PermissionDenied, ValidationError
from campaigns.fund_use.models import Expense
from campaigns.giving.models import Donation
from campaigns.model_types import utcnow
from campaigns.offline.services import WALL_CLOCK
from campaigns.organisations import services
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.pages.models import Page
from campaigns.totals.models import Total, TotalScope
from campaigns.totals.services import figures
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


def _text(data: dict, key: str, errors: dict, limit: int, *, required: bool = False) -> str:
    value = data.get(key) or ""
    if not isinstance(value, str):
        errors[key] = _("This must be text.")
        return ""
    value = value.strip()
    if required and not value:
        errors[key] = _("Give the expense a short title, for example “Well #34, Kati”.")
    elif len(value) > limit:
        errors[key] = _("Keep this under %(n)s characters.", n=limit)
    return value


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
        "title": _text(data, "title", errors, 200, required=True),
        "description": _text(data, "description", errors, 5000),
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


# --- fund use: who paid for what ----------------------------------------------


@dataclass(frozen=True)
class CauseMoney:
    """A cause's money as the fund-use rule reads it (net of refunds)."""

    currency: str
    spent: dict[int, int]  # published expenses per project, projects with some only
    designated: dict[int, int]  # net gifts per project
    undesignated: int  # net gifts without a project (unattributed money too)

    @property
    def total_spent(self) -> int:
        return sum(self.spent.values())

    def funding(self, project_id: int) -> Fraction:
        """Gifts designated to the project plus its pro-rata part of the rest."""
        ratio = Fraction(self.spent.get(project_id, 0), self.total_spent or 1)
        return max(Fraction(0), self.designated.get(project_id, 0) + self.undesignated * ratio)


@dataclass(frozen=True)
class Share:
    """What one page's money did for one project (see ``shares``)."""

    project_id: int
    spent_minor: int
    funding_minor: int
    contribution_minor: int
    fraction: Fraction  # exact; of the project's money (or of its cost, if over-spent)

    def funded(self, amount_minor: int) -> int:
        """The part of an amount this page paid for, rounded half to even."""
        return round(self.fraction * amount_minor)

    @property
    def funded_minor(self) -> int:
        return self.funded(self.spent_minor)


def shares(money: CauseMoney, own: Mapping[int | None, int]) -> dict[int, Share]:
    """A page's share of each project that has published expenses.

    The rule, as the page explains it: the page's contribution to project P is
    its net gifts designated to P plus its undesignated net gifts × (spent on
    P / spent on all the cause's projects); P's funding is the same sum over
    the whole cause; the page's fraction of P is contribution / max(funding,
    spent on P), so an over-spent project (paid partly from other funds) is
    shared by its cost; each published expense e of P is funded ≈ fraction ×
    e's amount by the page. ``own`` maps a project id (None: no project) to the
    page's net gifts. Exact fractions; amounts are rounded half to even only
    for display.
    """
    total = money.total_spent
    if total <= 0:
        return {}
    own_undesignated = own.get(None, 0)
    out: dict[int, Share] = {}
    for project_id, spent in money.spent.items():
        ratio = Fraction(spent, total)
        contribution = max(Fraction(0), own.get(project_id, 0) + own_undesignated * ratio)
        funding = money.funding(project_id)
        fraction = min(Fraction(1), contribution / max(funding, spent))
        out[project_id] = Share(project_id, spent, round(funding), round(contribution), fraction)
    return out


def cause_money(cause_ids: Iterable[int]) -> dict[int, CauseMoney]:
    """``CauseMoney`` of the causes that have published expenses: three grouped
    queries whatever the number of causes, projects or expenses."""
    ids = list(cause_ids)
    if not ids:
        return {}
    spent: dict[int, dict[int, int]] = defaultdict(dict)
    currencies: dict[int, str] = {}
    for cause_id, currency, project_id, amount in db.session.execute(
        select(
            Project.cause_id,
            Organisation.currency,
            Expense.project_id,
            func.sum(Expense.amount_minor),
        )
        .join(Project, Project.id == Expense.project_id)
        .join(Cause, Cause.id == Project.cause_id)
        .join(Organisation, Organisation.id == Cause.organisation_id)
        # An expense recorded before the organisation changed currency is not added to it.
        .where(
            Project.cause_id.in_(ids),
            Expense.is_published.is_(True),
            Expense.currency == Organisation.currency,
        )
        .group_by(Project.cause_id, Organisation.currency, Expense.project_id)
    ):
        if amount:
            spent[cause_id][project_id] = int(amount)
            currencies[cause_id] = currency
    if not spent:
        return {}
    designated: dict[int, dict[int, int]] = defaultdict(dict)
    for cause_id, project_id, raised in db.session.execute(
        select(Project.cause_id, Total.scope_id, func.sum(Total.raised_minor))
        .join(Project, Project.id == Total.scope_id)
        .where(Total.scope == TotalScope.PROJECT, Project.cause_id.in_(list(spent)))
        .group_by(Project.cause_id, Total.scope_id)
    ):
        designated[cause_id][project_id] = int(raised or 0)
    cause_totals = figures(TotalScope.CAUSE, list(spent))
    return {
        cause_id: CauseMoney(
            currency=currencies[cause_id],
            spent=spent[cause_id],
            designated=designated[cause_id],
            undesignated=cause_totals[cause_id].raised_minor - sum(designated[cause_id].values()),
        )
        for cause_id in spent
    }


def own_money(pages: Iterable[Page]) -> dict[int, dict[int | None, int]]:
    """Each page's net gifts per project (None: no project): a personal page's
    own gifts, an event's with its member pages' (the ledger's ``event_id``)."""
    out: dict[int, dict[int | None, int]] = defaultdict(dict)
    pages = list(pages)
    for column, ids in (
        (Donation.page_id, [p.id for p in pages if not p.is_event]),
        (Donation.event_id, [p.id for p in pages if p.is_event]),
    ):
        if not ids:
            continue
        for page_id, project_id, amount in db.session.execute(
            select(column, Donation.project_id, func.sum(Donation.amount_minor))
            .where(column.in_(ids))
            .group_by(column, Donation.project_id)
        ):
            out[page_id][project_id] = int(amount or 0)
    return out


@dataclass
class ProjectFunding:
    """One project in a page's "what your money funded" section."""

    project: Project
    share: Share
    expenses: list[tuple[Expense, int]] = field(default_factory=list)  # (expense, funded)
    expense_count: int = 0


def latest_expenses(project_ids: Iterable[int], per_project: int) -> dict[int, tuple[list, int]]:
    """The newest published expenses of each project and how many it has, in one query."""
    ids = list(project_ids)
    if not ids:
        return {}
    order = (Expense.spent_at.desc(), Expense.id.desc())
    ranked = (
        select(
            Expense.id.label("id"),
            func.row_number().over(partition_by=Expense.project_id, order_by=order).label("rn"),
            func.count().over(partition_by=Expense.project_id).label("n"),
        )
        .where(Expense.project_id.in_(ids), Expense.is_published.is_(True))
        .subquery()
    )
    out: dict[int, tuple[list, int]] = {}
    for expense, count in db.session.execute(
        select(Expense, ranked.c.n)
        .join(ranked, ranked.c.id == Expense.id)
        .where(ranked.c.rn <= per_project)
        .order_by(Expense.project_id, ranked.c.rn)
    ):
        listed, _count = out.get(expense.project_id, ([], 0))
        out[expense.project_id] = ([*listed, expense], int(count))
    return out


def page_fund_use(page: Page, per_project: int = 5) -> list[ProjectFunding]:
    """What a page's share of its cause's money funded, per project, largest
    first; a fixed number of queries whatever the number of expenses."""
    money = cause_money([page.cause_id]).get(page.cause_id)
    if money is None:
        return []
    found = {
        pid: share
        for pid, share in shares(money, own_money([page]).get(page.id, {})).items()
        if share.fraction > 0
    }
    if not found:
        return []
    projects = {p.id: p for p in db.session.scalars(select(Project).where(Project.id.in_(found)))}
    latest = latest_expenses(found, per_project)
    items = []
    for pid, share in found.items():
        listed, count = latest.get(pid, ([], 0))
        items.append(
            ProjectFunding(
                project=projects[pid],
                share=share,
                expenses=[(e, share.funded(e.amount_minor)) for e in listed],
                expense_count=count,
            )
        )
    return sorted(items, key=lambda i: (-i.share.contribution_minor, i.project.position))


@dataclass(frozen=True)
class ProjectMoney:
    """Raised vs spent for a project's public page."""

    raised_minor: int  # gifts designated to the project, net
    donor_count: int
    funding_minor: int  # plus its pro-rata share of the cause's undesignated gifts
    spent_minor: int  # published expenses


def project_money(project: Project) -> ProjectMoney:
    """Raised, funding and spent for one project (the rule of ``shares``)."""
    designated = figures(TotalScope.PROJECT, [project.id])[project.id]
    money = cause_money([project.cause_id]).get(project.cause_id)
    if money is None:
        return ProjectMoney(
            designated.raised_minor, designated.donor_count, designated.raised_minor, 0
        )
    return ProjectMoney(
        raised_minor=designated.raised_minor,
        donor_count=designated.donor_count,
        funding_minor=round(money.funding(project.id)),
        spent_minor=money.spent.get(project.id, 0),
    )


def published_expenses(project: Project):
    """A query of a project's published expenses, newest first."""
    return (
        select(Expense)
        .where(Expense.project_id == project.id, Expense.is_published.is_(True))
        .order_by(Expense.spent_at.desc(), Expense.id.desc())
    )
