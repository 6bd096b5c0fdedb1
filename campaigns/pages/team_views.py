"""A team's members: the captain's screen (requests to approve, the invitation
link, an invitation by email) and joining through an invitation link.

They are routes of the ``campaigns`` blueprint, defined in ``campaigns/pages/views.py``."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_security import auth_required

from campaigns import unit_of_work
from campaigns.errors import ValidationError
from campaigns.organisations.forms import ConfirmForm
from campaigns.pages import teams
from campaigns.pages.forms import JoinForm, TeamInviteForm, choice
from campaigns.pages.models import PageKind
from campaigns.pages.page_view import joinable_pages
from campaigns.pages.services import get_page
from campaigns.pages.views import bp, editable_page, form_errors
from campaigns.web import agent, visible_page


def _team_for_hosts(slug: str):
    team = editable_page(slug)
    if team.kind != PageKind.TEAM:
        abort(404)
    return team


def _members_screen(team, form: TeamInviteForm, errors: dict[str, str]):
    return render_template(
        "campaigns/team_members.html",
        page=team,
        form=form,
        errors=errors,
        requests=teams.pending(team),
        members=list(team.members),
        invite_link=teams.invite_link(agent(), team),
        confirm_form=ConfirmForm(),
    ), (422 if errors else 200)


@bp.get("/p/<slug>/members")
@auth_required()
def team_members(slug: str):
    return _members_screen(_team_for_hosts(slug), TeamInviteForm(), {})


@bp.post("/p/<slug>/members/invite")
@auth_required()
def invite_member(slug: str):
    team = _team_for_hosts(slug)
    form = TeamInviteForm()
    if not form.validate():
        return _members_screen(team, form, form_errors(form))
    try:
        teams.invite_by_email(agent(), team, form.email.data or "")
    except ValidationError as exc:
        unit_of_work.discard()
        return _members_screen(team, form, exc.errors)
    flash(_("Invitation sent to %(email)s.", email=form.email.data.strip().lower()), "success")
    return redirect(url_for("campaigns.team_members", slug=team.slug))


@bp.post("/p/<slug>/members/<int:request_id>")
@auth_required()
def decide_member(slug: str, request_id: int):
    team = _team_for_hosts(slug)
    if not ConfirmForm().validate():
        abort(400)
    approve = request.form.get("decision") == "approve"
    try:
        decided = teams.decide(agent(), team, request_id, approve=approve)
    except ValidationError as exc:
        unit_of_work.discard()
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for("campaigns.team_members", slug=team.slug))
    if approve:
        flash(_("“%(page)s” is now in the team.", page=decided.page.title), "success")
    else:
        flash(_("You declined “%(page)s”.", page=decided.page.title), "success")
    return redirect(url_for("campaigns.team_members", slug=team.slug))


@bp.route("/p/<slug>/join/<token>", methods=["GET", "POST"])
@auth_required()
def team_invite(slug: str, token: str):
    """Joining with the captain's link: choose your page, you are in."""
    team = visible_page(slug)
    if team.kind != PageKind.TEAM or not teams.is_valid_invite(team, token):
        message = _(
            "This invitation link is not valid or has expired. Ask the captain for a new one."
        )
        return render_template("error.html", code=404, message=message), 404
    who = agent()
    candidates = joinable_pages(who, team)
    form = JoinForm()
    form.page.choices = [choice(p.slug, p.title) for p in candidates]
    errors: dict[str, str] = {}
    if request.method == "POST":
        chosen = next((p for p in candidates if p.slug == form.page.data), None)
        try:
            if not form.validate() or chosen is None:
                raise ValidationError({"page": _("Choose one of your own pages.")})
            teams.join_with_invite(who, get_page(chosen.slug), team, token)
        except ValidationError as exc:
            unit_of_work.discard()
            errors = {"page": " ".join(exc.errors.values())}
        else:
            flash(_("Your page “%(page)s” joined the team.", page=chosen.title), "success")
            return redirect(url_for("campaigns.page_detail", slug=team.slug))
    g.organisation_locale = team.cause.organisation.locale
    return render_template(
        "campaigns/team_invite.html",
        page=team,
        form=form,
        errors=errors,
        token=token,
        has_pages=bool(candidates),
    ), (422 if errors else 200)
