"""An event's sponsors: the hosts' list and form, the staff's hide switch.

They are routes of the ``campaigns`` blueprint, defined in ``campaigns/pages/views.py``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_security import auth_required

from campaigns import photos
from campaigns.errors import ValidationError
from campaigns.organisations import services as org_services
from campaigns.organisations.forms import ConfirmForm
from campaigns.pages import sponsors
from campaigns.pages.forms import SponsorForm
from campaigns.pages.services import can_edit, get_page
from campaigns.pages.views import bp
from campaigns.web import agent


def _page_for_hosts_or_staff(slug: str):
    page = get_page(slug)
    who = agent()
    is_staff = org_services.is_staff(who, page.cause.organisation_id)
    if not (can_edit(who, page) or is_staff) or not page.is_event:
        abort(403 if page.is_event else 404)
    return page, is_staff


@bp.route("/p/<slug>/sponsors", methods=["GET", "POST"])
@auth_required()
def page_sponsors(slug: str):
    page, is_staff = _page_for_hosts_or_staff(slug)
    form = SponsorForm()
    errors: dict[str, str] = {}
    if request.method == "POST" and form.validate():
        logo = b""
        upload = form.logo.data
        try:
            if upload and getattr(upload, "filename", ""):
                logo = photos.process(upload)
            sponsors.add(agent(), page, {"name": form.name.data, "url": form.url.data}, logo)
        except photos.PhotoError as exc:
            errors = {"logo": str(exc)}
        except ValidationError as exc:
            errors = exc.errors
        else:
            flash(
                _("“%(name)s” now shows on the event page.", name=form.name.data.strip()), "success"
            )
            return redirect(url_for("campaigns.page_sponsors", slug=page.slug))
    elif request.method == "POST":
        errors = {name: messages[0] for name, messages in form.errors.items()}
    return render_template(
        "campaigns/sponsors.html",
        page=page,
        form=form,
        errors=errors,
        listed=sponsors.all_of(page),
        can_host=can_edit(agent(), page),
        is_staff=is_staff,
        confirm_form=ConfirmForm(),
    ), (422 if errors else 200)


@bp.post("/p/<slug>/sponsors/<int:sponsor_id>/remove")
@auth_required()
def remove_sponsor(slug: str, sponsor_id: int):
    page, _is_staff = _page_for_hosts_or_staff(slug)
    if not ConfirmForm().validate():
        abort(400)
    sponsors.remove(agent(), page, sponsor_id)
    flash(_("The sponsor was removed."), "success")
    return redirect(url_for("campaigns.page_sponsors", slug=page.slug))


@bp.post("/p/<slug>/sponsors/<int:sponsor_id>/visibility")
@auth_required()
def sponsor_visibility(slug: str, sponsor_id: int):
    page, _is_staff = _page_for_hosts_or_staff(slug)
    if not ConfirmForm().validate():
        abort(400)
    hidden = request.form.get("hidden") == "1"
    sponsors.set_hidden(agent(), page, sponsor_id, hidden=hidden)
    flash(_("The sponsor is hidden.") if hidden else _("The sponsor shows again."), "success")
    return redirect(url_for("campaigns.page_sponsors", slug=page.slug))
