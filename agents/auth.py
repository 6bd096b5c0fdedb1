"""Sign-up, confirmation, login and password reset through Flask-Security-Too."""

from __future__ import annotations

import functools

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from flask_security import (
    LoginForm,
    RegisterFormV2,
    Security,
    SQLAlchemyUserDatastore,
    current_user,
)
from flask_security.utils import get_message
from flask_security.views import default_render_json
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from agents import returning
from agents.models import Agent, Role
from campaigns.model_types import utcnow
from campaigns.unit_of_work import run_transaction
from extensions import db, limiter
from messaging.mail.mail_util import RelaisMailUtil

user_datastore = SQLAlchemyUserDatastore(db, Agent, Role)
# Created here rather than in extensions.py: its mail hook (Relais' own mail
# service) is given to the constructor, and extensions must import no app code.
security = Security(mail_util_cls=RelaisMailUtil)

# Endpoints that take a password or send mail: each gets RATELIMIT_AUTH per client.
RATE_LIMITED_ENDPOINTS = (
    "security.login",
    "security.register",
    "security.forgot_password",
    "security.reset_password",
    "security.send_confirmation",
)


class RelaisRegisterForm(RegisterFormV2):
    name = StringField(
        _l("Your name"),
        validators=[DataRequired(message=_l("Please enter your name.")), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )


class RelaisLoginForm(LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The page offers "Forgot your password?" once, under the form:
        # Flask-Security's own link in the field's hint would say it twice.
        self.password.description = None
        self.email.label.text = _l("Email address")
        self.password.label.text = _l("Your password")
        if self.remember is not None:
            self.remember.label.text = _l("Keep me logged in on this device")

    def validate(self, **kwargs) -> bool:
        if super().validate(**kwargs):
            return True
        if self.user_authenticated and self.requires_confirmation:
            # The password was right: saying that the address awaits its
            # confirmation tells nothing to someone who does not know it. Moved
            # off the field, which generic responses replace with "failed".
            self.ifield.errors = []
            self.form_errors.append(get_message("CONFIRMATION_REQUIRED")[0])
        return False


def _auth_limit_value() -> str:
    return current_app.config["RATELIMIT_AUTH"]


def _auth_limit_exempt() -> bool:
    # The limiter is one object shared by every app built in a process (tests
    # build several); the current app's own setting decides, not the last one built.
    return not current_app.config.get("RATELIMIT_ENABLED", True)


# One decorator object for every app: Flask-Limiter keys decorated limits by
# the view's qualified name, and a new object per create_app would stack
# duplicate limits that each count the same request.
auth_limit = limiter.limit(_auth_limit_value, methods=["POST"], exempt_when=_auth_limit_exempt)


def ends_every_session(logout):
    """Logging out gives the agent a new ``fs_uniquifier``: the session and
    remember-me cookies name the old one, so a copy of either kept from before
    (another device, a stolen cookie) stops working. Flask-Security does the
    same when the password changes or is reset."""

    @functools.wraps(logout)
    def view(*args, **kwargs):
        agent = current_user._get_current_object() if current_user.is_authenticated else None
        response = logout(*args, **kwargs)
        if agent is not None and not current_user.is_authenticated:
            run_transaction(lambda: user_datastore.set_uniquifier(agent))
        return response

    return view


def _render_json(payload: dict, code: int, headers, user):
    if request.endpoint == "security.register":
        # A new address answers with its (empty) user, a taken one without:
        # sign-up logs nobody in (confirmation comes first), so neither gets one.
        payload.pop("user", None)
    return default_render_json(payload, code, headers, user)


def init_app(app: Flask) -> None:
    security.init_app(
        app,
        user_datastore,
        register_form=RelaisRegisterForm,
        login_form=RelaisLoginForm,
        # Our UTCDateTime columns refuse naive datetimes (FS's default factory).
        datetime_factory=utcnow,
    )
    security.render_json(_render_json)
    returning.init_app(app)
    for endpoint in RATE_LIMITED_ENDPOINTS:
        # Flask-Security registers its views itself, so they are wrapped after the fact.
        app.view_functions[endpoint] = auth_limit(app.view_functions[endpoint])
    app.view_functions["security.logout"] = ends_every_session(
        app.view_functions["security.logout"]
    )
