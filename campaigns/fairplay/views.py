"""The staff review queue of flagged gifts (``/staff/<org>/fair-play/``):
exclude a gift from leaderboards and leagues, or count it as fair."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from campaigns import unit_of_work
from campaigns.errors import Conflict
from campaigns.fairplay import checks, services
from campaigns.fairplay.models import FlagStatus
from campaigns.organisations.forms import ConfirmForm
from campaigns.signals import card_seen, donor_erased, gift_recorded
from campaigns.staff_gate import staff_organisation, staff_organisation_to_write

bp = Blueprint("fairplay", __name__, url_prefix="/staff/<org_slug>/fair-play")


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = staff_organisation(org_slug)
    sections = {status: services.queue(org, status) for status in FlagStatus}
    flags = [f for rows in sections.values() for f in rows]
    return render_template(
        "staff/fairplay.html",
        org=org,
        role=role,
        sections=sections,
        counts=services.counts(org),
        pages=services.pages_of(flags),
        form=ConfirmForm(),
    )


def _review(org_slug: str, flag_id: int, decide, done: str):
    org, _role = staff_organisation_to_write(org_slug)
    flag = services.get_flag(org, flag_id)  # another organisation's: 404
    back = redirect(url_for(".index", org_slug=org.slug), code=303)
    if not ConfirmForm().validate():
        flash(_("This form has expired. Please send it again."), "error")
        return back
    try:
        decide(current_user._get_current_object(), flag)
    except Conflict as exc:
        unit_of_work.discard()
        flash(exc.message, "error")
    else:
        flash(done, "success")
    return back


@bp.post("/<int:flag_id>/exclude")
@auth_required()
def exclude(org_slug: str, flag_id: int):
    return _review(
        org_slug,
        flag_id,
        services.exclude,
        _("Left out of the leaderboards and leagues; the money still counts in the totals."),
    )


@bp.post("/<int:flag_id>/clear")
@auth_required()
def clear(org_slug: str, flag_id: int):
    return _review(
        org_slug,
        flag_id,
        services.clear,
        _("Counted as fair: the gift counts in the leaderboards and leagues."),
    )


def init_app(app: Flask) -> None:
    # blinker keeps one receiver per function and process: connecting again is a no-op.
    gift_recorded.connect(checks.on_gift)
    card_seen.connect(checks.on_card)
    donor_erased.connect(services.forget_cards)
    app.register_blueprint(bp)
