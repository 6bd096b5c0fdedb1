"""The staff form for a message template: it renders and carries CSRF; the
service checks the template itself (messaging.templating.services)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField

from campaigns.organisations.forms import StaffForm
from messaging.templating.models import MessageTemplate

TRIGGER_LABELS = {
    "broadcast": _l("Broadcast (sent by staff)"),
    "suggested": _l("Suggested post (agents' share kit)"),
    "welcome": _l("Welcome (page published)"),
    "first_gift": _l("First gift"),
    "goal_50": _l("Half of the goal reached"),
    "goal_100": _l("Goal reached"),
    "gifts": _l("New gifts (at most hourly)"),
    "rank_change": _l("Rank change"),
    "rank_passed": _l("Passed on the leaderboard"),
    "daily_digest": _l("Daily digest (last days)"),
    "nudge": _l("Nudge (inactive page)"),
}
CHANNEL_LABELS = {
    "x": "X",
    "facebook": "Facebook",
    "email": _l("Email"),
    "copy": _l("Text to copy"),
}
LOCALE_LABELS = {"fr": "Français", "en": "English"}


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


FIELDS = ("name", "cause", "trigger", "channel", "locale", "subject", "body", "body_html")


class TemplateForm(StaffForm):
    name = StringField(_l("Name"), render_kw={"required": True, "maxlength": 120})
    cause = SelectField(_l("Cause"), choices=[], validate_choice=False)
    trigger = SelectField(_l("Used for"), choices=_choices(TRIGGER_LABELS), validate_choice=False)
    channel = SelectField(_l("Channel"), choices=_choices(CHANNEL_LABELS), validate_choice=False)
    locale = SelectField(_l("Language"), choices=_choices(LOCALE_LABELS), validate_choice=False)
    subject = StringField(
        _l("Subject"),
        description=_l("Email only; at most 200 characters once rendered."),
        render_kw={"maxlength": 300},
    )
    body = TextAreaField(
        _l("Message"),
        description=_l(
            "Placeholders such as {{ agent.first_name }}, {{ page.raised }}, {{ page.goal }}, "
            "{{ page.rank }}, {{ page.gap_to_next }}, {{ page.share_url }}, {{ cause.title }}. "
            "For email, this is the plain-text version."
        ),
        render_kw={"rows": 10, "required": True},
    )
    body_html = TextAreaField(
        _l("HTML version"),
        description=_l("Email only, optional: without it the text version is sent as simple HTML."),
        render_kw={"rows": 10},
    )
    is_active = BooleanField(_l("Active"), default=True)
    preview_page = SelectField(_l("Preview on the page"), choices=[], validate_choice=False)

    @classmethod
    def for_template(cls, template: MessageTemplate | None, causes, pages, **defaults):
        if template is None:
            form = cls(data={"is_active": True, **defaults})
        else:
            form = cls(
                data={
                    "name": template.name,
                    "cause": next((c.slug for c in causes if c.id == template.cause_id), ""),
                    "trigger": str(template.trigger),
                    "channel": str(template.channel),
                    "locale": template.locale,
                    "subject": template.subject,
                    "body": template.body,
                    "body_html": template.body_html,
                    "is_active": template.is_active,
                }
            )
        form.cause.choices = [
            SelectChoice("", _l("Every cause")),
            *(SelectChoice(c.slug, c.title) for c in causes),
        ]
        form.preview_page.choices = [SelectChoice(p.slug, p.title) for p in pages]
        return form

    def service_data(self) -> dict:
        data = {name: self[name].data or "" for name in FIELDS}
        data["is_active"] = bool(self.is_active.data)
        return data
