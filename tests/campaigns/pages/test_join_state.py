"""An event page tells an agent who has joined it that they are in, with
their page, instead of asking them to join or to create a page."""

from __future__ import annotations

import pytest

from tests.factories import EventPageFactory, PageFactory


@pytest.fixture(autouse=True)
def english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"


def test_after_joining_the_event_page_says_you_are_in(client, db, login_as):
    event = EventPageFactory(title="Twestival Lille", city="Lille")
    mine = PageFactory(cause=event.cause, title="My swim")
    db.session.commit()
    login_as(mine.owner)

    before = client.get(f"/p/{event.slug}").get_data(as_text=True)
    assert "Join this event" in before and "You are in" not in before

    assert client.post(f"/p/{event.slug}/join", data={"page": mine.slug}).status_code == 302
    after = client.get(f"/p/{event.slug}").get_data(as_text=True)
    join = after[after.index('id="join"') :]
    assert "You are in" in join
    assert f'href="/p/{mine.slug}">My swim</a>' in join
    assert "Join this event" not in after
    assert "you need a personal page" not in after


def test_another_agent_is_still_asked_to_join(client, db, login_as):
    event = EventPageFactory(title="Twestival Lille", city="Lille")
    joined = PageFactory(cause=event.cause, title="My swim", parent=event)
    other = PageFactory(cause=event.cause, title="Their run")
    db.session.commit()
    login_as(other.owner)

    shown = client.get(f"/p/{event.slug}").get_data(as_text=True)
    assert "Join this event" in shown and "You are in" not in shown
    assert joined.title in shown
