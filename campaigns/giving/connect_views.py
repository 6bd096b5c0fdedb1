"""The staff screen of an organisation's own Stripe account (Stripe Connect):
where it stands (not connected, onboarding, charges enabled), the button that
opens Stripe's onboarding, and the return and refresh addresses Stripe sends
the admin back to. Staff see it; only admins connect."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from agents.models import MembershipRole
from campaigns import unit_of_work
from campaigns.errors import Conflict
from campaigns.giving import connect
from campaigns.organisations.forms import ConfirmForm
from campaigns.staff_gate import staff_organisation, staff_organisation_to_write
from campaigns.urls import absolute_url

bp = Blueprint("stripe_connect", __name__, url_prefix="/staff/<org_slug>/stripe")


def _admin(org_slug: str, *, write: bool = False):
    org, role = (staff_organisation_to_write if write else staff_organisation)(org_slug)
    if role != MembershipRole.ADMIN:
        abort(403)
    return org


def _back(org) -> object:
    return redirect(url_for(".index", org_slug=org.slug), code=303)


def _to_stripe(org):
    """Stripe's onboarding of ``org``'s account, on a fresh one-time link."""
    url = connect.onboarding_link(
        current_user._get_current_object(),
        org,
        return_url=absolute_url("stripe_connect.returned", org_slug=org.slug),
        refresh_url=absolute_url("stripe_connect.refresh", org_slug=org.slug),
    )
    return redirect(url, code=303)


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = staff_organisation(org_slug)
    return render_template(
        "staff/stripe_connect.html",
        org=org,
        role=role,
        state=connect.state_of(org),
        has_stripe=bool(current_app.config.get("STRIPE_SECRET_KEY")),
        form=ConfirmForm(),
    )


@bp.post("/connect")
@auth_required()
def start(org_slug: str):
    """Create the organisation's account if it has none, then go to Stripe."""
    org = _admin(org_slug, write=True)
    if not ConfirmForm().validate():
        flash(_("This form has expired. Please send it again."), "error")
        return _back(org)
    try:
        connect.ensure_account(current_user._get_current_object(), org)
        # Kept whatever happens next: the account exists at Stripe now.
        unit_of_work.checkpoint()
        return _to_stripe(org)
    except Conflict as exc:
        flash(exc.message, "error")
        return _back(org)


@bp.get("/refresh")
@auth_required()
def refresh(org_slug: str):
    """Stripe's refresh_url: the link expired or was used; a new one."""
    org = _admin(org_slug)
    try:
        return _to_stripe(org)
    except Conflict as exc:
        flash(exc.message, "error")
        return _back(org)


@bp.get("/return")
@auth_required()
@unit_of_work.writes  # keeps what Stripe says of the account
def returned(org_slug: str):
    """Stripe's return_url: the admin left onboarding; where does it stand?"""
    org = _admin(org_slug)
    try:
        state = connect.refresh_state(current_user._get_current_object(), org)
    except Conflict as exc:
        flash(exc.message, "error")
        return _back(org)
    if state == connect.ConnectState.ENABLED:
        flash(_("Stripe has enabled payments: new gifts go to your own account."), "success")
    else:
        flash(
            _(
                "Stripe has not enabled payments on your account yet. Finish what Stripe "
                "asks for; until then gifts go to the site's account."
            ),
            "error",
        )
    return _back(org)
