"""Organisation staff: organisation, causes, projects, moderation, staff members.

Every view here parses the form, calls a service, commits once and redirects; a
refusal rolls back and shows the form again with the messages next to fields.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from campaigns.organisations import services as org_services
from campaigns.organisations.forms import (
    CauseForm,
    OrganisationForm,
    ProjectForm,
)
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.pages.models import Page, PageStatus
from campaigns.staff_gate import save_staff_form, staff_cause, staff_organisation
from extensions import db

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.context_processor
def _helpers() -> dict:
    def public_url(endpoint: str, **values) -> str | None:
        # Public pages live in the areas' views; a missing endpoint must not break staff screens.
        try:
            return url_for(endpoint, **values)
        except BuildError:
            return None

    return {"public_url": public_url}


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
    org, role = staff_organisation(org_slug)
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
    org, role = staff_organisation(org_slug, admin=True)
    form = OrganisationForm.for_organisation(org)
    if save_staff_form(
        form, form.service_data, lambda d: org_services.save_organisation(current_user, org, d)
    ):
        flash(_("The organisation was saved."), "success")
        return redirect(url_for(".overview", org_slug=org.slug))
    form.show_currency(org.currency)
    return render_template("staff/organisation_form.html", org=org, role=role, form=form)


# --- causes and projects -----------------------------------------------------


@bp.route("/<org_slug>/causes/new", methods=["GET", "POST"])
@auth_required()
def new_cause(org_slug: str):
    org, role = staff_organisation(org_slug)
    form = CauseForm(data={"status": "draft"})
    cause = save_staff_form(
        form,
        lambda: form.service_data(org.currency, is_new=True),
        lambda d: org_services.save_cause(current_user, org, None, d),
    )
    if cause:
        flash(_("The cause “%(title)s” was created.", title=cause.title), "success")
        return redirect(url_for(".edit_cause", org_slug=org.slug, cause_slug=cause.slug))
    form.show_currency(org.currency)
    return render_template("staff/cause_form.html", org=org, role=role, form=form, cause=None)


@bp.route("/<org_slug>/causes/<cause_slug>", methods=["GET", "POST"])
@auth_required()
def edit_cause(org_slug: str, cause_slug: str):
    org, role = staff_organisation(org_slug)
    cause = staff_cause(org, cause_slug)
    form = CauseForm.for_cause(cause)
    saved = save_staff_form(
        form,
        lambda: form.service_data(org.currency, is_new=False),
        lambda d: org_services.save_cause(current_user, org, cause, d),
    )
    if saved:
        flash(_("The cause was saved."), "success")
        return redirect(url_for(".edit_cause", org_slug=org.slug, cause_slug=saved.slug))
    form.show_currency(org.currency)
    return render_template("staff/cause_form.html", org=org, role=role, form=form, cause=cause)


@bp.route("/<org_slug>/causes/<cause_slug>/projects/new", methods=["GET", "POST"])
@auth_required()
def new_project(org_slug: str, cause_slug: str):
    org, role = staff_organisation(org_slug)
    cause = staff_cause(org, cause_slug)
    form = ProjectForm()
    project = save_staff_form(
        form,
        lambda: form.service_data(org.currency),
        lambda d: org_services.save_project(current_user, cause, None, d),
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
    org, role = staff_organisation(org_slug)
    cause = staff_cause(org, cause_slug)
    project = db.session.scalar(
        select(Project).where(Project.cause_id == cause.id, Project.slug == project_slug)
    )
    if project is None:
        abort(404)
    form = ProjectForm.for_project(project)
    current_slug = project.slug
    saved = save_staff_form(
        form,
        lambda: form.service_data(org.currency, current_slug=current_slug),
        lambda d: org_services.save_project(current_user, cause, project, d),
    )
    if saved:
        flash(_("The project was saved."), "success")
        return redirect(url_for(".edit_cause", org_slug=org.slug, cause_slug=cause.slug))
    form.show_currency(org.currency)
    return render_template(
        "staff/project_form.html", org=org, role=role, cause=cause, project=project, form=form
    )
