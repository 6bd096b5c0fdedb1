"""Monthly gifts on the web: the donor's stop page (from the signed link in
their mail) and the staff list of active monthly donors."""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request
from flask_babel import gettext as _
from flask_security import auth_required

from campaigns.errors import Conflict
from campaigns.giving.views import private
from campaigns.monthly import services as monthly_services
from campaigns.organisations.forms import ConfirmForm
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page
from campaigns.staff_gate import staff_cause, staff_organisation
from extensions import db

bp = Blueprint("monthly", __name__)


@bp.route("/monthly/stop/<token>", methods=["GET", "POST"])
def stop(token: str):
    """Stop a monthly gift: a confirmation, then Stripe is asked (once)."""
    monthly = monthly_services.from_token(token)
    organisation = db.session.get(Organisation, monthly.organisation_id)
    g.organisation_locale = organisation.locale
    form = ConfirmForm()
    stopped = error = None
    status = 200
    if request.method == "POST" and form.validate():
        try:
            stopped = monthly_services.stop(monthly)
        except Conflict as exc:
            error, status = exc.message, 503
    context = {
        "monthly": monthly,
        "organisation": organisation,
        "cause": db.session.get(Cause, monthly.cause_id),
        "page": db.session.get(Page, monthly.page_id) if monthly.page_id else None,
        "form": form,
        "stopped": stopped,
        "error": error,
    }
    response = current_app.make_response((render_template("monthly/stop.html", **context), status))
    return private(response)


@bp.get("/staff/<org_slug>/monthly/")
@auth_required()
def staff_list(org_slug: str):
    """The organisation's active monthly donors (of one cause with ?cause=)."""
    org, role = staff_organisation(org_slug)
    cause = staff_cause(org, request.args["cause"]) if request.args.get("cause") else None
    donors = monthly_services.active_donors(org.id, cause.id if cause else None)
    return render_template(
        "monthly/staff.html",
        org=org,
        role=role,
        cause=cause,
        donors=donors,
        monthly_minor=sum(d.monthly.amount_minor for d in donors),
        title=_("Monthly donors"),
    )
