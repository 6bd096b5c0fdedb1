"""Public and agents' screens of pages: a page, creating and editing one,
publishing, closing, joining and leaving events.

The ``campaigns`` blueprint is defined here; co-hosts (``cohost_views``) and
organisations' public screens add to it.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_security import auth_required
from sqlalchemy import select

from campaigns import inputs, photos, unit_of_work
from campaigns.errors import Conflict, NotFound, ServiceError, ValidationError
from campaigns.money import parse_major, to_decimal
from campaigns.organisations.forms import ConfirmForm
from campaigns.organisations.models import CauseStatus
from campaigns.pages import services as page_services
from campaigns.pages import teams
from campaigns.pages.forms import JoinForm, PageForm
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.pages.page_view import render_page
from campaigns.runtime import last_good
from campaigns.web import agent, visible_cause, visible_page
from extensions import db

bp = Blueprint("campaigns", __name__)
# Field names the form shows errors next to; any other key goes to the top.
PAGE_FIELDS = ("kind", "title", "slug", "goal", "story", "city", "venue", "starts_at", "photo")


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    return render_template("error.html", code=exc.status, message=exc.message), exc.status


def editable_page(slug: str) -> Page:
    page = page_services.get_page(slug)
    g.organisation_locale = page.cause.organisation.locale
    page_services.require_editor(agent(), page)
    return page


@bp.get("/p/<slug>")
@last_good.kept()
def page_detail(slug: str):
    return render_page(visible_page(slug))


@bp.get("/media/<name>")
def media(name: str):
    return photos.serve(name)


# --- creating and editing ------------------------------------------------------


def major_units(amount_minor: int, currency: str) -> str:
    value = to_decimal(amount_minor, currency)
    return str(value.quantize(Decimal(1)) if value == value.to_integral_value() else value)


def local_input(value) -> str:
    """A stored UTC time as the value of a datetime-local input (organiser's wall clock)."""
    if value is None:
        return ""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def read_page_form(form: PageForm, currency: str, *, is_event: bool) -> tuple[dict, dict, bytes]:
    """The service's input from the form, the errors found on the way, and a clean photo."""
    errors: dict[str, str] = {}
    data = {
        "title": form.title.data or "",
        "slug": (form.slug.data or "").strip().lower(),
        "story": form.story.data or "",
    }
    goal = (form.goal.data or "").strip()
    try:
        data["goal_minor"] = parse_major(goal, currency) if goal else 0
    except (ValueError, ArithmeticError):
        errors["goal"] = _("Enter the goal as a whole amount, 0 or more (for example 500).")
    if is_event:
        data.update(
            city=form.city.data or "", venue=form.venue.data or "", starts_at=form.starts_at.data
        )
    jpeg = b""
    upload = form.photo.data
    if upload and getattr(upload, "filename", ""):
        try:
            jpeg = photos.process(upload)
        except photos.PhotoError as exc:
            errors["photo"] = str(exc)
    return data, errors, jpeg


def split_errors(errors: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    fields = {k: v for k, v in errors.items() if k in PAGE_FIELDS}
    other = [v for k, v in errors.items() if k not in PAGE_FIELDS]
    return fields, other


def form_errors(form) -> dict[str, str]:
    return {name: messages[0] for name, messages in form.errors.items() if messages}


def save_page(save, errors: dict[str, str], jpeg: bytes) -> tuple[Page | None, dict]:
    """Run ``save()`` (the service call), then store the photo.

    The service checks its fields even when the form already has errors, so
    every message shows at once; any error is discarded (the form is shown
    with the page as it was). Returns the saved page (None when refused) and
    all the errors."""
    try:
        page = save()
        if errors:
            raise ValidationError(errors)
        if jpeg:
            page.photo = photos.save(jpeg)
    except ValidationError as exc:
        unit_of_work.discard()
        return None, {**exc.errors, **errors}
    return page, errors


@bp.route("/c/<slug>/pages/new", methods=["GET", "POST"])
@auth_required()
def new_page(slug: str):
    cause = visible_cause(slug)
    if cause.status != CauseStatus.PUBLISHED:
        raise NotFound(_("This cause is not open for new pages."))
    form = PageForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        form.validate()
        errors = form_errors(form)
        kind = form.kind.data if form.kind.data in tuple(PageKind) else None
        data, own_errors, jpeg = read_page_form(
            form, cause.currency, is_event=kind in (PageKind.EVENT, PageKind.TEAM)
        )
        errors.update(own_errors)
        page, errors = save_page(
            lambda: page_services.create_page(agent(), cause, kind or "", data), errors, jpeg
        )
        if page is not None:
            flash(_("Your page is saved as a draft. Publish it when you are ready."), "success")
            return redirect(url_for("campaigns.page_detail", slug=page.slug))
        if not form.slug.data and form.title.data and "slug" not in errors:
            form.slug.data = inputs.suggest_slug(Page, form.title.data)
    fields, general = split_errors(errors)
    return render_template(
        "campaigns/page_form.html",
        form=form,
        cause=cause,
        page=None,
        errors=fields,
        general_errors=general,
    ), (422 if errors else 200)


@bp.route("/p/<slug>/edit", methods=["GET", "POST"])
@auth_required()
def edit_page(slug: str):
    page = editable_page(slug)
    if page.status == PageStatus.CLOSED:
        flash(_("This page is closed and can no longer be changed."), "error")
        return redirect(url_for("campaigns.page_detail", slug=page.slug))
    form = PageForm(
        data={
            "title": page.title,
            "slug": page.slug,
            "goal": major_units(page.goal_minor, page.currency),
            "story": page.story,
            "city": page.city,
            "venue": page.venue,
            "starts_at": local_input(page.starts_at),
            "kind": page.kind,
        }
        if request.method == "GET"
        else None
    )
    errors: dict[str, str] = {}
    if request.method == "POST":
        form.validate()
        errors = {k: v for k, v in form_errors(form).items() if k != "kind"}
        data, own_errors, jpeg = read_page_form(form, page.currency, is_event=page.is_event)
        errors.update(own_errors)
        # An unchanged date is not re-checked against "now": past events stay editable.
        if page.is_event and data.get("starts_at") == local_input(page.starts_at):
            data.pop("starts_at")
        if not data["slug"]:
            data.pop("slug")
        saved, errors = save_page(
            lambda: page_services.update_page(agent(), page, data), errors, jpeg
        )
        if saved is not None:
            flash(_("Your changes are saved."), "success")
            return redirect(url_for("campaigns.page_detail", slug=page.slug))
    fields, general = split_errors(errors)
    return render_template(
        "campaigns/page_form.html",
        form=form,
        cause=page.cause,
        page=page,
        errors=fields,
        general_errors=general,
    ), (422 if errors else 200)


# --- status and events -------------------------------------------------------


@bp.post("/p/<slug>/publish")
@auth_required()
def publish_page(slug: str):
    page = editable_page(slug)
    try:
        page_services.publish_page(agent(), page)
    except Conflict as exc:
        unit_of_work.discard()
        flash(exc.message, "error")
    else:
        flash(_("Your page is published. Share it!"), "success")
    return redirect(url_for("campaigns.page_detail", slug=page.slug))


@bp.route("/p/<slug>/close", methods=["GET", "POST"])
@auth_required()
def close_page(slug: str):
    page = editable_page(slug)
    form = ConfirmForm()
    if request.method == "POST" and form.validate():
        page_services.close_page(agent(), page)
        flash(_("The page is closed. Its gifts stay counted everywhere."), "success")
        return redirect(url_for("campaigns.page_detail", slug=page.slug))
    return render_template("campaigns/close.html", page=page, form=form)


@bp.post("/p/<slug>/join")
@auth_required()
def join_event(slug: str):
    event = visible_page(slug)
    form = JoinForm()
    who = agent()
    chosen = db.session.scalar(
        select(Page).where(Page.slug == (form.page.data or ""), Page.owner_id == who.id)
    )
    try:
        if chosen is None:
            raise ValidationError({"page": _("Choose one of your own pages.")})
        asked = None
        if event.kind == PageKind.TEAM:
            asked = teams.ask_to_join(who, chosen, event)
        else:
            page_services.join_event(who, chosen, event)
    except ValidationError as exc:
        unit_of_work.discard()
        form.page.errors = list(exc.errors.values())
        return render_page(event, join_form=form, status=422)
    if asked is not None:
        flash(
            _(
                "Your request is sent: “%(page)s” joins the team once its captain says yes.",
                page=chosen.title,
            ),
            "success",
        )
    else:
        flash(_("Your page “%(page)s” joined this event.", page=chosen.title), "success")
    return redirect(url_for("campaigns.page_detail", slug=event.slug))


@bp.post("/p/<slug>/leave")
@auth_required()
def leave_event(slug: str):
    page = page_services.get_page(slug)
    event = page.parent
    page_services.leave_event(agent(), page)
    if event is not None:
        flash(_("Your page left “%(event)s”.", event=event.title), "success")
    return redirect(url_for("campaigns.page_detail", slug=page.slug))
