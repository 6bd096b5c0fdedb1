"""Staff screens of an organisation's people (``staff`` blueprint): its staff
members (add, change, remove) and the directory of its free agents."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from agents import directory as agents_directory
from agents.models import MembershipRole  # read only; writes go through services
from agents.services import admin_count, find_agent, memberships, remove_membership
from campaigns.errors import NotFound, ValidationError
from campaigns.organisations import services as org_services
from campaigns.organisations.forms import (
    ConfirmForm,
    StaffMemberForm,
)
from campaigns.organisations.staff_views import bp
from campaigns.staff_gate import save_staff_form, staff_organisation
from extensions import db

# --- staff members -----------------------------------------------------------


@bp.route("/<org_slug>/staff", methods=["GET", "POST"])
@auth_required()
def staff(org_slug: str):
    org, role = staff_organisation(org_slug)
    form = StaffMemberForm(data={"role": "staff"})
    if request.method == "POST":
        if role != MembershipRole.ADMIN:
            abort(403)

        def add(data: dict):
            try:
                agent = find_agent(data["email"])
            except NotFound as exc:
                raise ValidationError({"email": exc.message}) from exc
            current = org_services.membership_role(agent, org.id)
            if (
                current == MembershipRole.ADMIN
                and data["role"] != MembershipRole.ADMIN
                and admin_count(org.id) <= 1
            ):
                raise ValidationError(
                    {"role": _("An organisation needs at least one admin. Add another first.")}
                )
            return org_services.add_staff(org, agent, data["role"])

        read = lambda: ({"email": form.email.data or "", "role": form.role.data or ""}, {})  # noqa: E731
        membership = save_staff_form(form, read, add)
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
        memberships=memberships(org.id),
        confirm=ConfirmForm(),
    )


@bp.post("/<org_slug>/staff/<int:membership_id>/remove")
@auth_required()
def remove_staff(org_slug: str, membership_id: int):
    org, _role = staff_organisation(org_slug, admin=True)
    membership = next((m for m in memberships(org.id) if m.id == membership_id), None)
    if membership is None:
        abort(404)
    form = ConfirmForm()
    removed_self = membership.agent_id == current_user.id

    name = save_staff_form(form, lambda: ({}, {}), lambda _data: remove_membership(membership))
    if name:
        flash(_("%(name)s is no longer staff.", name=name), "success")
    else:
        for _field, message in form.error_list():
            flash(message, "error")
    if name and removed_self:
        return redirect(url_for("campaigns.home"))
    return redirect(url_for(".staff", org_slug=org.slug))


# --- the directory of free agents ---------------------------------------------


@bp.get("/<org_slug>/agents")
@auth_required()
def directory(org_slug: str):
    org, role = staff_organisation(org_slug)
    filters = agents_directory.Filters(
        name=request.args.get("q", "").strip()[:120],
        city=request.args.get("city", "").strip()[:120],
    )
    listing = db.paginate(
        agents_directory.agents_query(org.id, filters),
        per_page=agents_directory.PER_SCREEN,
        max_per_page=agents_directory.PER_SCREEN,
        error_out=False,
    )
    return render_template(
        "staff/agents.html",
        org=org,
        role=role,
        filters=filters,
        listing=listing,
        rows=agents_directory.rows(org.id, list(listing.items)),
    )
