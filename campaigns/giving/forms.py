"""The give form on a page. Its rules live in ``campaigns.giving.services``; the form
carries the fields, their labels and the CSRF token."""

from __future__ import annotations

from babel.numbers import get_currency_name
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields import EmailField

from campaigns.giving.covers import cover_for
from campaigns.giving.services import MESSAGE_MAX, OTHER, GiftOptions
from campaigns.money import format_money, to_decimal
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page


def major_text(amount_minor: int, currency: str) -> str:
    """The value a suggested amount's radio button posts: '25', or '12.50'."""
    value = to_decimal(amount_minor, currency)
    return str(value.quantize(1) if value == value.to_integral_value() else value)


class GiveForm(FlaskForm):
    # Choices depend on the organisation; the service checks the value.
    amount = RadioField(_l("Amount"), choices=[], validate_choice=False)
    other_amount = StringField(
        _l("Amount of your choice"),
        render_kw={"inputmode": "decimal", "autocomplete": "off", "size": 8},
    )
    project = RadioField(_l("Where your gift goes"), choices=[], validate_choice=False)
    message = TextAreaField(
        _l("Message (optional)"),
        description=_l("Shown on the page with your gift. 500 characters at most."),
        render_kw={"rows": 3, "maxlength": MESSAGE_MAX},
    )
    donor_name = StringField(
        _l("Your name (optional)"),
        description=_l("Shown on the page unless you give anonymously; printed on your receipt."),
        render_kw={"autocomplete": "name"},
    )
    donor_email = EmailField(
        _l("Your email (optional)"),
        description=_l("For your receipt. The payment page asks for it otherwise."),
        render_kw={"autocomplete": "email"},
    )
    # The reçu fiscal names the donor's address (shown when the organisation
    # issues tax receipts); Stripe's payment page asks for it otherwise.
    donor_address_line = StringField(
        _l("Street address (optional)"),
        render_kw={"autocomplete": "street-address", "maxlength": 200},
    )
    donor_postal_code = StringField(
        _l("Postal code"), render_kw={"autocomplete": "postal-code", "size": 10, "maxlength": 20}
    )
    donor_city = StringField(
        _l("City"), render_kw={"autocomplete": "address-level2", "maxlength": 100}
    )
    donor_country = StringField(
        _l("Country"),
        description=_l("Two-letter code, such as FR."),
        render_kw={"autocomplete": "country", "size": 4, "maxlength": 2},
    )
    frequency = RadioField(
        _l("How often"),
        choices=[("once", _l("Once")), ("monthly", _l("Every month"))],
        default="once",
        validate_choice=False,
    )
    # Its label says the exact amount for the amount chosen (``fill_choices``
    # for the default one; static/js/relais.js follows the donor's choice).
    cover_fees = BooleanField(_l("Add the fees so the organisation receives all of my gift"))
    is_anonymous = BooleanField(_l("Give anonymously (your name is not shown on the page)"))
    is_amount_hidden = BooleanField(_l("Hide the amount on the page"))
    share = HiddenField()

    @classmethod
    def for_page(
        cls, place: Page | Cause, options: GiftOptions, *, share: str = "", project: str = ""
    ) -> GiveForm:
        """A blank form with the suggested amounts and projects of a page (or a
        cause given to directly: ``options`` are its own); ``project``
        (a slug, from a project's "Give" button) is chosen when the cause has it."""
        # formdata=None: on a page re-shown after another form's POST (joining an
        # event), the give form starts blank rather than reading that POST.
        form = cls(formdata=None)
        form.fill_choices(options)
        middle = options.suggested_minor[len(options.suggested_minor) // 2 :][:1]
        form.amount.data = major_text(middle[0], options.currency) if middle else OTHER
        form.project.data = project if project in {p.slug for p in options.projects} else ""
        form.share.data = share
        form.frequency.data = "once"
        return form

    def fill_choices(self, options: GiftOptions) -> None:
        locale = str(get_locale() or "fr")
        self.amount.choices = [
            (major_text(a, options.currency), format_money(a, options.currency, locale))
            for a in options.suggested_minor
        ] + [(OTHER, _l("Other amount"))]
        self.other_amount.description = _(
            "In %(currency)s, from %(low)s to %(high)s.",
            currency=get_currency_name(options.currency, count=2, locale=locale),
            low=format_money(options.min_minor, options.currency, locale),
            high=format_money(options.max_minor, options.currency, locale),
        )
        self.project.choices = [("", _l("Where it's most needed"))] + [
            (p.slug, p.name) for p in options.projects
        ]
        if options.cover_rate is not None:
            shown = options.suggested_minor[len(options.suggested_minor) // 2 :][:1]
            amount = shown[0] if shown else options.min_minor
            self.cover_fees.label.text = _(
                "Add %(cover)s to cover the fees, so the organisation receives all of "
                "my %(amount)s gift",
                cover=format_money(cover_for(amount, options.currency), options.currency, locale),
                amount=format_money(amount, options.currency, locale),
            )
