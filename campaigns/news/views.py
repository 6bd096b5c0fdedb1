"""Field news on the web: posting, editing and deleting an update of a page or
a project; the list both show (a Jinja helper, ``field_news``); the donor's
"send me news" choice on the thank-you page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_security import auth_required
from sqlalchemy import select

from campaigns import photos, unit_of_work
from campaigns.errors import NotFound, ValidationError
from campaigns.giving import services as giving
from campaigns.news import services as news
from campaigns.news.forms import ConsentForm, NewsForm
from campaigns.news.models import FieldUpdate
from campaigns.organisations.forms import ConfirmForm
from campaigns.organisations.models import Cause, Project
from campaigns.pages.models import Page
from campaigns.web import agent, visible_cause, visible_page
from extensions import db

bp = Blueprint("news", __name__)


def _back(update: FieldUpdate) -> str:
    if update.page_id is not None:
        url = url_for("campaigns.page_detail", slug=update.page.slug)
    else:
        url = url_for(
            "expenses.project", cause_slug=update.cause.slug, project_slug=update.project.slug
        )
    return f"{url}#field-news"


@bp.app_context_processor
def _helpers() -> dict:
    def field_news(page: Page | None = None, project: Project | None = None) -> dict:
        who = agent()
        updates = news.listed(page=page, project=project)
        return {
            "updates": updates,
            "can_post": news.can_post(who, page=page, project=project),
            "can_change": {u.id: news.can_change(who, u) for u in updates},
        }

    def news_consent_form(pending) -> ConsentForm:
        return ConsentForm(formdata=None, is_agreed=news.consent_of(pending))

    return {"field_news": field_news, "news_consent_form": news_consent_form}


def _read(form: NewsForm) -> tuple[dict, bytes, dict]:
    """The form's words and its checked photo, or what is wrong with the photo."""
    data = {"title": form.title.data or "", "body": form.body.data or ""}
    upload = form.photo.data
    if upload and getattr(upload, "filename", ""):
        try:
            return data, photos.process(upload), {}
        except photos.PhotoError as exc:
            return data, b"", {"photo": str(exc)}
    return data, b"", {}


def _form_screen(form: NewsForm, errors: dict, *, heading: str, back: str, update=None):
    return render_template(
        "campaigns/news_form.html",
        form=form,
        errors=errors,
        heading=heading,
        back=back,
        update=update,
        confirm_form=ConfirmForm(),
    ), (422 if errors else 200)


def _post(form: NewsForm, *, page: Page | None = None, project: Project | None = None):
    """The posting of a new update; a response, or the errors to show."""
    if not (request.method == "POST" and form.validate()):
        return None, {name: messages[0] for name, messages in form.errors.items()}
    data, photo, errors = _read(form)
    if errors:
        return None, errors
    try:
        update = news.post(agent(), data, page=page, project=project, photo=photo)
    except ValidationError as exc:
        unit_of_work.discard()
        return None, exc.errors
    flash(_("Your news is on the page and on its way to the donors who asked for it."), "success")
    return redirect(_back(update)), {}


@bp.route("/p/<slug>/news/new", methods=["GET", "POST"])
@auth_required()
def new_page_update(slug: str):
    page = visible_page(slug)
    if not news.can_post(agent(), page=page):
        abort(403)
    form = NewsForm()
    done, errors = _post(form, page=page)
    if done is not None:
        return done
    return _form_screen(
        form,
        errors if request.method == "POST" else {},
        heading=_("News from the field for “%(title)s”", title=page.title),
        back=url_for("campaigns.page_detail", slug=page.slug),
    )


@bp.route("/c/<cause_slug>/projects/<project_slug>/news/new", methods=["GET", "POST"])
@auth_required()
def new_project_update(cause_slug: str, project_slug: str):
    cause = visible_cause(cause_slug)
    project = db.session.scalar(
        select(Project).where(Project.cause_id == cause.id, Project.slug == project_slug)
    )
    if project is None:
        raise NotFound(_("There is no project at this address."))
    if not news.can_post(agent(), project=project):
        abort(403)
    form = NewsForm()
    done, errors = _post(form, project=project)
    if done is not None:
        return done
    return _form_screen(
        form,
        errors if request.method == "POST" else {},
        heading=_("News from the field for “%(name)s”", name=project.name),
        back=url_for("expenses.project", cause_slug=cause.slug, project_slug=project.slug),
    )


def _changeable(update_id: int) -> FieldUpdate:
    update = news.get(update_id)
    g.organisation_locale = db.session.get(Cause, update.cause_id).organisation.locale
    if not news.can_change(agent(), update):
        abort(403)
    return update


@bp.route("/news/<int:update_id>/edit", methods=["GET", "POST"])
@auth_required()
def edit_update(update_id: int):
    update = _changeable(update_id)
    form = NewsForm(obj=update if request.method == "GET" else None)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate():
            data, photo, errors = _read(form)
            if not errors:
                try:
                    news.edit(agent(), update, data, photo=photo, drop_photo=form.drop_photo.data)
                except ValidationError as exc:
                    unit_of_work.discard()
                    errors = exc.errors
                else:
                    flash(_("The news is changed (it is not mailed again)."), "success")
                    return redirect(_back(update))
        else:
            errors = {name: messages[0] for name, messages in form.errors.items()}
    return _form_screen(
        form, errors, heading=_("Change the news"), back=_back(update), update=update
    )


@bp.post("/news/<int:update_id>/delete")
@auth_required()
def delete_update(update_id: int):
    update = _changeable(update_id)
    if not ConfirmForm().validate():
        abort(400)
    back = _back(update)
    news.delete(agent(), update)
    flash(_("The news is deleted."), "success")
    return redirect(back)


@bp.post("/give/<reference>/news")
def consent(reference: str):
    """The donor's answer to "send me news" for this gift (the reference in the
    address is their key, as on the thank-you page)."""
    pending = giving.get_pending(reference)
    if pending is None:
        raise NotFound(_("We could not find this gift. Check the address in your email."))
    form = ConsentForm()
    if not form.validate():
        abort(400)
    news.set_consent(pending, form.is_agreed.data)
    if form.is_agreed.data:
        flash(_("Thank you: you will get news from the field about your gift."), "success")
    else:
        flash(_("Done: you will get no news from the field about this gift."), "success")
    response = redirect(url_for("giving.thanks", reference=reference) + "#news-consent", code=303)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
