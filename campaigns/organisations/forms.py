"""Forms for the staff screens: they render and carry CSRF; the services validate.

Each form turns what was typed (amounts in major units, wall-clock times) into
the data a service expects, and shows a service's refusals next to its fields.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.widgets import DateTimeLocalInput

from campaigns.money import CURRENCIES, parse_major, to_decimal

# The services read a time without a zone as the organiser's wall clock in Paris
# (campaigns.inputs.parse_datetime); the form shows stored times the same way.
WALL_CLOCK = ZoneInfo("Europe/Paris")

# Suggested amounts are separated by a semicolon, spaces, or a comma followed by a
# space, so that "12,50" stays one amount with a decimal comma.
AMOUNT_SEPARATORS = re.compile(r"\s*;\s*|,\s+|\s+")

MAX_GIFT_MINOR = 1_000_000_000


def major_text(amount_minor: int | None, currency: str) -> str:
    """'500' for 50000 cents, '12.50' for 1250: how an amount is shown in a field."""
    value = to_decimal(int(amount_minor or 0), currency)
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value:f}"


def wall_clock_text(value: datetime | None) -> str:
    """A stored UTC time as a datetime-local field value ('2026-06-21T19:00')."""
    if value is None:
        return ""
    return value.astimezone(WALL_CLOCK).strftime("%Y-%m-%dT%H:%M")


def parse_amount(text: str | None, currency: str) -> int:
    """Minor units from a typed amount; ValueError when it is not one."""
    try:
        return parse_major(text or "", currency)
    except (ValueError, ArithmeticError) as exc:
        raise ValueError("not an amount") from exc


def _plausible_time(text: str) -> bool:
    """Whether a typed time can be read and moved between time zones; year 1
    overflows in the conversion the service does."""
    try:
        return 1900 <= datetime.fromisoformat(text).year <= 2200
    except ValueError:
        return True  # the service explains the expected format


class StaffForm(FlaskForm):
    """A form whose fields can receive a service's error messages.

    ``ERROR_FIELDS`` maps a service's error key to the field that shows it; keys
    that match no field are shown above the form.
    """

    ERROR_FIELDS: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.general_errors: list[str] = []

    def add_errors(self, errors: dict[str, str]) -> None:
        for key, message in errors.items():
            name = self.ERROR_FIELDS.get(key, key)
            field = self._fields.get(name)
            if field is None or name == "csrf_token":
                self.general_errors.append(str(message))
            elif str(message) not in field.errors:
                field.errors = [*field.errors, str(message)]

    # Amount fields and an example amount for their hint.
    MONEY_FIELDS: dict[str, str] = {}

    def show_currency(self, currency: str) -> None:
        """Say in which currency the amount fields are typed."""
        for name, example in self.MONEY_FIELDS.items():
            self[name].description = _(
                "In %(currency)s, for example %(example)s.", currency=currency, example=example
            )

    def error_list(self) -> list[tuple[str | None, str]]:
        """(field id or None, message) for the summary at the top of the form."""
        items: list[tuple[str | None, str]] = [(None, m) for m in self.general_errors]
        for field in self:
            if field.name == "csrf_token" and field.errors:
                items.append((None, _("This form has expired. Please send it again.")))
                continue
            for message in field.errors:
                items.append((field.id, str(message)))
        return items


def _goal(form_field: StringField, currency: str, data: dict, errors: dict) -> None:
    text = (form_field.data or "").strip()
    if not text:
        data["goal_minor"] = 0
        return
    try:
        data["goal_minor"] = parse_amount(text, currency)
    except ValueError:
        errors["goal"] = _("Enter the goal as an amount such as 500 or 1250.50, 0 or more.")


class OrganisationForm(StaffForm):
    MONEY_FIELDS = {"min_amount": "2", "max_amount": "10000"}
    ERROR_FIELDS = {
        "min_amount_minor": "min_amount",
        "max_amount_minor": "max_amount",
    }

    name = StringField(_l("Name"), render_kw={"required": True, "maxlength": 200})
    legal_name = StringField(
        _l("Legal name"),
        description=_l("As registered, for receipts."),
        render_kw={"maxlength": 200},
    )
    address = TextAreaField(_l("Postal address"), render_kw={"rows": 3})
    website = StringField(
        _l("Website"), render_kw={"maxlength": 300, "type": "url", "autocomplete": "url"}
    )
    currency = SelectField(
        _l("Currency"), choices=[SelectChoice(c) for c in CURRENCIES], validate_choice=False
    )
    locale = SelectField(
        _l("Language"),
        choices=[SelectChoice("fr", _l("French")), SelectChoice("en", _l("English"))],
        validate_choice=False,
    )
    suggested_amounts = StringField(
        _l("Suggested amounts"),
        description=_l("One to six amounts in whole units, separated by commas: 10, 25, 50."),
    )
    min_amount = StringField(_l("Smallest gift"), render_kw={"inputmode": "decimal"})
    max_amount = StringField(
        _l("Largest gift"),
        render_kw={"inputmode": "decimal"},
    )
    open_data_k_floor = StringField(
        _l("Open data donor floor"),
        description=_l("A page's amount is left out of open data until it has this many donors."),
        render_kw={"inputmode": "numeric"},
    )
    hidden_gift_total = SelectField(
        _l("A total that would tell a hidden gift"),
        description=_l(
            "When all of a page's gifts come from one donor who hid their amount, its total "
            "tells it: show it rounded (777 → 800), or not until a second donor gives."
        ),
        choices=[
            SelectChoice("rounded", _l("Rounded")),
            SelectChoice("hidden", _l("Hidden until a second donor")),
        ],
        validate_choice=False,
    )

    offers_fee_cover = BooleanField(
        _l("Offer donors to cover the fees"),
        description=_l("The give form shows the exact amount added for Stripe's fees."),
    )
    counts_covers = BooleanField(
        _l("Count the fees donors cover in goals and leaderboards"),
        description=_l(
            "Off: they show apart on the dashboard, in the net. Applies to gifts from now on."
        ),
    )

    @classmethod
    def for_organisation(cls, org, **kwargs) -> OrganisationForm:
        return cls(
            data={
                **{k: getattr(org, k) for k in ("name", "legal_name", "address", "website")},
                "currency": org.currency,
                "locale": org.locale,
                "suggested_amounts": ", ".join(
                    major_text(a, org.currency) for a in org.suggested_amounts or []
                ),
                "min_amount": major_text(org.min_amount_minor, org.currency),
                "max_amount": major_text(org.max_amount_minor, org.currency),
                "open_data_k_floor": str(org.open_data_k_floor),
                "hidden_gift_total": org.hidden_gift_total,
                "offers_fee_cover": org.offers_fee_cover,
                "counts_covers": org.counts_covers,
            },
            **kwargs,
        )

    def service_data(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The data for ``save_organisation`` and the errors found while reading it."""
        errors: dict[str, str] = {}
        currency = self.currency.data if self.currency.data in CURRENCIES else "EUR"
        data: dict[str, Any] = {
            "name": self.name.data or "",
            "legal_name": self.legal_name.data or "",
            "address": self.address.data or "",
            "website": self.website.data or "",
            "currency": self.currency.data or "",
            "locale": self.locale.data or "",
            "hidden_gift_total": self.hidden_gift_total.data or "",
            "offers_fee_cover": bool(self.offers_fee_cover.data),
            "counts_covers": bool(self.counts_covers.data),
        }
        website = data["website"].strip()
        if website and not re.match(r"^https?://[^\s/]+\.[^\s]+$", website):
            errors["website"] = _("Enter the full address, starting with https://.")
        tokens = [
            t for t in AMOUNT_SEPARATORS.split((self.suggested_amounts.data or "").strip()) if t
        ]
        try:
            amounts = [parse_amount(t, currency) for t in tokens]
            if not 1 <= len(amounts) <= 6 or any(a <= 0 for a in amounts):
                raise ValueError("bad list")
            data["suggested_amounts"] = amounts
        except ValueError:
            errors["suggested_amounts"] = _(
                "Give one to six positive amounts separated by a comma and a space, "
                "for example 10, 25, 50."
            )
        bounds = {}
        for name in ("min_amount", "max_amount"):
            try:
                value = parse_amount(getattr(self, name).data, currency)
                # The columns are 32-bit integers: keep well inside them.
                if not 0 < value <= MAX_GIFT_MINOR:
                    raise ValueError("out of range")
                bounds[name] = data[f"{name}_minor"] = value
            except ValueError:
                errors[name] = _(
                    "Enter an amount greater than 0 and up to %(max)s, for example 2 or 10000.",
                    max=major_text(MAX_GIFT_MINOR, currency),
                )
        if len(bounds) == 2 and bounds["min_amount"] > bounds["max_amount"]:
            errors["max_amount"] = _("The largest gift must be at least the smallest gift.")
        floor = (self.open_data_k_floor.data or "").strip()
        if floor.isdigit() and 1 <= int(floor) <= 1000:
            data["open_data_k_floor"] = int(floor)
        else:
            errors["open_data_k_floor"] = _("Enter a whole number from 1 to 1000.")
        return data, errors


