"""What a staff export or the dashboard is narrowed to: a cause and local days,
read from the query string with an error that says what to correct."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from campaigns.dashboard.charts import midnight
from campaigns.dashboard.services import wall_clock
from campaigns.errors import ServiceError
from campaigns.organisations.models import Cause
from extensions import db


@dataclass(frozen=True)
class Filters:
    cause_id: int | None = None
    cause_slug: str = ""
    since: date | None = None
    until: date | None = None

    def window(self, column) -> list:
        """Conditions keeping ``column`` within the chosen local days (both included)."""
        zone = wall_clock()
        conditions = []
        if self.since is not None:
            conditions.append(column >= midnight(self.since, zone))
        if self.until is not None:
            conditions.append(column < midnight(self.until + timedelta(days=1), zone))
        return conditions

    def where(self, organisation, organisation_id: int, cause, day) -> list:
        """Conditions for one file: the organisation's rows (``organisation`` is
        the column naming it), of the chosen cause (``cause``) if any, with
        ``day`` within the chosen days."""
        conditions = [organisation == organisation_id]
        if self.cause_id:
            conditions.append(cause == self.cause_id)
        return [*conditions, *self.window(day)]

    def describe(self) -> dict:
        return {
            "cause": self.cause_slug,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }


def parse_day(text: str | None) -> date | None:
    """A day written YYYY-MM-DD (what a date field sends), None when empty;
    ValueError for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    day = date.fromisoformat(text) if len(text) == 10 else None
    # Days at the ends of the calendar cannot be turned into UTC times.
    if day is None or not 1970 <= day.year <= 2999:
        raise ValueError(text)
    return day


def _day(args: Mapping[str, str], name: str) -> date | None:
    try:
        return parse_day(args.get(name))
    except ValueError:
        raise ServiceError(
            _(
                "The date “%(name)s” must be written YYYY-MM-DD, for example 2026-06-21.",
                name=name,
            )
        ) from None


def parse_filters(organisation_id: int, args: Mapping[str, str]) -> Filters:
    """``cause`` (a slug of the organisation's), ``since`` and ``until`` (local
    days, both included); a ServiceError (400) says what to correct."""
    since, until = _day(args, "since"), _day(args, "until")
    if since and until and since > until:
        raise ServiceError(_("The start date (since) must be on or before the end date (until)."))
    slug = (args.get("cause") or "").strip()
    cause_id = None
    if slug:
        cause_id = db.session.scalar(
            select(Cause.id).where(Cause.organisation_id == organisation_id, Cause.slug == slug)
        )
        if cause_id is None:
            raise ServiceError(
                _(
                    "This organisation has no cause “%(slug)s”. Choose one of its causes, "
                    "or leave the cause out to export them all.",
                    slug=slug[:80],
                )
            )
    return Filters(cause_id, slug if cause_id else "", since, until)
