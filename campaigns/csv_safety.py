"""The one guard every CSV file Relais writes puts on its text cells: a cell
that a spreadsheet would run as a formula (CSV injection) is shown as text."""

from __future__ import annotations

# What spreadsheets read as the start of a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    """``value``, with a quote before a text that would start a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
