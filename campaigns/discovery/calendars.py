"""Events as iCalendar (RFC 5545): one event, or every upcoming event of a
cause, for "Add to calendar" and for calendar apps that subscribe to a feed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar
from flask import current_app

from campaigns.cards.services import plain_text
from campaigns.pages.models import Page

PRODUCT = "-//Relais//Relais events//EN"


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")


def _event(page: Page, url: str, stamp: datetime) -> icalendar.Event:
    event = icalendar.Event()
    # The page id and the site's host make a UID that stays the same when the
    # page's title or date change, so a calendar updates the event in place.
    host = current_app.config.get("SERVER_NAME") or "relais"
    event.add("uid", f"page-{page.id}@{host}")
    event.add("dtstamp", stamp)
    event.add("summary", page.title)
    # Stored in UTC; given in the organiser's zone so calendars show the local
    # hour even for a reader travelling elsewhere.
    event.add("dtstart", page.starts_at.astimezone(_zone()))
    place = ", ".join(part for part in (page.venue, page.city) if part)
    if place:
        event.add("location", place)
    description = plain_text(page.story, limit=1000)
    event.add("description", f"{description}\n\n{url}".strip())
    event.add("url", url)
    event.add("last-modified", (page.updated_at or stamp).astimezone(UTC))
    return event


def calendar(pages: Iterable[tuple[Page, str]], name: str) -> bytes:
    """An .ics holding each (event page, its URL) that has a start time."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODUCT)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", str(_zone()))
    stamp = datetime.now(UTC)
    events = [_event(page, url, stamp) for page, url in pages if page.starts_at]
    for event in events:
        cal.add_component(event)
    if events:
        cal.add_missing_timezones()
    return cal.to_ical()
