"""Events in a calendar: the .ics parses with icalendar and carries the start,
its time zone and the place; the cause's feed lists only upcoming events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from campaigns.pages.models import PageStatus
from tests.factories import EventPageFactory, PageFactory


def events_in(response) -> list:
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return icalendar.Calendar.from_ical(response.data).walk("VEVENT")


def test_an_event_page_gives_an_ics_with_start_zone_and_place(client, db, cause):
    start = datetime(2027, 3, 20, 18, 30, tzinfo=UTC)
    EventPageFactory(
        cause=cause,
        slug="lyon-night",
        title="La nuit de Lyon",
        venue="Le Sucre",
        city="Lyon",
        starts_at=start,
        story="Music and **water**.",
    )
    db.session.commit()
    (event,) = events_in(client.get("/p/lyon-night.ics"))
    begins = event.decoded("dtstart")
    assert begins == start
    assert begins.tzinfo.key == "Europe/Paris"
    assert str(event["location"]) == "Le Sucre, Lyon"
    assert str(event["summary"]) == "La nuit de Lyon"
    assert str(event["url"]) == "http://localhost/p/lyon-night"
    assert "Music and water." in str(event["description"])
    body = client.get("/p/lyon-night").get_data(as_text=True)
    assert 'href="/p/lyon-night.ics"' in body and "Add to calendar" in body


def test_the_event_keeps_its_uid_when_it_changes(client, db, cause):
    page = EventPageFactory(cause=cause, slug="moving", title="Before")
    db.session.commit()
    (before,) = events_in(client.get("/p/moving.ics"))
    page.title = "After"
    page.starts_at = page.starts_at + timedelta(days=1)
    db.session.commit()
    (after,) = events_in(client.get("/p/moving.ics"))
    assert before["uid"] == after["uid"] and str(after["summary"]) == "After"


def test_no_ics_for_a_personal_page_a_draft_or_an_undated_event(client, db, cause):
    PageFactory(cause=cause, slug="personal")
    EventPageFactory(cause=cause, slug="draft-event", status=PageStatus.DRAFT)
    EventPageFactory(cause=cause, slug="undated", starts_at=None)
    db.session.commit()
    for slug in ("personal", "draft-event", "undated", "nobody"):
        assert client.get(f"/p/{slug}.ics").status_code == 404, slug


def test_the_cause_feed_lists_upcoming_events_soonest_first(client, db, cause):
    now = datetime.now(UTC)
    EventPageFactory(cause=cause, slug="later", title="Later", starts_at=now + timedelta(days=9))
    EventPageFactory(cause=cause, slug="soon", title="Soon", starts_at=now + timedelta(days=2))
    EventPageFactory(cause=cause, slug="past", title="Past", starts_at=now - timedelta(days=2))
    EventPageFactory(cause=cause, slug="hidden", status=PageStatus.HIDDEN)
    db.session.commit()
    events = events_in(client.get(f"/c/{cause.slug}/events.ics"))
    assert [str(e["summary"]) for e in events] == ["Soon", "Later"]
    assert client.get("/c/nothing/events.ics").status_code == 404


def test_cause_page_filters_events_by_city_and_day(client, db, cause):
    paris = ZoneInfo("Europe/Paris")
    day = datetime(2027, 5, 14, 20, 0, tzinfo=paris)
    EventPageFactory(
        cause=cause, slug="orleans", title="Soirée Orléans", city="Orléans", starts_at=day
    )
    EventPageFactory(cause=cause, slug="lyon", title="Soirée Lyon", city="Lyon", starts_at=day)
    EventPageFactory(
        cause=cause,
        slug="lyon-2",
        title="Lyon again",
        city="Lyon",
        starts_at=day + timedelta(days=1),
    )
    db.session.commit()
    body = client.get(f"/c/{cause.slug}?city=orleans").get_data(as_text=True)
    assert "Soirée Orléans" in body and "Soirée Lyon" not in body
    body = client.get(f"/c/{cause.slug}?city=Lyon&date=2027-05-14").get_data(as_text=True)
    assert "Soirée Lyon" in body and "Lyon again" not in body and "Soirée Orléans" not in body
    body = client.get(f"/c/{cause.slug}?date=14/05/2027")
    assert body.status_code == 200 and "Give the date as YYYY-MM-DD." in body.get_data(as_text=True)
    assert "No event matches" in client.get(f"/c/{cause.slug}?city=Brest").get_data(as_text=True)


def test_upcoming_events_come_before_past_ones_in_a_city(client, db, cause):
    now = datetime.now(UTC)
    EventPageFactory(
        cause=cause, slug="a-past", title="Old night", starts_at=now - timedelta(days=5)
    )
    EventPageFactory(
        cause=cause, slug="b-next", title="Next night", starts_at=now + timedelta(days=5)
    )
    db.session.commit()
    body = client.get(f"/c/{cause.slug}").get_data(as_text=True)
    assert body.index("Next night") < body.index("Old night")
