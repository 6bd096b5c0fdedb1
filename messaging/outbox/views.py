"""Staff's view of the outbox: counts per status, dead letters and social
posts to review, each sent again or cancelled by a person."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from campaigns import unit_of_work
from campaigns.errors import ServiceError
from campaigns.organisations.forms import ConfirmForm
from messaging.broadcasts.views import _organisation, labels
from messaging.outbox import services as outbox

bp = Blueprint("outbox_staff", __name__, url_prefix="/staff/<org_slug>/outbox")


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = _organisation(org_slug)
    return render_template(
        "messaging/outbox.html",
        org=org,
        role=role,
        counts=outbox.status_counts(org.id),
        messages=outbox.needing_a_person(org.id),
        confirm=ConfirmForm(),
        **labels(),
    )


@bp.post("/<int:message_id>")
@auth_required()
def decide(org_slug: str, message_id: int):
    org, _role = _organisation(org_slug)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("outbox_staff.index", org_slug=org.slug))
    action = request.form.get("action", "")
    try:
        outbox.staff_decide(org.id, message_id, action, actor=current_user)
    except ServiceError as exc:
        unit_of_work.discard()
        flash(exc.message or "; ".join(getattr(exc, "errors", {}).values()), "error")
    else:
        flash(
            _("The message will be sent again.")
            if action == "retry"
            else _("The message was cancelled."),
            "success",
        )
    return redirect(url_for("outbox_staff.index", org_slug=org.slug))
