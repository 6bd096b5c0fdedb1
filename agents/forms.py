"""Forms of the account page. Sign-up and login forms come from Flask-Security (agents/auth.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
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
    scope = RadioField(
        _l("What the token may do"),
        choices=[
            SelectChoice("read", _l("Read only: read your pages through the API, drafts included")),
            SelectChoice("write", _l("Read and write: also create, change, close your pages")),
        ],
        default="read",
        validators=[DataRequired(message=_l("Choose what the token may do."))],
    )
    expires_in = SelectField(
        _l("Expires"),
        choices=[
            SelectChoice("30", _l("In 30 days")),
            SelectChoice("7", _l("In 7 days")),
            SelectChoice("90", _l("In 90 days")),
            SelectChoice("365", _l("In a year")),
            SelectChoice("", _l("Never")),
        ],
        default="30",
        validate_choice=True,
        description=_l("An expired token stops working; you can create another at any time."),
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


class PublicProfileForm(FlaskForm):
    """The public side of the account (agents.profiles): off until chosen."""

    is_public = BooleanField(
        _l("Show my public profile"),
        description=_l(
            "Your name, bio, photo and links, your public pages, what they raised and "
            "their badges, at the address below. Drafts and hidden pages are never shown."
        ),
    )
    handle = StringField(
        _l("Address of my profile"),
        validators=[Length(max=40, message=_l("Keep it under 40 characters."))],
        description=_l(
            "Lower-case letters, digits and dashes. Left empty, it comes from your name."
        ),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    photo = FileField(
        _l("Photo"),
        description=_l("Optional. JPEG, PNG or WebP. It is resized to 1200 pixels at most."),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )
    remove_photo = BooleanField(_l("Remove my photo"))
    website_url = StringField(_l("Website"), render_kw={"autocomplete": "url", "inputmode": "url"})
    blog_url = StringField(_l("Blog"), render_kw={"inputmode": "url"})
    x_url = StringField(
        _l("X"), description=_l("Your address on X, or @name."), render_kw={"spellcheck": "false"}
    )
    facebook_url = StringField(_l("Facebook"), render_kw={"inputmode": "url"})
