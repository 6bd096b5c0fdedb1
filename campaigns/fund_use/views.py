"""Fund use on the web: staff record and publish expenses; the public reads a
project's raised vs spent, its published expenses and their documents; each
page shows what its share funded (``fund_use_for`` in templates).

Staff views parse the form, call ``campaigns.fund_use.services``, commit once and
redirect; a refusal rolls back and shows the form again with its messages.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from fractions import Fraction

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import format_date, format_percent
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from sqlalchemy import case, func, select

from campaigns.errors import NotFound, ValidationError
from campaigns.fund_use import allocation
from campaigns.fund_use import services as expenses
from campaigns.fund_use.forms import ExpenseForm
from campaigns.fund_use.models import Expense
from campaigns.offline.services import today
from campaigns.organisations import services
from campaigns.organisations.forms import ConfirmForm
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.staff_gate import save_staff_form, staff_organisation, staff_organisation_to_write
from campaigns.standings import leaderboards
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures
from campaigns.web import agent, visible_cause
from extensions import db

bp = Blueprint("expenses", __name__)

PER_SCREEN = 50


def percent_text(fraction: Fraction) -> str:
    """A share as a whole percentage in the reader's language; "< 1 %" below one."""
    hundred = Fraction(fraction) * 100
    if 0 < hundred < 1:
        return _("< %(percent)s", percent=format_percent(Decimal("0.01")))
    return format_percent(Decimal(round(hundred)) / 100)


def expense_day(expense: Expense) -> str:
    # Stored at noon UTC: the UTC date is the day staff typed.
    return format_date(expense.spent_at.astimezone(UTC).date(), "medium")


@bp.app_context_processor
def _helpers() -> dict:
    return {
        "fund_use_for": allocation.page_fund_use,
        "fund_percent": percent_text,
        "expense_day": expense_day,
    }


# --- public --------------------------------------------------------------------


def _project(cause: Cause, project_slug: str) -> Project:
    project = db.session.scalar(
        select(Project).where(Project.cause_id == cause.id, Project.slug == project_slug)
    )
    if project is None:
        raise NotFound(_("There is no project at this address."))
    return project


@bp.get("/c/<cause_slug>/projects/<project_slug>")
def project(cause_slug: str, project_slug: str):
    cause = visible_cause(cause_slug)
    found = _project(cause, project_slug)
    listing = db.paginate(
        expenses.published_expenses(found),
        per_page=PER_SCREEN,
        max_per_page=PER_SCREEN,
        error_out=False,
    )
    return render_template(
        "campaigns/project.html",
        cause=cause,
        project=found,
        money=allocation.project_money(found),
        listing=listing,
        give_page=_give_page(cause),
    )


def _give_page(cause: Cause) -> str | None:
    """The slug of the page a project's "Give" button opens: the cause's
    leading page (the cause has no give form of its own)."""
    entries = leaderboards.public_board(cause.id, "pages", limit=1)
    return entries[0].slug if entries else None


