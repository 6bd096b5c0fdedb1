"""The staff screen of outgoing webhooks, ``/staff/<org>/webhooks/``: the
organisation's endpoints, each one's recent deliveries, and what staff do
with them (create, edit, disable or enable, delete, rotate the secret, send a
test event, send a delivery again)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user

from campaigns import unit_of_work
from campaigns.errors import NotFound, ServiceError
from campaigns.organisations.forms import ConfirmForm
from campaigns.staff_gate import save_staff_form, staff_organisation
from messaging.broadcasts.views import labels
from messaging.webhooks import services
from messaging.webhooks.events import CATALOGUE
from messaging.webhooks.forms import EndpointForm

bp = Blueprint("outgoing_webhooks", __name__, url_prefix="/staff/<org_slug>/webhooks")


def _endpoint(org, endpoint_id: int):
    try:
        return services.endpoint_of(org, endpoint_id)
    except NotFound:
        abort(404)


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = staff_organisation(org_slug)
    return render_template(
        "messaging/webhooks/index.html",
        org=org,
        role=role,
        endpoints=services.endpoints(org),
    )


def _form_page(org, role, form, endpoint=None):
    return render_template(
        "messaging/webhooks/form.html",
        org=org,
        role=role,
        form=form,
        endpoint=endpoint,
        catalogue=CATALOGUE,
        chosen=set(form.event_types.data or []),
    ), (422 if form.errors or form.general_errors else 200)


@bp.route("/new", methods=["GET", "POST"])
@auth_required()
def create(org_slug: str):
    org, role = staff_organisation(org_slug)
    form = EndpointForm()
    endpoint = save_staff_form(
        form, form.read, lambda data: services.create_endpoint(current_user, org, data)
    )
    if endpoint:
        flash(_("The endpoint is registered. Copy its secret into your receiver."), "success")
        return redirect(url_for(".detail", org_slug=org.slug, endpoint_id=endpoint.id))
    return _form_page(org, role, form)


@bp.route("/<int:endpoint_id>/edit", methods=["GET", "POST"])
@auth_required()
def edit(org_slug: str, endpoint_id: int):
    org, role = staff_organisation(org_slug)
    endpoint = _endpoint(org, endpoint_id)
    form = EndpointForm(obj=endpoint)
    saved = save_staff_form(
        form, form.read, lambda data: services.update_endpoint(current_user, endpoint, data)
    )
    if saved:
        flash(_("The endpoint is saved."), "success")
        return redirect(url_for(".detail", org_slug=org.slug, endpoint_id=endpoint.id))
    return _form_page(org, role, form, endpoint)


@bp.get("/<int:endpoint_id>")
@auth_required()
def detail(org_slug: str, endpoint_id: int):
    org, role = staff_organisation(org_slug)
    endpoint = _endpoint(org, endpoint_id)
    return render_template(
        "messaging/webhooks/detail.html",
        org=org,
        role=role,
        endpoint=endpoint,
        secret=services.secret_of(endpoint),
        deliveries=services.deliveries(endpoint),
        again=set(services.FINISHED),
        confirm=ConfirmForm(),
        catalogue=CATALOGUE,
        **labels(),
    )


# Buttons: each a small POST with CSRF, answered with a message and the endpoint's screen.
ACTIONS = {
    "enable": (
        lambda e: services.set_enabled(current_user, e, True),
        lambda: _("The endpoint is enabled: new events will be sent to it."),
    ),
    "disable": (
        lambda e: services.set_enabled(current_user, e, False),
        lambda: _("The endpoint is disabled: no event will be sent to it."),
    ),
    "rotate": (
        lambda e: services.rotate_secret(current_user, e),
        lambda: _(
            "A new secret is in use. The old one keeps signing beside it for a day: "
            "update your receiver before then."
        ),
    ),
    "test": (
        lambda e: services.send_test(current_user, e),
        lambda: _("A test event is on its way; its delivery shows below."),
    ),
}


@bp.post("/<int:endpoint_id>/<any(enable, disable, rotate, test):action>")
@auth_required()
def act(org_slug: str, endpoint_id: int, action: str):
    org, _role = staff_organisation(org_slug)
    endpoint = _endpoint(org, endpoint_id)
    target = url_for(".detail", org_slug=org.slug, endpoint_id=endpoint.id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(target)
    do, said = ACTIONS[action]
    try:
        do(endpoint)
    except ServiceError as exc:
        unit_of_work.discard()
        flash(exc.message, "error")
    else:
        flash(said(), "success")
    return redirect(target)


@bp.post("/<int:endpoint_id>/delete")
@auth_required()
def delete(org_slug: str, endpoint_id: int):
    org, _role = staff_organisation(org_slug)
    endpoint = _endpoint(org, endpoint_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for(".detail", org_slug=org.slug, endpoint_id=endpoint.id))
    services.delete_endpoint(current_user, endpoint)
    flash(_("The endpoint is deleted; its waiting deliveries are cancelled."), "success")
    return redirect(url_for(".index", org_slug=org.slug))


@bp.post("/<int:endpoint_id>/deliveries/<int:message_id>/again")
@auth_required()
def send_again(org_slug: str, endpoint_id: int, message_id: int):
    org, _role = staff_organisation(org_slug)
    endpoint = _endpoint(org, endpoint_id)
    target = url_for(".detail", org_slug=org.slug, endpoint_id=endpoint.id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(target)
    try:
        services.send_again(current_user, endpoint, message_id)
    except NotFound:
        unit_of_work.discard()
        abort(404)
    except ServiceError as exc:
        unit_of_work.discard()
        flash(exc.message, "error")
    else:
        flash(_("The delivery will be sent again, with the same webhook-id."), "success")
    return redirect(target)
