"""The agent's messaging settings: connected X and Facebook Page accounts (to
post suggested messages for them) and their email/post choices."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_security import auth_required, current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from campaigns import unit_of_work
from messaging.preferences.services import preference_for
from messaging.social import oauth
from messaging.social import services as social_accounts
from messaging.social.crypto import CredentialsError, decrypt_credentials, encrypt_credentials

bp = Blueprint("social", __name__)

_KEY = [
    DataRequired(message=_l("Paste this key from your X developer app.")),
    Length(max=200, message=_l("This key is too long: paste only the key.")),
]
_HOURS = [SelectChoice("", _l("None"))] + [SelectChoice(str(h), f"{h:02d}:00") for h in range(24)]


class XForm(FlaskForm):
    consumer_key = StringField(_l("API key"), validators=_KEY, render_kw={"autocomplete": "off"})
    consumer_secret = PasswordField(_l("API key secret"), validators=_KEY)
    access_token = StringField(
        _l("Access token"), validators=_KEY, render_kw={"autocomplete": "off"}
    )
    access_token_secret = PasswordField(_l("Access token secret"), validators=_KEY)
    handle = StringField(
        _l("Your X handle"),
        validators=[Length(max=100, message=_l("Keep the handle under 100 characters."))],
        description=_l("Optional, shown to you only, e.g. @camille."),
    )


class FacebookForm(FlaskForm):
    page_id = StringField(
        _l("Facebook Page id"),
        validators=[
            DataRequired(message=_l("Enter the numeric id of your Facebook Page.")),
            Regexp(r"^\d{1,30}$", message=_l("A Page id is made of digits only.")),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    page_token = PasswordField(
        _l("Page access token"),
        validators=[
            DataRequired(message=_l("Paste the Page access token.")),
            Length(max=1000, message=_l("This token is too long: paste only the token.")),
        ],
    )


class PreferencesForm(FlaskForm):
    is_email_opted_out = BooleanField(_l("No campaign emails"))
    is_social_opted_out = BooleanField(_l("No posts on my connected accounts"))
    quiet_start_hour = SelectField(_l("Quiet hours from"), choices=_HOURS)
    quiet_end_hour = SelectField(_l("until"), choices=_HOURS)
    timezone = SelectField(_l("Time zone"), validate_choice=True)


def _hour(value: int | None) -> str:
    return "" if value is None else str(value)


def _preferences_form(formdata=None) -> PreferencesForm:
    pref = preference_for(current_user.id)
    form = PreferencesForm(prefix="prefs", formdata=formdata, obj=None)
    form.timezone.choices = [SelectChoice(name, name) for name in sorted(available_timezones())]
    if formdata is None:
        form.is_email_opted_out.data = pref.is_email_opted_out
        form.is_social_opted_out.data = pref.is_social_opted_out
        form.quiet_start_hour.data = (
            "" if pref.quiet_start_hour is None else str(pref.quiet_start_hour)
        )
        form.quiet_end_hour.data = _hour(pref.quiet_end_hour)
        form.timezone.data = pref.timezone
    return form


def _render(x_form=None, facebook_form=None, prefs_form=None, status=200):
    return (
        render_template(
            "messaging/social_accounts.html",
            x_oauth=oauth.x_configured(),
            facebook_oauth=oauth.facebook_configured(),
            accounts=social_accounts.accounts_of(current_user.id),
            x_form=x_form or XForm(prefix="x", formdata=None),
            facebook_form=facebook_form or FacebookForm(prefix="facebook", formdata=None),
            prefs_form=prefs_form or _preferences_form(),
            disconnect_form=FlaskForm(),
        ),
        status,
    )


@bp.get("/me/messaging")
@auth_required()
def settings():
    return _render()


@bp.post("/me/messaging/x")
@auth_required()
def connect_x():
    form = XForm(prefix="x")
    if not form.validate():
        return _render(x_form=form, status=422)
    credentials = {key: getattr(form, key).data.strip() for key in social_accounts.X_KEYS}
    social_accounts.connect(current_user.id, "x", credentials, form.handle.data.strip())
    flash(_("Your X account is connected."), "success")
    return redirect(url_for("social.settings"))


@bp.post("/me/messaging/facebook")
@auth_required()
def connect_facebook():
    form = FacebookForm(prefix="facebook")
    if not form.validate():
        return _render(facebook_form=form, status=422)
    page_id = form.page_id.data.strip()
    social_accounts.connect(
        current_user.id,
        "facebook",
        {"page_id": page_id, "page_token": form.page_token.data.strip()},
        page_id,
    )
    flash(_("Your Facebook Page is connected."), "success")
    return redirect(url_for("social.settings"))


@bp.post("/me/messaging/<provider>/disconnect")
@auth_required()
def disconnect(provider: str):
    form = FlaskForm()
    if provider not in social_accounts.PROVIDERS or not form.validate():
        return redirect(url_for("social.settings"))
    if social_accounts.disconnect(current_user.id, provider):
        flash(_("Disconnected: nothing will be posted there any more."), "success")
    return redirect(url_for("social.settings"))


@bp.post("/me/messaging/preferences")
@auth_required()
def update_preferences():
    form = _preferences_form(request.form)
    if not form.validate():
        return _render(prefs_form=form, status=422)
    social_accounts.update_preferences(
        current_user.id,
        is_email_opted_out=form.is_email_opted_out.data,
        is_social_opted_out=form.is_social_opted_out.data,
        quiet_start_hour=int(form.quiet_start_hour.data) if form.quiet_start_hour.data else None,
        quiet_end_hour=int(form.quiet_end_hour.data) if form.quiet_end_hour.data else None,
        timezone=form.timezone.data,
    )
    flash(_("Your messaging choices are saved."), "success")
    return redirect(url_for("social.settings"))


# -- OAuth: "Connect X", "Connect a Facebook Page" ---------------------------------

X_STATE = "oauth_x"
FACEBOOK_STATE = "oauth_facebook"
FACEBOOK_PAGES = "oauth_facebook_pages"


def _callback(endpoint: str) -> str:
    return url_for(endpoint, _external=True)


def _refused() -> object:
    flash(_("The connection did not go through. Nothing was changed: try again."), "error")
    return redirect(url_for("social.settings"))


@bp.get("/me/messaging/x/connect")
@auth_required()
def connect_x_oauth():
    if not oauth.x_configured():
        abort(404)
    url, state, verifier = oauth.x_authorization(_callback("social.x_callback"))
    session[X_STATE] = {"state": state, "verifier": verifier}
    return redirect(url)


@bp.get("/me/messaging/x/callback")
@auth_required()
@unit_of_work.writes
def x_callback():
    kept = session.pop(X_STATE, None) or {}
    code, state = request.args.get("code", ""), request.args.get("state", "")
    if not oauth.x_configured() or not kept or not code or state != kept.get("state"):
        return _refused()  # refused on X's screen, a stale tab, or a forged callback
    try:
        credentials, handle = oauth.x_finish(_callback("social.x_callback"), code, kept["verifier"])
    except oauth.ConnectError as exc:
        current_app.logger.warning("X connection failed: %s", exc)
        return _refused()
    social_accounts.connect(current_user.id, "x", credentials, handle)
    flash(_("Your X account is connected."), "success")
    return redirect(url_for("social.settings"))


@bp.get("/me/messaging/facebook/connect")
@auth_required()
def connect_facebook_oauth():
    if not oauth.facebook_configured():
        abort(404)
    url, state = oauth.facebook_authorization(_callback("social.facebook_callback"))
    session[FACEBOOK_STATE] = state
    return redirect(url)


def _connect_page(page: oauth.FacebookPage):
    social_accounts.connect(
        current_user.id, "facebook", {"page_id": page.id, "page_token": page.token}, page.id
    )
    flash(_("Your Facebook Page %(name)s is connected.", name=page.name or page.id), "success")
    return redirect(url_for("social.settings"))


@bp.get("/me/messaging/facebook/callback")
@auth_required()
@unit_of_work.writes
def facebook_callback():
    state = session.pop(FACEBOOK_STATE, None)
    code = request.args.get("code", "")
    if not oauth.facebook_configured() or not state or not code:
        return _refused()
    if request.args.get("state") != state:
        return _refused()
    try:
        pages = oauth.facebook_pages(_callback("social.facebook_callback"), code)
    except oauth.ConnectError as exc:
        current_app.logger.warning("Facebook connection failed: %s", exc)
        return _refused()
    if not pages:
        flash(
            _("Facebook shows no Page that you manage: create a Page, then connect again."), "error"
        )
        return redirect(url_for("social.settings"))
    if len(pages) == 1:
        return _connect_page(pages[0])
    # Several Pages: the person picks one; their tokens wait encrypted in the session.
    session[FACEBOOK_PAGES] = encrypt_credentials(
        {"pages": [[p.id, p.name, p.token] for p in pages]}
    ).decode()
    return render_template("messaging/facebook_pages.html", pages=pages, form=FlaskForm())


@bp.post("/me/messaging/facebook/page")
@auth_required()
def choose_facebook_page():
    form = FlaskForm()
    kept = session.pop(FACEBOOK_PAGES, None)
    if not form.validate() or not kept:
        return _refused()
    try:
        pages = [oauth.FacebookPage(*row) for row in decrypt_credentials(kept.encode())["pages"]]
    except (CredentialsError, KeyError, TypeError):
        return _refused()
    chosen = next((p for p in pages if p.id == request.form.get("page_id")), None)
    if chosen is None:
        return _refused()
    return _connect_page(chosen)
