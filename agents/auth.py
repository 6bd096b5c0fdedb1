"""Sign-up, confirmation, login and password reset through Flask-Security-Too."""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from flask_security import RegisterFormV2, Security, SQLAlchemyUserDatastore
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from agents.models import Agent, Role
from campaigns.model_types import utcnow
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


def init_app(app: Flask) -> None:
    security.init_app(
        app,
        user_datastore,
        register_form=RelaisRegisterForm,
        # Our UTCDateTime columns refuse naive datetimes (FS's default factory).
        datetime_factory=utcnow,
    )
    for endpoint in RATE_LIMITED_ENDPOINTS:
        # Flask-Security registers its views itself, so they are wrapped after the fact.
        app.view_functions[endpoint] = auth_limit(app.view_functions[endpoint])
