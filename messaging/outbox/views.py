"""Staff's view of the outbox: counts per status, dead letters and social
posts to review, each sent again or cancelled by a person."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from campaigns import unit_of_work
from campaigns.errors import ServiceError
from campaigns.organisations.forms import ConfirmForm
from campaigns.runtime import heartbeats
from campaigns.staff_gate import staff_organisation
from messaging.broadcasts.views import labels
from messaging.outbox import services as outbox

bp = Blueprint("outbox_staff", __name__, url_prefix="/staff/<org_slug>/outbox")


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = staff_organisation(org_slug)
    return render_template(
        "messaging/outbox.html",
        org=org,
        role=role,
        counts=outbox.status_counts(org.id),
        messages=outbox.needing_a_person(org.id),
        confirm=ConfirmForm(),
        processes=background_processes(),
        **labels(),
    )


def background_processes() -> dict:
    """Who moves the outbox: each scheduler and worker seen lately, and
    whether a scheduler holds the leader lock (nothing scheduled is written
    without one)."""
    summary = heartbeats.summary()
    rows = [
        {
            **process,
            "kind": kind,
            "seen_at": datetime.fromisoformat(process["seen_at"]),
            "started_at": datetime.fromisoformat(process["started_at"]),
        }
        for kind in heartbeats.KINDS
        for process in summary[kind]["processes"]
    ]
    return {
        "has_leader": summary["scheduler"]["has_leader"],
        "workers_alive": summary["worker"]["alive"],
        "rows": rows,
    }


@bp.post("/<int:message_id>")
@auth_required()
def decide(org_slug: str, message_id: int):
    org, _role = staff_organisation(org_slug)
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
