"""Staff screens for message templates: list, write, preview on a real page,
deactivate; and what share links brought per channel across each cause.

A template that does not render (syntax, unknown variable, sandbox refusal,
too long for its channel) is refused when saved: 422, nothing stored, the line
and reason next to the field.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from sqlalchemy import select

from campaigns import unit_of_work
from campaigns.errors import ValidationError
from campaigns.organisations import services
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page
from extensions import db
from messaging.sharing import services as sharing
from messaging.templating import services as template_services
from messaging.templating.forms import CHANNEL_LABELS, LOCALE_LABELS, TRIGGER_LABELS, TemplateForm
from messaging.templating.models import MessageTemplate
from messaging.templating.rendering import preview

bp = Blueprint("messaging_staff", __name__, url_prefix="/staff/<org_slug>/messages")


def _organisation(org_slug: str) -> tuple[Organisation, str]:
    """The organisation and the agent's role in it; 403 for anyone not staff."""
    org = services.get_organisation(org_slug)
    role = services.membership_role(current_user, org.id)
    if role is None:
        abort(403)
    g.organisation_locale = org.locale
    return org, role


def _causes(org: Organisation) -> list[Cause]:
    return list(
        db.session.scalars(
            select(Cause).where(Cause.organisation_id == org.id).order_by(Cause.created_at.desc())
        )
    )


def _template(org: Organisation, template_id: int) -> MessageTemplate:
    template = template_services.get_template(org, template_id)
    if template is None:
        abort(404)
    return template


def _preview_page(org: Organisation, slug: str | None) -> Page | None:
    if not slug:
        return None
    page = db.session.scalar(select(Page).where(Page.slug == slug))
    if page is None or page.cause.organisation_id != org.id:
        return None
    return page


def _preview_of(org: Organisation, form: TemplateForm) -> dict:
    data = form.service_data()
    return preview(
        data["channel"],
        data["locale"],
        data["subject"],
        data["body"],
        data["body_html"],
        organisation=org,
        page=_preview_page(org, form.preview_page.data),
    )


def _labels() -> dict:
    return {"triggers": TRIGGER_LABELS, "channels": CHANNEL_LABELS, "locales": LOCALE_LABELS}


@bp.get("/")
@auth_required()
def index(org_slug: str):
    org, role = _organisation(org_slug)
    filters = {
        key: request.args.get(key, "") if request.args.get(key) in allowed else ""
        for key, allowed in (
            ("trigger", TRIGGER_LABELS),
            ("channel", CHANNEL_LABELS),
            ("locale", LOCALE_LABELS),
        )
    }
    causes = _causes(org)
    templates = template_services.list_templates(org, **filters)
    return render_template(
        "messaging/staff/templates.html",
        org=org,
        role=role,
        templates=templates,
        never_sent={t.id for t in templates if template_services.is_never_sent(t)},
        filters=filters,
        new_args={key: value for key, value in filters.items() if value},
        causes={c.id: c for c in causes},
        stats=[(cause, sharing.channel_stats(cause=cause)) for cause in causes],
        **_labels(),
    )


def _edit(org: Organisation, role: str, template: MessageTemplate | None):
    causes = _causes(org)
    pages = template_services.preview_pages(org)
    defaults = {
        key: request.args[key]
        for key, allowed in (
            ("trigger", TRIGGER_LABELS),
            ("channel", CHANNEL_LABELS),
            ("locale", LOCALE_LABELS),
        )
        if request.args.get(key) in allowed
    }
    defaults.setdefault("locale", org.locale if org.locale in LOCALE_LABELS else "fr")
    form = TemplateForm.for_template(template, causes, pages, **defaults)
    status, shown = 200, None
    if request.method == "POST" and form.validate_on_submit():
        if request.form.get("action") == "preview":
            shown = _preview_of(org, form)
        else:
            try:
                saved = template_services.save_template(
                    current_user, org, template, form.service_data()
                )
            except ValidationError as exc:
                unit_of_work.discard()
                form.add_errors(exc.errors)
                status = 422
            else:
                flash(_("The template “%(name)s” was saved.", name=saved.name), "success")
                return redirect(url_for(".edit", org_slug=org.slug, template_id=saved.id))
    elif request.method == "POST":
        status = 422
    if shown is None and template is not None:
        shown = _preview_of(org, form)
    return render_template(
        "messaging/staff/template_form.html",
        org=org,
        role=role,
        form=form,
        template=template,
        preview=shown,
        **_labels(),
    ), status


@bp.route("/new", methods=["GET", "POST"])
@auth_required()
def new(org_slug: str):
    org, role = _organisation(org_slug)
    return _edit(org, role, None)


@bp.route("/<int:template_id>", methods=["GET", "POST"])
@auth_required()
def edit(org_slug: str, template_id: int):
    org, role = _organisation(org_slug)
    return _edit(org, role, _template(org, template_id))


@bp.post("/<int:template_id>/active")
@auth_required()
def set_active(org_slug: str, template_id: int):
    org, _role = _organisation(org_slug)
    template = _template(org, template_id)
    # CSRFProtect has checked this POST's token already.
    is_active = request.form.get("is_active") == "1"
    template_services.set_active(current_user, template, is_active)
    if is_active:
        flash(_("“%(name)s” is active again.", name=template.name), "success")
    else:
        flash(
            _("“%(name)s” is deactivated: it is no longer sent or suggested.", name=template.name),
            "success",
        )
    return redirect(url_for(".index", org_slug=org.slug))


@bp.post("/preview")
@auth_required()
def preview_json(org_slug: str):
    """The live preview: the template rendered on a real page, and its errors."""
    org, _role = _organisation(org_slug)
    form = TemplateForm.for_template(None, [], [])
    if not form.validate_on_submit():
        return jsonify(
            {"ok": False, "errors": {"form": _("This form has expired. Reload the page.")}}
        ), 400
    return jsonify(_preview_of(org, form))
