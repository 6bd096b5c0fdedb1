"""The staff screen that chooses an organisation's badges, and where the
badges area listens to campaigns' news (``init_app``)."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from campaigns.badges import services
from campaigns.organisations.forms import ConfirmForm
from campaigns.signals import field_update_posted, gift_recorded, page_joined
from campaigns.staff_gate import save_staff_form, staff_organisation

bp = Blueprint("badges", __name__, url_prefix="/staff/<org_slug>/badges")


@bp.route("/", methods=["GET", "POST"])
@auth_required()
def settings(org_slug: str):
    org, role = staff_organisation(org_slug)
    form = ConfirmForm()
    if request.method == "POST":
        chosen = request.form.getlist("enabled")
        saved = save_staff_form(
            form,
            lambda: ({}, {}),
            lambda _data: services.save_settings(current_user, org, chosen) or True,
        )
        if saved:
            flash(_("The badges are saved."), "success")
            return redirect(url_for(".settings", org_slug=org.slug))
    return render_template(
        "staff/badges.html", org=org, role=role, form=form, badges=services.settings(org)
    ), (422 if form.errors or form.general_errors else 200)


def init_app(app: Flask) -> None:
    # blinker keeps one receiver per function and process: connecting again is a no-op.
    gift_recorded.connect(services.on_gift)
    page_joined.connect(services.on_join)
    field_update_posted.connect(services.on_news)
    app.register_blueprint(bp)
