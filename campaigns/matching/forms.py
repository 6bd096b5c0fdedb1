"""The staff form of a match challenge: it renders and carries CSRF; the service validates."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.widgets import DateTimeLocalInput

from campaigns.organisations.forms import StaffForm, parse_amount


class MatchForm(StaffForm):
    MONEY_FIELDS = {"cap": "5000"}
    ERROR_FIELDS = {"cap_minor": "cap"}

    cause = SelectField(_l("Cause"), validate_choice=False)
    page = StringField(
        _l("Page or event (optional)"),
        description=_l(
            "Paste a page's link to match only its gifts (an event's: every page of the "
            "event). Leave empty to match every gift of the cause."
        ),
        render_kw={"maxlength": 300},
    )
    sponsor_name = StringField(
        _l("Sponsor"),
        description=_l("Who pays the match: a company, a donor, or the organisation."),
        render_kw={"required": True, "maxlength": 200},
    )
    sponsor_email = StringField(
        _l("Sponsor's email"),
        description=_l("The statement is sent there when the match ends."),
        render_kw={"maxlength": 255, "type": "email", "autocomplete": "off"},
    )
    ratio = StringField(
        _l("Ratio"),
        description=_l("1:1 doubles each gift, 2:1 triples it, 1:2 adds half."),
        default="1:1",
        render_kw={"required": True, "maxlength": 11},
    )
    cap = StringField(_l("Cap"), render_kw={"required": True, "inputmode": "decimal"})
    starts_at = StringField(_l("Starts"), widget=DateTimeLocalInput())
    ends_at = StringField(_l("Ends"), widget=DateTimeLocalInput())

    def service_data(self, currency: str) -> tuple[dict, dict]:
        """The data for ``create_match`` and the errors found while reading it."""
        errors: dict[str, str] = {}
        data = {
            "cause": self.cause.data or "",
            "page": self.page.data or "",
            "sponsor_name": self.sponsor_name.data or "",
            "sponsor_email": self.sponsor_email.data or "",
            "ratio": self.ratio.data or "",
            "starts_at": (self.starts_at.data or "").strip(),
            "ends_at": (self.ends_at.data or "").strip(),
            "cap_minor": None,
        }
        try:
            data["cap_minor"] = parse_amount(self.cap.data, currency)
        except ValueError:
            errors["cap"] = _("Enter the cap as an amount above zero, such as 5000.")
        return data, errors
