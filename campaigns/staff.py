"""Organisation staff: organisation, causes, projects, moderation, staff members.

Every view here parses the form, calls a service, commits once and redirects; a
refusal rolls back and shows the form again with the messages next to fields.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.routing import BuildError

from agents.models import Membership, MembershipRole  # read only; writes go through services
from agents.services import find_agent
from campaigns import services
from campaigns.errors import NotFound, PermissionDenied, ServiceError, ValidationError
from campaigns.models import Cause, Organisation, Page, PageStatus, Project
from campaigns.staff_forms import (
    CauseForm,
    ConfirmForm,
    HideForm,
    OrganisationForm,
    ProjectForm,
    StaffForm,
    StaffMemberForm,
)
from extensions import begin_write, db

bp = Blueprint("staff", __name__, url_prefix="/staff")

PAGES_PER_SCREEN = 50


@bp.context_processor
def _helpers() -> dict:
    def public_url(endpoint: str, **values) -> str | None:
        # Public pages live in campaigns.views; a missing endpoint must not break staff screens.
        try:
            return url_for(endpoint, **values)
        except BuildError:
            return None

    return {"public_url": public_url}


# --- helpers ---------------------------------------------------------------


def _organisation(org_slug: str, *, admin: bool = False) -> tuple[Organisation, str]:
    """The organisation and the current agent's role in it; 403 for anyone else."""
    org = services.get_organisation(org_slug)
    role = services.membership_role(current_user, org.id)
    if role is None or (admin and role != MembershipRole.ADMIN):
        abort(403)
    g.organisation_locale = org.locale
    return org, role


def _organisation_to_write(org_slug: str) -> tuple[Organisation, str]:
    """``_organisation`` for a view that changes money or a review: end the
    read-only transaction the login opened and write from the first read
    (BEGIN IMMEDIATE on SQLite; row locks do the rest on PostgreSQL), so two
    clicks are served one after the other."""
    db.session.commit()
    begin_write()
    return _organisation(org_slug)


def _cause(org: Organisation, cause_slug: str) -> Cause:
    cause = services.get_cause(cause_slug)
    if cause.organisation_id != org.id:
        abort(404)
    return cause


def _page(org: Organisation, page_slug: str) -> Page:
    page = services.get_page(page_slug)
    if page.cause.organisation_id != org.id:
        abort(404)
    return page


def _save(form: StaffForm, read: Callable[[], tuple[dict, dict]], save: Callable[[dict], Any]):
    """Read the form, call the service and commit once.

    Returns the service's result, or None when the form must be shown again (the
    session is rolled back and the messages are on the form).
    """
    if not form.validate_on_submit():
        return None
    data, problems = read()
    try:
        result = save(data)
        if problems:
            raise ValidationError(problems)
        db.session.commit()
        return result
    except ValidationError as exc:
        db.session.rollback()
        # What the form could not read wins over what the service said about the gap.
        form.add_errors({**exc.errors, **problems})
    except PermissionDenied:
        db.session.rollback()
        raise
    except ServiceError as exc:
        db.session.rollback()
        form.general_errors.append(exc.message)
    except IntegrityError:
        db.session.rollback()
        form.general_errors.append(
            _("Someone saved the same address at the same moment. Choose another one.")
        )
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("staff form refused by the database")
        form.general_errors.append(
            _("One of the values is too long or too large. Shorten it and try again.")
        )
    return None


