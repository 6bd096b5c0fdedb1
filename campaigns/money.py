"""Money: integer minor units plus an ISO 4217 currency, formatted by Babel."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency, get_currency_precision

# Currencies an organisation can pick; Stripe supports more, add them when needed.
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "XOF", "JPY")


def minor_factor(currency: str) -> int:
    return 10 ** get_currency_precision(currency)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def parse_major(text: str, currency: str) -> int:
    """Turn '25', '25.5' or '25,50' into minor units; ValueError on anything else."""
    cleaned = text.strip().replace("\u202f", "").replace(" ", "").replace(",", ".")
    value = Decimal(cleaned)  # raises InvalidOperation (a ValueError) on junk
    minor = value.scaleb(get_currency_precision(currency))
    if minor != minor.to_integral_value() or not value.is_finite():
        raise ValueError("too many decimals")
    return int(minor)


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """'2 400 €' for whole amounts, '2 400,50 €' otherwise (per locale)."""
    value = to_decimal(amount_minor, currency)
    if value == value.to_integral_value():
        pattern = Locale.parse(locale).currency_formats["standard"].pattern
        whole = pattern.split(";")[0].replace(".00", "")
        return format_currency(value, currency, locale=locale, format=whole, currency_digits=False)
    return format_currency(value, currency, locale=locale)


def format_cost_per_unit(fees_minor: int, raised_minor: int, currency: str, locale: str) -> str:
    """What collecting one unit of ``currency`` cost ('0,034 €' per euro raised),
    to three decimals; '—' when nothing was raised."""
    if raised_minor <= 0:
        return "—"
    ratio = (Decimal(fees_minor) / Decimal(raised_minor)).quantize(Decimal("0.001"))
    pattern = Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0]
    digits = pattern.replace(".00", ".000") if ".00" in pattern else pattern.replace("0¤", "0.000¤")
    return format_currency(ratio, currency, locale=locale, format=digits, currency_digits=False)


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str

    def as_json(self) -> dict:
        return {"amount_minor": self.amount_minor, "currency": self.currency}