@bp.get("/c/<cause_slug>/projects/<project_slug>/expenses/<int:expense_id>/document")
def document(cause_slug: str, project_slug: str, expense_id: int):
    """A published expense's document for anyone; a draft's for staff only."""
    cause = visible_cause(cause_slug)
    found = _project(cause, project_slug)
    expense = db.session.get(Expense, expense_id)
    if expense is None or expense.project_id != found.id or not expense.document:
        abort(404)
    if not expenses.DOCUMENT_RE.match(expense.document):
        abort(404)
    if not expense.is_published and not services.is_staff(agent(), cause.organisation_id):
        abort(404)  # a draft's document does not exist for the public
    extension = expense.document.rsplit(".", 1)[1]
    response = send_from_directory(
        expenses.document_folder(),
        expense.document,
        mimetype=expenses.MEDIA_TYPES[extension],
        # A PDF is downloaded rather than rendered on our origin.
        as_attachment=extension == "pdf",
        download_name=f"expense-{expense.id}.{extension}",
    )
    # Short public caching: an unpublished document must disappear soon.
    response.headers["Cache-Control"] = (
        "public, max-age=300" if expense.is_published else "private, no-store"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- staff ---------------------------------------------------------------------


def _projects(org: Organisation) -> list[Project]:
    return list(
        db.session.scalars(
            select(Project)
            .join(Cause, Cause.id == Project.cause_id)
            .where(Cause.organisation_id == org.id)
            .order_by(Cause.created_at.desc(), Cause.id, Project.position, Project.id)
        )
    )


def _expense(org: Organisation, expense_id: int) -> Expense:
    expense = db.session.get(Expense, expense_id)
    if expense is None or expense.project.cause.organisation_id != org.id:
        abort(404)
    return expense


def _summary(projects: list[Project]) -> dict[int, dict]:
    """Per project: raised for it, published spending, drafts (two grouped queries)."""
    ids = [p.id for p in projects]
    raised = figures(TotalScope.PROJECT, ids)
    rows = {
        project_id: (int(spent or 0), int(drafts or 0))
        for project_id, spent, drafts in db.session.execute(
            select(
                Expense.project_id,
                func.sum(case((Expense.is_published.is_(True), Expense.amount_minor), else_=0)),
                func.sum(case((Expense.is_published.is_(True), 0), else_=1)),
            )
            .where(Expense.project_id.in_(ids))
            .group_by(Expense.project_id)
        )
    }
    return {
        pid: {
            "raised": raised[pid].raised_minor,
            "spent": rows.get(pid, (0, 0))[0],
            "drafts": rows.get(pid, (0, 0))[1],
        }
        for pid in ids
    }


@bp.get("/staff/<org_slug>/expenses")
@auth_required()
def index(org_slug: str):
    org, role = staff_organisation(org_slug)
    projects = _projects(org)
    chosen = request.args.get("project", type=int)
    if chosen not in {p.id for p in projects}:
        chosen = None
    listing = db.paginate(
        expenses.organisation_expenses(org.id, chosen),
        per_page=PER_SCREEN,
        max_per_page=PER_SCREEN,
        error_out=False,
    )
    return render_template(
        "staff/expenses.html",
        org=org,
        role=role,
        projects=projects,
        summary=_summary(projects),
        chosen=chosen,
        listing=listing,
        confirm=ConfirmForm(),
    )


def _submit(form: ExpenseForm, org: Organisation, projects: list[Project], expense):
    """Save the form through the service and commit; None when it must show again."""
    staff = current_user._get_current_object()
    old_document = expense.document if expense is not None else None
    problems: dict[str, str] = {}

    def read():
        data, found = form.service_data(org.currency, projects)
        problems.update(found)
        return data, found

    def save(data: dict):
        if problems:
            # The service's word on the other fields too, but nothing is written.
            raise ValidationError(expenses.check(data)[1])
        return expenses.save_expense(staff, org, expense, data)

    saved = save_staff_form(form, read, save)
    if saved is not None and old_document and saved.document != old_document:
        expenses.discard_document(old_document)
    return saved


@bp.route("/staff/<org_slug>/expenses/new", methods=["GET", "POST"])
@auth_required()
def new(org_slug: str):
    org, role = staff_organisation(org_slug)
    projects = _projects(org)
    form = ExpenseForm(
        data={"project": request.args.get("project", ""), "spent_on": today().isoformat()}
    )
    form.offer(projects)
    saved = _submit(form, org, projects, None) if projects else None
    if saved:
        flash(
            _(
                "The expense “%(title)s” is saved as a draft. Publish it to show it.",
                title=saved.title,
            ),
            "success",
        )
        return redirect(url_for(".index", org_slug=org.slug, project=saved.project_id))
    form.show_currency(org.currency)
    return render_template(
        "staff/expense_form.html", org=org, role=role, form=form, expense=None, projects=projects
    ), (422 if form.error_list() else 200)


@bp.route("/staff/<org_slug>/expenses/<int:expense_id>", methods=["GET", "POST"])
@auth_required()
def edit(org_slug: str, expense_id: int):
    org, role = staff_organisation(org_slug)
    expense = _expense(org, expense_id)
    projects = _projects(org)
    form = ExpenseForm.for_expense(expense)
    form.offer(projects)
    saved = _submit(form, org, projects, expense)
    if saved:
        flash(_("The expense was saved."), "success")
        return redirect(url_for(".index", org_slug=org.slug, project=saved.project_id))
    form.show_currency(org.currency)
    return render_template(
        "staff/expense_form.html",
        org=org,
        role=role,
        form=form,
        expense=expense,
        projects=projects,
    ), (422 if form.error_list() else 200)


def _act(org_slug: str, expense_id: int, action, done: str):
    # The service re-reads the expense before changing it.
    org, _role = staff_organisation_to_write(org_slug)
    expense = _expense(org, expense_id)
    title, project_id = expense.title, expense.project_id
    form = ConfirmForm()
    staff = current_user._get_current_object()
    result = save_staff_form(
        form, lambda: ({}, {}), lambda _data: action(staff, org, expense) or True
    )
    if result:
        flash(done % {"title": title}, "success")
    else:
        for _field, message in form.error_list():
            flash(message, "error")
    return result, redirect(url_for(".index", org_slug=org.slug, project=project_id))


@bp.post("/staff/<org_slug>/expenses/<int:expense_id>/publish")
@auth_required()
def publish(org_slug: str, expense_id: int):
    done = _("“%(title)s” is published: donors see it on the project and their pages.")
    return _act(org_slug, expense_id, expenses.publish_expense, done)[1]


@bp.post("/staff/<org_slug>/expenses/<int:expense_id>/unpublish")
@auth_required()
def unpublish(org_slug: str, expense_id: int):
    done = _("“%(title)s” is a draft again: the public no longer sees it.")
    return _act(org_slug, expense_id, expenses.unpublish_expense, done)[1]


@bp.post("/staff/<org_slug>/expenses/<int:expense_id>/delete")
@auth_required()
def delete(org_slug: str, expense_id: int):
    result, response = _act(
        org_slug, expense_id, expenses.delete_expense, _("The draft “%(title)s” was deleted.")
    )
    if isinstance(result, str):  # the deleted draft's document, now unreferenced
        expenses.discard_document(result)
    return response
