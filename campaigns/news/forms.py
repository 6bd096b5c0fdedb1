"""Flask-WTF forms of field news. Rules live in the services; a form carries
the fields, their labels and the CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TextAreaField


class NewsForm(FlaskForm):
    title = StringField(_l("Title"), description=_l("For example: “The well of Kati gives water”."))
    body = TextAreaField(
        _l("What happened"),
        description=_l(
            "Plain text. Donors who asked for news receive it by email; do not name "
            "people who did not agree to it."
        ),
        render_kw={"rows": 8},
    )
    photo = FileField(
        _l("Photo"),
        description=_l("Optional. JPEG, PNG or WebP."),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )
    drop_photo = BooleanField(_l("Remove the photo"))


class ConsentForm(FlaskForm):
    is_agreed = BooleanField(
        _l("Send me news from the field about what my gift does"),
        description=_l(
            "A few emails from the organisation and the page's hosts. Each one has a link "
            "to stop them."
        ),
    )
