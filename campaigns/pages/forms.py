"""Flask-WTF forms for agents' pages. Rules live in the services; a form only
carries the fields, their labels and the CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields import EmailField

from campaigns.pages.models import PageKind

try:
    from wtforms.fields.choices import SelectChoice as choice
except ImportError:  # WTForms < 3.3 takes (value, label) tuples

    def choice(value, label):
        return (value, label)


class PageForm(FlaskForm):
    """Create or edit a page; ``kind`` is only asked for a new page."""

    kind = RadioField(
        _l("Kind of page"),
        choices=[
            choice(PageKind.PERSONAL.value, _l("A personal page: you raise money yourself")),
            choice(PageKind.EVENT.value, _l("A local event that others can join with their pages")),
            choice(
                PageKind.TEAM.value,
                _l("A team: friends, colleagues or a club join it with their own pages"),
            ),
        ],
        default=PageKind.PERSONAL.value,
    )
    title = StringField(_l("Title"))
    slug = StringField(
        _l("Web address"),
        description=_l("Lower-case letters, digits and dashes. Leave empty for a suggestion."),
    )
    goal = StringField(
        _l("Goal"),
        description=_l("A whole amount, for example 500."),
        render_kw={"inputmode": "decimal"},
    )
    story = TextAreaField(
        _l("Your story"),
        description=_l(
            "Why you are raising money. Markdown: *italics*, **bold**, [links](https://…)."
        ),
        render_kw={"rows": 8},
    )
    city = StringField(_l("City"))
    venue = StringField(_l("Venue"))
    starts_at = StringField(
        _l("Date and time"),
        description=_l("Local time of the event, for example 2026-06-21 19:00."),
        render_kw={"type": "datetime-local"},
    )
    photo = FileField(
        _l("Photo"),
        description=_l("JPEG, PNG or WebP. It is resized to 1200 pixels at most."),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )


class JoinForm(FlaskForm):
    page = SelectField(_l("Your page"), choices=[])


class InviteForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        description=_l("We send them a link; once they accept, they can edit this event page."),
        render_kw={"autocomplete": "email"},
    )


class TeamInviteForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        description=_l("We send them the team's invitation link; they join with their own page."),
        render_kw={"autocomplete": "email"},
    )


class SponsorForm(FlaskForm):
    name = StringField(_l("Name"))
    url = StringField(
        _l("Web site"),
        description=_l("Optional, for example https://example.org."),
        render_kw={"inputmode": "url"},
    )
    logo = FileField(
        _l("Logo"),
        description=_l("Optional. JPEG, PNG or WebP."),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )


class ReportForm(FlaskForm):
    reason = RadioField(
        _l("What is wrong with this page?"),
        choices=[
            choice("spam", _l("Spam or advertising")),
            choice("scam", _l("A scam: the money may not go to the cause")),
            choice("hateful", _l("Hateful, violent or shocking content")),
            choice("privacy", _l("It shows private information about someone")),
            choice("other", _l("Something else")),
        ],
        validate_choice=False,
    )
    details = TextAreaField(
        _l("Details (optional)"),
        description=_l("What should the team look at? Do not write your name or address here."),
        render_kw={"rows": 4, "maxlength": 1000},
    )
