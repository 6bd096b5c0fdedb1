"""The staff form of a webhook endpoint: it renders and carries CSRF; the
service checks the URL and the events."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from campaigns.organisations.forms import StaffForm
from messaging.webhooks.events import CATALOGUE


class EventChoices(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EndpointForm(StaffForm):
    url = StringField(
        _l("Address (URL)"),
        description=_l("Where Relais posts the events, starting with https://."),
        render_kw={"required": True, "maxlength": 500, "type": "url", "spellcheck": "false"},
    )
    description = StringField(
        _l("Description"),
        description=_l("For your team: what receives these events (your CRM, Slack, Zapier…)."),
        render_kw={"maxlength": 300},
    )
    event_types = EventChoices(
        _l("Events to send"),
        choices=[SelectChoice(name) for name in CATALOGUE],
        validate_choice=False,
        render_kw={"required": True},
    )

    def read(self) -> tuple[dict, dict]:
        """What the service receives; the form has nothing it cannot read itself."""
        return {
            "url": self.url.data or "",
            "description": self.description.data or "",
            "event_types": list(self.event_types.data or []),
        }, {}
