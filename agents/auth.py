"""Sign-up, confirmation, login and password reset through Flask-Security-Too."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_security import MailUtil, RegisterFormV2, Security, SQLAlchemyUserDatastore
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from agents.models import Agent, Role
from extensions import db, limiter

user_datastore = SQLAlchemyUserDatastore(db, Agent, Role)


class RelaisMailUtil(MailUtil):
    """Flask-Security's mails go through Relais' own mail service."""

    def send_mail(self, template, subject, recipient, sender, body, html, **kwargs):
        from messaging.services import send_email

        send_email(
            to=recipient if isinstance(recipient, str) else recipient[1],
            subject=str(subject),
            text=body or "",
            html=html or "",
            template=f"security/{template}",
        )


class RelaisRegisterForm(RegisterFormV2):
    name = StringField(
        _l("Your name"),
        validators=[DataRequired(message=_l("Please enter your name.")), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )


def init_app(app: Flask, security: Security) -> None:
    security.init_app(
        app,
        user_datastore,
        mail_util_cls=RelaisMailUtil,
        register_form=RelaisRegisterForm,
    )
    # Rate-limit the endpoints that take a password or send mail.
    auth_limit = limiter.limit(
        lambda: app.config["RATELIMIT_AUTH"], methods=["POST"], key_func=None
    )
    for endpoint in (
        "security.login",
        "security.register",
        "security.forgot_password",
        "security.send_confirmation",
    ):
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = auth_limit(view)
