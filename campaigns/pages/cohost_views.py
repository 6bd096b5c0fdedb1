"""Co-hosts of an event page: inviting one by email and accepting the invitation.

They are routes of the ``campaigns`` blueprint, defined in ``campaigns/pages/views.py``."""

from __future__ import annotations

from flask import (
    abort,
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

from campaigns import unit_of_work
from campaigns.errors import ValidationError
from campaigns.organisations.forms import ConfirmForm
from campaigns.pages import services as page_services
from campaigns.pages.forms import InviteForm
from campaigns.pages.models import CohostInvite, Page
from campaigns.pages.views import bp, editable_page, form_errors
from campaigns.signals import cohost_invited
from campaigns.urls import absolute_url
from campaigns.web import agent
from extensions import db


def invite_email(page: Page, link: str) -> tuple[str, str]:
    inviter = agent().display_name
    subject = _("%(name)s invites you to co-host “%(page)s”", name=inviter, page=page.title)
    text = "\n\n".join(
        (
            _(
                "%(name)s invites you to co-host the event “%(page)s” on Relais. "
                "Co-hosts can edit the event page and invite others.",
                name=inviter,
                page=page.title,
            ),
            _("Accept the invitation here (the link works for 14 days):"),
            link,
            _("If you did not expect this email, you can ignore it."),
        )
    )
    return subject, text


@bp.route("/p/<slug>/cohosts", methods=["GET", "POST"])
@auth_required()
def cohosts(slug: str):
    page = editable_page(slug)
    form = InviteForm()
    errors: dict[str, str] = {}
    if request.method == "POST" and form.validate():
        try:
            invite, token = page_services.invite_cohost(agent(), page, form.email.data or "")
            link = absolute_url("campaigns.accept_invite", token=token)
            subject, text = invite_email(page, link)
            # Messaging queues the mail in this unit of work: it leaves after the
            # commit, only for a saved invitation, and a slow SMTP server delays it.
            cohost_invited.send(
                invite, subject=subject, text=text, organisation_id=page.cause.organisation_id
            )
        except ValidationError as exc:
            unit_of_work.discard()
            errors = exc.errors
        else:
            flash(_("Invitation sent to %(email)s.", email=invite.email), "success")
            return redirect(url_for("campaigns.cohosts", slug=page.slug))
        errors = {**form_errors(form), **errors}
    pending = db.session.scalars(
        select(CohostInvite)
        .where(CohostInvite.page_id == page.id, CohostInvite.accepted_at.is_(None))
        .order_by(CohostInvite.created_at.desc())
    ).all()
    return render_template(
        "campaigns/cohosts.html", page=page, form=form, errors=errors, pending=pending
    ), (422 if errors else 200)


@bp.route("/invites/<token>", methods=["GET", "POST"])
@auth_required()
def accept_invite(token: str):
    form = ConfirmForm()
    if request.method == "POST" and form.validate():
        page = page_services.accept_invite(agent(), token)
        flash(_("You are now a co-host of “%(page)s”.", page=page.title), "success")
        return redirect(url_for("campaigns.page_detail", slug=page.slug))
    invite = db.session.scalar(
        select(CohostInvite).where(CohostInvite.token_hash == page_services.hash_token(token))
    )
    if invite is None or invite.accepted_at is not None:
        abort(404)
    g.organisation_locale = invite.page.cause.organisation.locale
    return render_template("campaigns/invite.html", invite=invite, form=form)