CAUSE_STATUSES = [
    SelectChoice("draft", _l("Draft (only staff see it)")),
    SelectChoice("published", _l("Published (open to pages and gifts)")),
    SelectChoice("closed", _l("Closed (no new pages or gifts)")),
]


class CauseForm(StaffForm):
    MONEY_FIELDS = {"goal": "50000"}

    title = StringField(_l("Title"), render_kw={"required": True, "maxlength": 200})
    slug = StringField(
        _l("Address (slug)"),
        description=_l(
            "Lower-case letters, digits and dashes. Leave empty to make one from the title."
        ),
        render_kw={"maxlength": 80, "autocapitalize": "none", "spellcheck": "false"},
    )
    summary = StringField(
        _l("Summary"),
        description=_l("One sentence for lists and shares."),
        render_kw={"maxlength": 300},
    )
    story = TextAreaField(
        _l("Story"),
        description=_l("Markdown: **bold**, *italic*, [link](https://…), lists."),
        render_kw={"rows": 12},
    )
    goal = StringField(
        _l("Goal"),
        render_kw={"inputmode": "decimal"},
    )
    starts_at = StringField(_l("Starts"), widget=DateTimeLocalInput())
    ends_at = StringField(_l("Ends"), widget=DateTimeLocalInput())
    status = SelectField(_l("Status"), choices=CAUSE_STATUSES, validate_choice=False)

    @classmethod
    def for_cause(cls, cause, **kwargs) -> CauseForm:
        return cls(
            data={
                **{k: getattr(cause, k) for k in ("title", "slug", "summary", "story")},
                "goal": major_text(cause.goal_minor, cause.currency),
                "starts_at": wall_clock_text(cause.starts_at),
                "ends_at": wall_clock_text(cause.ends_at),
                "status": str(cause.status),
            },
            **kwargs,
        )

    def service_data(self, currency: str, *, is_new: bool) -> tuple[dict, dict]:
        errors: dict[str, str] = {}
        data: dict[str, Any] = {
            "title": self.title.data or "",
            "summary": self.summary.data or "",
            "story": self.story.data or "",
            "starts_at": (self.starts_at.data or "").strip(),
            "ends_at": (self.ends_at.data or "").strip(),
            "status": self.status.data or "",
        }
        for name in ("starts_at", "ends_at"):
            text = data[name]
            if text and not _plausible_time(text):
                errors[name] = _("Enter a date and time such as 2026-06-21 19:00.")
                del data[name]
        slug = (self.slug.data or "").strip()
        # An empty slug on an edit keeps the address; on a new cause one is suggested.
        if slug or is_new:
            data["slug"] = slug
        _goal(self.goal, currency, data, errors)
        return data, errors