def _status_counts(org: Organisation) -> tuple[dict[int, Counter], Counter]:
    rows = db.session.execute(
        select(Page.cause_id, Page.status, func.count(Page.id))
        .join(Cause, Cause.id == Page.cause_id)
        .where(Cause.organisation_id == org.id)
        .group_by(Page.cause_id, Page.status)
    ).all()
    per_cause: dict[int, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for cause_id, status, count in rows:
        per_cause[cause_id][str(status)] += count
        overall[str(status)] += count
    return per_cause, overall


# --- organisations -----------------------------------------------------------


@bp.get("/")
@auth_required()
def index():
    memberships = sorted(current_user.memberships, key=lambda m: m.organisation.name.lower())
    if not memberships:
        abort(403)
    return render_template("staff/index.html", memberships=memberships)


@bp.get("/<org_slug>/")
@auth_required()
def overview(org_slug: str):
    org, role = _organisation(org_slug)
    causes = db.session.scalars(
        select(Cause).where(Cause.organisation_id == org.id).order_by(Cause.created_at.desc())
    ).all()
    per_cause, overall = _status_counts(org)
    return render_template(
        "staff/overview.html",
        org=org,
        role=role,
        causes=causes,
        per_cause=per_cause,
        overall=overall,
        statuses=list(PageStatus),
    )


@bp.route("/<org_slug>/edit", methods=["GET", "POST"])
@auth_required()
def edit_organisation(org_slug: str):
    org, role = _organisation(org_slug, admin=True)
    form = OrganisationForm.for_organisation(org)
    if _save(form, form.service_data, lambda d: services.save_organisation(current_user, org, d)):
        flash(_("The organisation was saved."), "success")
        return redirect(url_for(".overview", org_slug=org.slug))
    form.show_currency(org.currency)
    return render_template("staff/organisation_form.html", org=org, role=role, form=form)


# --- causes and projects -----------------------------------------------------


@bp.route("/<org_slug>/causes/new", methods=["GET", "POST"])
@auth_required()
def new_cause(org_slug: str):
    org, role = _organisation(org_slug)
    form = CauseForm(data={"status": "draft"})
    cause = _save(
        form,
        lambda: form.service_data(org.currency, is_new=True),
        lambda d: services.save_cause(current_user, org, None, d),
    )
    if cause:
        flash(_("The cause “%(title)s” was created.", title=cause.title), "success")
        return redirect(url_for(".edit_cause", org_slug=org.slug, cause_slug=cause.slug))
    form.show_currency(org.currency)
    return render_template("staff/cause_form.html", org=org, role=role, form=form, cause=None)


@bp.route("/<org_slug>/causes/<cause_slug>", methods=["GET", "POST"])
@auth_required()
def edit_cause(org_slug: str, cause_slug: str):
    org, role = _organisation(org_slug)
    cause = _cause(org, cause_slug)
    form = CauseForm.for_cause(cause)
    saved = _save(
        form,
        lambda: form.service_data(org.currency, is_new=False),
        lambda d: services.save_cause(current_user, org, cause, d),
    )
    if saved:
        flash(_("The cause was saved."), "success")
        return redirect(url_for(".edit_cause", org_slug=org.slug, cause_slug=saved.slug))
    form.show_currency(org.currency)
    return render_template("staff/cause_form.html", org=org, role=role, form=form, cause=cause)


@bp.route("/<org_slug>/causes/<cause_slug>/projects/new", methods=["GET", "POST"])
@auth_required()
def new_project(org_slug: str, cause_slug: str):
    org, role = _organisation(org_slug)
    cause = _cause(org, cause_slug)
    form = ProjectForm()
    project = _save(
        form,
        lambda: form.service_data(org.currency),
        lambda d: services.save_project(current_user, cause, None, d),
    )
    if project:
        flash(_("The project “%(name)s” was added.", name=project.name), "success")
        return redirect(url_for(".edit_cause", org_slug=org.slug, cause_slug=cause.slug))
    form.show_currency(org.currency)
    return render_template(
        "staff/project_form.html", org=org, role=role, cause=cause, project=None, form=form
    )


@bp.route("/<org_slug>/causes/<cause_slug>/projects/<project_slug>", methods=["GET", "POST"])
@auth_required()
def edit_project(org_slug: str, cause_slug: str, project_slug: str):
    org, role = _organisation(org_slug)
    cause = _cause(org, cause_slug)
    project = db.session.scalar(
        select(Project).where(Project.cause_id == cause.id, Project.slug == project_slug)
    )
    if project is None:
        abort(404)
    form = ProjectForm.for_project(project)
    current_slug = project.slug
    saved = _save(
        form,
        lambda: form.service_data(org.currency, current_slug=current_slug),
        lambda d: services.save_project(current_user, cause, project, d),
    )
    if saved:
        flash(_("The project was saved."), "success")
        return redirect(url_for(".edit_cause", org_slug=org.slug, cause_slug=cause.slug))
    form.show_currency(org.currency)
    return render_template(
        "staff/project_form.html", org=org, role=role, cause=cause, project=project, form=form
    )


# --- moderation --------------------------------------------------------------


@bp.get("/<org_slug>/pages")
@auth_required()
def pages(org_slug: str):
    org, role = _organisation(org_slug)
    status = request.args.get("status", "")
    if status not in {s.value for s in PageStatus}:
        status = ""
    query_text = request.args.get("q", "").strip()[:100]
    query = (
        select(Page)
        .join(Cause, Cause.id == Page.cause_id)
        .where(Cause.organisation_id == org.id)
        .order_by(Page.created_at.desc(), Page.id.desc())
    )
    if status:
        query = query.where(Page.status == status)
    if query_text:
        like = f"%{query_text.lower()}%"
        query = query.where(
            or_(func.lower(Page.title).like(like), func.lower(Page.slug).like(like))
        )
    listing = db.paginate(
        query, per_page=PAGES_PER_SCREEN, max_per_page=PAGES_PER_SCREEN, error_out=False
    )
    return render_template(
        "staff/pages.html",
        org=org,
        role=role,
        listing=listing,
        status=status,
        query_text=query_text,
        statuses=list(PageStatus),
        confirm=ConfirmForm(),
    )


@bp.route("/<org_slug>/pages/<page_slug>/hide", methods=["GET", "POST"])
@auth_required()
def hide_page(org_slug: str, page_slug: str):
    org, role = _organisation(org_slug)
    page = _page(org, page_slug)
    form = HideForm(data={"reason": page.hidden_reason})
    reason_read = lambda: ({"reason": form.reason.data or ""}, {})  # noqa: E731
    if _save(form, reason_read, lambda d: services.hide_page(current_user, page, d["reason"])):
        flash(_("“%(title)s” is hidden; its owner sees your reason.", title=page.title), "success")
        return redirect(url_for(".pages", org_slug=org.slug, status="hidden"))
    return render_template("staff/hide_page.html", org=org, role=role, page=page, form=form)


@bp.post("/<org_slug>/pages/<page_slug>/unhide")
@auth_required()
def unhide_page(org_slug: str, page_slug: str):
    org, _role = _organisation(org_slug)
    page = _page(org, page_slug)
    form = ConfirmForm()
    if _save(form, lambda: ({}, {}), lambda d: services.unhide_page(current_user, page)):
        flash(_("“%(title)s” is visible again.", title=page.title), "success")
    else:
        for _field, message in form.error_list():
            flash(message, "error")
    return redirect(url_for(".pages", org_slug=org.slug))


# --- staff members -----------------------------------------------------------


def _memberships(org: Organisation) -> list:
    return list(
        db.session.scalars(
            select(Membership)
            .where(Membership.organisation_id == org.id)
            .order_by(Membership.role, Membership.created_at)
        )
    )


def _admin_count(org: Organisation) -> int:
    return sum(1 for m in _memberships(org) if m.role == MembershipRole.ADMIN)


@bp.route("/<org_slug>/staff", methods=["GET", "POST"])
@auth_required()
def staff(org_slug: str):
    org, role = _organisation(org_slug)
    form = StaffMemberForm(data={"role": "staff"})
    if request.method == "POST":
        if role != MembershipRole.ADMIN:
            abort(403)

        def add(data: dict):
            try:
                agent = find_agent(data["email"])
            except NotFound as exc:
                raise ValidationError({"email": exc.message}) from exc
            current = services.membership_role(agent, org.id)
            if (
                current == MembershipRole.ADMIN
                and data["role"] != MembershipRole.ADMIN
                and _admin_count(org) <= 1
            ):
                raise ValidationError(
                    {"role": _("An organisation needs at least one admin. Add another first.")}
                )
            return services.add_staff(org, agent, data["role"])

        read = lambda: ({"email": form.email.data or "", "role": form.role.data or ""}, {})  # noqa: E731
        membership = _save(form, read, add)
        if membership:
            message = (
                _("%(name)s is now an admin.", name=membership.agent.display_name)
                if membership.role == MembershipRole.ADMIN
                else _("%(name)s is now staff.", name=membership.agent.display_name)
            )
            flash(message, "success")
            return redirect(url_for(".staff", org_slug=org.slug))
    return render_template(
        "staff/staff.html",
        org=org,
        role=role,
        form=form,
        memberships=_memberships(org),
        confirm=ConfirmForm(),
    )


@bp.post("/<org_slug>/staff/<int:membership_id>/remove")
@auth_required()
def remove_staff(org_slug: str, membership_id: int):
    org, _role = _organisation(org_slug, admin=True)
    membership = next((m for m in _memberships(org) if m.id == membership_id), None)
    if membership is None:
        abort(404)
    form = ConfirmForm()
    removed_self = membership.agent_id == current_user.id

    def remove(_data: dict):
        # TODO(services): move into campaigns.services.remove_staff(org, agent).
        if membership.role == MembershipRole.ADMIN and _admin_count(org) <= 1:
            raise ValidationError(
                {"role": _("An organisation needs at least one admin. Add another first.")}
            )
        name = membership.agent.display_name
        db.session.delete(membership)
        db.session.flush()
        return name

    name = _save(form, lambda: ({}, {}), remove)
    if name:
        flash(_("%(name)s is no longer staff.", name=name), "success")
    else:
        for _field, message in form.error_list():
            flash(message, "error")
    if name and removed_self:
        return redirect(url_for("campaigns.home"))
    return redirect(url_for(".staff", org_slug=org.slug))
