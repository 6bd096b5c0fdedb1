"""Staff screens for broadcasts and automatic messages, under
``/staff/<org_slug>/broadcasts``. Each view parses the form, calls a service in
``messaging.broadcasts.services`` or ``messaging.automatic.services``, and commits once."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from sqlalchemy import select

from campaigns import unit_of_work
from campaigns.errors import ServiceError, ValidationError
from campaigns.organisations.forms import ConfirmForm, StaffForm
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page, PageStatus
from campaigns.staff_gate import staff_organisation
from extensions import db
from messaging.automatic import services as automatic
from messaging.broadcasts import services as broadcasts
from messaging.broadcasts.forms import AUDIENCES, RECURRENCES, BroadcastForm
from messaging.broadcasts.models import Broadcast
from messaging.outbox.models import OutboxStatus
from messaging.templating.models import MessageTemplate, Trigger

bp = Blueprint("broadcasts", __name__, url_prefix="/staff/<org_slug>/broadcasts")


def _broadcast(org: Organisation, broadcast_id: int) -> Broadcast:
    broadcast = db.session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.organisation_id != org.id:
        abort(404)
    return broadcast


def _choices(org: Organisation, form: BroadcastForm) -> None:
    causes = db.session.scalars(
        select(Cause).where(Cause.organisation_id == org.id).order_by(Cause.created_at.desc())
    ).all()
    templates = db.session.scalars(
        select(MessageTemplate)
        .where(
            MessageTemplate.organisation_id == org.id,
            MessageTemplate.trigger == Trigger.BROADCAST,
            MessageTemplate.is_active.is_(True),
        )
        .order_by(MessageTemplate.name, MessageTemplate.locale)
    ).all()
    events = db.session.scalars(
        select(Page)
        .join(Cause, Cause.id == Page.cause_id)
        .where(
            Cause.organisation_id == org.id,
            Page.is_event,
            Page.status == PageStatus.PUBLISHED,
        )
        .order_by(Page.title)
    ).all()
    form.fill_choices(causes, templates, events)


def labels() -> dict:
    return {
        "audiences": {c.value: c.label for c in AUDIENCES},
        "recurrences": {c.value: c.label for c in RECURRENCES},
        "statuses": {
            OutboxStatus.QUEUED.value: _("waiting"),
            OutboxStatus.IN_FLIGHT.value: _("being sent"),
            OutboxStatus.SENT.value: _("sent"),
            OutboxStatus.FAILED.value: _("failed, will retry"),
            OutboxStatus.DEAD.value: _("gave up"),
            OutboxStatus.REVIEW.value: _("to review"),
            OutboxStatus.SKIPPED.value: _("skipped (opted out or no account)"),
            OutboxStatus.CANCELLED.value: _("cancelled"),
        },
        "status_label": broadcasts.status_label,
    }


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = staff_organisation(org_slug)
    listing = db.session.scalars(
        select(Broadcast)
        .where(Broadcast.organisation_id == org.id)
        .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
        .limit(200)
    ).all()
    return render_template(
        "messaging/broadcasts/index.html",
        org=org,
        role=role,
        broadcasts=listing,
        counts=broadcasts.outbox_counts([b.id for b in listing]),
        causes={
            c.id: c
            for c in db.session.scalars(select(Cause).where(Cause.organisation_id == org.id))
        },
        **labels(),
    )


@bp.route("/new", methods=["GET", "POST"])
@auth_required()
def new(org_slug: str):
    org, role = staff_organisation(org_slug)
    form = BroadcastForm()
    _choices(org, form)
    result = None
    if form.validate_on_submit():
        action = request.form.get("action", "preview")
        data = form.service_data()
        try:
            if action == "preview":
                cause = db.session.get(Cause, broadcasts._int(data["cause_id"]) or 0)
                if cause is None or cause.organisation_id != org.id:
                    raise ValidationError(
                        {"cause_id": _("Choose one of your organisation's causes.")}
                    )
                result = broadcasts.preview(current_user, org, cause, data)
                unit_of_work.discard()  # a preview writes nothing
            else:
                broadcast = broadcasts.create(current_user, org, data)
                if action == "schedule":
                    broadcasts.schedule(current_user, broadcast)
                flash(
                    _("The broadcast is scheduled.")
                    if action == "schedule"
                    else _("The broadcast was saved as a draft."),
                    "success",
                )
                return redirect(url_for(".detail", org_slug=org.slug, broadcast_id=broadcast.id))
        except ValidationError as exc:
            unit_of_work.discard()
            form.add_errors(exc.errors)
        except ServiceError as exc:
            unit_of_work.discard()
            if exc.status == 403:
                raise
            form.general_errors.append(exc.message)
    return render_template(
        "messaging/broadcasts/form.html", org=org, role=role, form=form, preview=result, **labels()
    )


@bp.get("/<int:broadcast_id>")
@auth_required()
def detail(org_slug: str, broadcast_id: int):
    org, role = staff_organisation(org_slug)
    broadcast = _broadcast(org, broadcast_id)
    return render_template(
        "messaging/broadcasts/detail.html",
        org=org,
        role=role,
        broadcast=broadcast,
        cause=db.session.get(Cause, broadcast.cause_id),
        counts=broadcasts.outbox_counts([broadcast.id])[broadcast.id],
        audience_count=broadcasts.audience_count(broadcast),
        confirm=ConfirmForm(),
        **labels(),
    )


def _act(org_slug: str, broadcast_id: int, action, done: str):
    org, _role = staff_organisation(org_slug)
    broadcast = _broadcast(org, broadcast_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("This form has expired. Please send it again."), "error")
    else:
        try:
            action(current_user, broadcast)
            flash(done, "success")
        except ServiceError as exc:
            unit_of_work.discard()
            if exc.status == 403:
                raise
            flash(exc.message, "error")
    return redirect(url_for(".detail", org_slug=org.slug, broadcast_id=broadcast_id))


@bp.post("/<int:broadcast_id>/schedule")
@auth_required()
def schedule(org_slug: str, broadcast_id: int):
    return _act(org_slug, broadcast_id, broadcasts.schedule, _("The broadcast is scheduled."))


@bp.post("/<int:broadcast_id>/cancel")
@auth_required()
def cancel(org_slug: str, broadcast_id: int):
    return _act(org_slug, broadcast_id, broadcasts.cancel, _("The broadcast was cancelled."))


@bp.route("/automatic", methods=["GET", "POST"])
@auth_required()
def automatic_messages(org_slug: str):
    org, role = staff_organisation(org_slug)
    form = StaffForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        for trigger, spec in automatic.AUTOMATIC.items():
            options = {name: request.form.get(f"{trigger}-{name}", "") for name in spec["options"]}
            enabled = request.form.get(f"{trigger}-enabled") == "on"
            try:
                automatic.save_setting(current_user, org, trigger, enabled, options)
            except ValidationError as exc:
                errors.update(exc.errors)
        if not errors:
            flash(_("The automatic messages were saved."), "success")
            return redirect(url_for(".automatic_messages", org_slug=org.slug))
        unit_of_work.discard()
    return render_template(
        "messaging/broadcasts/automatic.html",
        org=org,
        role=role,
        form=form,
        settings=automatic.settings(org),
        errors=errors,
    )
