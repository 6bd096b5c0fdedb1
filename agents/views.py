"""The agent's own account: profile, tokens, language, leaving."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_security import auth_required, current_user, logout_user
from flask_security.utils import verify_and_update_password

from agents import export, services
from agents.forms import (
    ConfirmForm,
    DeleteAccountForm,
    ProfileForm,
    PublicProfileForm,
    TokenForm,
)
from agents.returning import SESSION_KEY, is_local_path, wanted_path
from campaigns import unit_of_work
from campaigns.errors import ValidationError
from campaigns.model_types import utcnow
from extensions import limiter, limits_off

bp = Blueprint("agents", __name__)


@bp.get("/lang/<code>")
def set_locale(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["locale"] = code
    target = request.args.get("next", "")
    if not is_local_path(target):
        target = url_for("campaigns.home")
    return redirect(target)


@bp.get("/account/check-email")
def check_email():
    """Where sign-up lands (agents.returning: whatever ``next`` said)."""
    return render_template(
        "agents/check_email.html", returns_to=wanted_path(session.get(SESSION_KEY))
    )


def _me():
    return current_user._get_current_object()


def render_account(
    profile_form=None, token_form=None, new_token=None, public_form=None, status=200
):
    """The account page, with the form that was just sent (and its errors) if any."""
    from agents import profiles
    from campaigns.pages.services import editable_pages

    agent = _me()
    if profile_form is None:
        profile_form = ProfileForm(prefix="profile", formdata=None, obj=agent)
    public = profiles.profile_of(agent)
    if public_form is None:
        public_form = PublicProfileForm(prefix="public", formdata=None, obj=public)
        if public is None:
            public_form.handle.data = profiles.suggest_handle(agent)
    response = current_app.make_response(
        (
            render_template(
                "agents/account.html",
                agent=agent,
                pages=editable_pages(agent),
                tokens=services.list_tokens(agent),
                profile_form=profile_form,
                public_form=public_form,
                public_profile=public,
                token_form=token_form or TokenForm(prefix="token", formdata=None),
                revoke_form=ConfirmForm(),
                new_token=new_token,
                now=utcnow(),
            ),
            status,
        )
    )
    if new_token:
        # The clear token is in this page only: keep it out of every cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def apply_service_errors(form, exc: ValidationError) -> None:
    for name, message in exc.errors.items():
        if name in form:
            form[name].errors = [*form[name].errors, message]
        else:
            form.form_errors.append(message)


@bp.get("/me")
@auth_required()
def account():
    return render_account()


@bp.post("/me/profile")
@auth_required()
def update_profile():
    form = ProfileForm(prefix="profile")
    if form.validate():
        try:
            services.update_profile(
                _me(), name=form.name.data, locale=form.locale.data, bio=form.bio.data
            )
        except ValidationError as exc:
            unit_of_work.discard()
            apply_service_errors(form, exc)
        else:
            # The switch in the session wins over the profile: follow the new choice now.
            if form.locale.data:
                session["locale"] = form.locale.data
            else:
                session.pop("locale", None)
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("agents.account") + "#profile")
    return render_account(profile_form=form, status=422)


@bp.post("/me/tokens")
@auth_required()
def create_token():
    form = TokenForm(prefix="token")
    if not form.validate():
        return render_account(token_form=form, status=422)
    days = int(form.expires_in.data) if form.expires_in.data else None
    _token, clear = services.create_token(
        _me(),
        form.token_name.data or "",
        scope=form.scope.data,
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    # Rendered, not redirected: the clear token must not travel through the session cookie.
    return render_account(new_token=clear, status=201)


@bp.post("/me/tokens/<int:token_id>/revoke")
@auth_required()
def revoke_token(token_id: int):
    form = ConfirmForm()
    if not form.validate():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("agents.account") + "#tokens")
    services.revoke_token(_me(), token_id)
    flash(_("The token is revoked: it no longer works."), "success")
    return redirect(url_for("agents.account") + "#tokens")


@bp.route("/me/delete", methods=["GET", "POST"])
@auth_required()
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        agent = _me()
        if verify_and_update_password(form.password.data, agent):
            services.delete_account(agent)
            logout_user()
            flash(
                _("Your account is deleted. Your pages and the money they raised stay online."),
                "success",
            )
            return redirect(url_for("campaigns.home"))
        form.password.errors = [_("That password is not right. Try again.")]
    status = 422 if form.errors else 200
    return render_template("agents/delete_account.html", form=form), status


@bp.get("/me/data.zip")
@auth_required()
@limiter.limit("10 per hour", exempt_when=limits_off)
def download_data():
    """Everything Relais keeps about the agent, as one ZIP (see agents/export.py)."""
    response = current_app.response_class(
        export.personal_data_zip(_me()), mimetype="application/zip"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="relais-my-data.zip"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
