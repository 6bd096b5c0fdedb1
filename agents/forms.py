"""Forms of the account page. Sign-up and login forms come from Flask-Security (agents/auth.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class ProfileForm(FlaskForm):
    name = StringField(
        _l("Your name"),
        validators=[
            DataRequired(message=_l("Please enter your name.")),
            Length(max=120, message=_l("Keep your name under 120 characters.")),
        ],
        render_kw={"autocomplete": "name"},
    )
    locale = SelectField(
        _l("Preferred language"),
        choices=[
            SelectChoice("", _l("Same as my browser")),
            SelectChoice("fr", "Français", render_kw={"lang": "fr"}),
            SelectChoice("en", "English", render_kw={"lang": "en"}),
        ],
        validate_choice=True,
    )
    bio = TextAreaField(
        _l("About you"),
        validators=[Length(max=500, message=_l("Keep your bio under 500 characters."))],
        description=_l("Optional. Shown on your pages. 500 characters at most."),
    )


class TokenForm(FlaskForm):
    token_name = StringField(
        _l("Token name"),
        validators=[Length(max=100, message=_l("Keep the name under 100 characters."))],
        description=_l('What the token is for, e.g. "my website". Optional.'),
        render_kw={"autocomplete": "off"},
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class DeleteAccountForm(FlaskForm):
    understood = BooleanField(
        _l("I understand that my name, email and bio will be erased and that I cannot undo this."),
        validators=[DataRequired(message=_l("Tick the box to confirm."))],
    )
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(message=_l("Enter your password to confirm."))],
        render_kw={"autocomplete": "current-password"},
    )
