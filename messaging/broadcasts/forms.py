"""Forms for the broadcast and automatic-message staff screens: they render and
carry CSRF; ``messaging.broadcasts.services`` and ``messaging.automatic.services`` validate."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.widgets import DateTimeLocalInput

from campaigns.organisations.forms import StaffForm
from messaging.broadcasts.models import Audience

AUDIENCES = [
    SelectChoice(Audience.ALL.value, _l("Every agent with a published page in the cause")),
    SelectChoice(Audience.HOSTS.value, _l("Event hosts and co-hosts")),
    SelectChoice(Audience.BELOW_GOAL.value, _l("Agents whose page is below a share of its goal")),
    SelectChoice(Audience.NO_GIFT.value, _l("Agents whose page has no gift yet")),
    SelectChoice(Audience.EVENT.value, _l("The agents of one event")),
]
RECURRENCES = [
    SelectChoice("", _l("Once")),
    SelectChoice("daily", _l("Every day")),
    SelectChoice("weekly", _l("Every week")),
]


class BroadcastForm(StaffForm):
    ERROR_FIELDS = {"audience_value": "percent", "send_at": "send_at"}

    cause_id = SelectField(_l("Cause"), choices=[], validate_choice=False)
    template_id = SelectField(
        _l("Message template"),
        description=_l("Broadcast templates are written on the templates page."),
        choices=[],
        validate_choice=False,
    )
    audience = SelectField(_l("Who receives it"), choices=AUDIENCES, validate_choice=False)
    percent = StringField(
        _l("Share of the goal (%)"),
        description=_l("For “below a share of its goal”: 50 reaches pages under half."),
        render_kw={"inputmode": "numeric"},
    )
    event_id = SelectField(
        _l("Event"),
        description=_l("For “the agents of one event”."),
        choices=[],
        validate_choice=False,
    )
    when = RadioField(
        _l("When"),
        choices=[SelectChoice("now", _l("Now")), SelectChoice("later", _l("Later"))],
        default="now",
        validate_choice=False,
    )
    send_at = StringField(
        _l("Send at (Paris time)"),
        description=_l("For “later”: the first sending."),
        widget=DateTimeLocalInput(),
    )
    recurrence = SelectField(_l("Repeat"), choices=RECURRENCES, validate_choice=False)

    def fill_choices(self, causes, templates, events) -> None:
        self.cause_id.choices = [SelectChoice(str(c.id), c.title) for c in causes]
        self.template_id.choices = [
            SelectChoice(str(t.id), f"{t.name} ({t.channel}, {t.locale})") for t in templates
        ]
        self.event_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(e.id), f"{e.title} ({e.city})" if e.city else e.title) for e in events
        ]

    def service_data(self) -> dict[str, Any]:
        audience = self.audience.data or ""
        value: Any = None
        if audience == Audience.BELOW_GOAL:
            value = (self.percent.data or "").strip()
        elif audience == Audience.EVENT:
            value = self.event_id.data or ""
        return {
            "cause_id": self.cause_id.data or "",
            "template_id": self.template_id.data or "",
            "audience": audience,
            "audience_value": value,
            "send_at": (self.send_at.data or "").strip() if self.when.data == "later" else None,
            "recurrence": self.recurrence.data or "",
        }

    def add_errors(self, errors: dict[str, str]) -> None:
        if "audience_value" in errors and self.audience.data == Audience.EVENT:
            errors = {**errors, "event_id": errors["audience_value"]}
            errors.pop("audience_value")
        super().add_errors(errors)