class ProjectForm(StaffForm):
    MONEY_FIELDS = {"goal": "5000"}

    name = StringField(_l("Name"), render_kw={"required": True, "maxlength": 200})
    slug = StringField(
        _l("Address (slug)"),
        description=_l(
            "Lower-case letters, digits and dashes. Leave empty to make one from the name."
        ),
        render_kw={"maxlength": 80, "autocapitalize": "none", "spellcheck": "false"},
    )
    description = TextAreaField(_l("Description"), render_kw={"rows": 5})
    goal = StringField(
        _l("Goal"),
        description=_l("In whole units, for example 5000. 0 for no goal."),
        render_kw={"inputmode": "decimal"},
    )

    @classmethod
    def for_project(cls, project, **kwargs) -> ProjectForm:
        return cls(
            data={
                **{k: getattr(project, k) for k in ("name", "slug", "description")},
                "goal": major_text(project.goal_minor, project.cause.currency),
            },
            **kwargs,
        )

    def service_data(self, currency: str, *, current_slug: str = "") -> tuple[dict, dict]:
        errors: dict[str, str] = {}
        data: dict[str, Any] = {
            "name": self.name.data or "",
            "description": self.description.data or "",
            "slug": (self.slug.data or "").strip().lower() or current_slug,
        }
        _goal(self.goal, currency, data, errors)
        return data, errors


class HideForm(StaffForm):
    reason = TextAreaField(
        _l("Reason"),
        description=_l("The page's owner sees this message. Say what to change."),
        render_kw={"rows": 4, "required": True, "maxlength": 2000},
    )


class StaffMemberForm(StaffForm):
    ERROR_FIELDS = {"agent": "email"}

    email = StringField(
        _l("Email address of an existing account"),
        render_kw={"type": "email", "autocomplete": "off", "required": True},
    )
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("staff", _l("Staff: causes, projects, moderation")),
            SelectChoice("admin", _l("Admin: also the organisation and its staff")),
        ],
        validate_choice=False,
    )


class ConfirmForm(StaffForm):
    """A button-only form (publish, join, unhide, remove…): just the CSRF token.
    The one every area uses."""
