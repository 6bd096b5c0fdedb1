"""Broadcasts: audiences, preview, expansion into the outbox (bulk, deduped,
recurring), cancel, and the staff screens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from campaigns.errors import ValidationError
from campaigns.giving import ledger
from campaigns.pages import services as page_services
from campaigns.pages.models import PageHost, PageStatus
from extensions import db as _db
from messaging.broadcasts import fanout
from messaging.broadcasts import services as broadcasts
from messaging.broadcasts.models import Audience, Broadcast, BroadcastStatus
from messaging.broadcasts.recipients import places, recipients
from messaging.broadcasts.services import AudienceParams
from messaging.outbox.models import OutboxMessage
from messaging.templating.context import context_for
from messaging.templating.models import MessageTemplate, Trigger
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    PageFactory,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def make_template(org, *, channel="email", trigger=Trigger.BROADCAST, locale="fr", **kw):
    template = MessageTemplate(
        organisation_id=org.id,
        name=kw.pop("name", "Relance"),
        trigger=trigger,
        channel=channel,
        locale=locale,
        subject=kw.pop("subject", "{{ agent.first_name }}, {{ page.title }}"),
        body=kw.pop(
            "body",
            "Bonjour {{ agent.name }} : {{ page.raised }} sur {{ page.goal }}, "
            "rang {{ page.rank }}. {{ page.share_url }}",
        ),
        **kw,
    )
    _db.session.add(template)
    _db.session.flush()
    return template


def give(page, amount, email="donor@example.org"):
    return ledger.record_gift(page=page, cause=page.cause, amount_minor=amount, donor_email=email)


@pytest.fixture
def world(db):
    """One cause: a quiet page, a page at 60 %, an event with a co-host and a
    member, a draft, a deleted and a deactivated agent's pages, another cause."""
    cause = CauseFactory()
    org = cause.organisation
    staff = MembershipFactory(organisation=org).agent
    quiet = PageFactory(cause=cause, goal_minor=100_00)
    halfway = PageFactory(cause=cause, goal_minor=100_00)
    event = EventPageFactory(cause=cause, goal_minor=1000_00)
    cohost = AgentFactory()
    db.session.add(PageHost(page_id=event.id, agent_id=cohost.id))
    member = PageFactory(cause=cause, goal_minor=100_00)
    page_services.join_event(member.owner, member, event)
    draft = PageFactory(cause=cause, status=PageStatus.DRAFT)
    gone = PageFactory(cause=cause)
    gone.owner.deleted_at = datetime.now(UTC)
    gone.owner.email = None
    inactive = PageFactory(cause=cause)
    inactive.owner.active = False
    elsewhere = PageFactory(cause=CauseFactory(organisation=org))
    give(halfway, 60_00)
    give(member, 10_00, "m@example.org")
    db.session.flush()
    return {
        "org": org,
        "cause": cause,
        "staff": staff,
        "quiet": quiet,
        "halfway": halfway,
        "event": event,
        "cohost": cohost,
        "member": member,
        "draft": draft,
        "elsewhere": elsewhere,
    }


def pairs(world, audience, value=None):
    query = broadcasts.audience_query(AudienceParams(world["cause"].id, audience, value))
    return {tuple(row) for row in _db.session.execute(query)}


def test_audiences_select_the_right_agents(world):
    w = world
    quiet, halfway, event, member = w["quiet"], w["halfway"], w["event"], w["member"]
    owner = lambda page: (page.owner_id, page.id)  # noqa: E731
    everyone = {owner(quiet), owner(halfway), owner(event), (w["cohost"].id, event.id)}
    everyone.add(owner(member))
    assert pairs(w, Audience.ALL) == everyone  # no draft, deleted, inactive, other cause
    assert pairs(w, Audience.HOSTS) == {owner(event), (w["cohost"].id, event.id)}
    # Below 50 %: the quiet page, the member (10 %), the event (10 € of 1000 €).
    assert pairs(w, Audience.BELOW_GOAL, 50) == everyone - {owner(halfway)}
    assert pairs(w, Audience.BELOW_GOAL, 70) == everyone
    # The event's money includes its member's gift: only the quiet page has none.
    assert pairs(w, Audience.NO_GIFT) == {owner(quiet)}
    assert pairs(w, Audience.EVENT, event.id) == {
        owner(event),
        (w["cohost"].id, event.id),
        owner(member),
    }


def test_preview_counts_and_renders_samples(world):
    template = make_template(world["org"])
    preview = broadcasts.preview(
        world["staff"],
        world["org"],
        world["cause"],
        {"template_id": template.id, "audience": "below_goal", "audience_value": "50"},
    )
    assert preview.count == 4
    assert len(preview.samples) == 3
    first = preview.samples[0]
    assert first.text.startswith(f"Bonjour {first.agent_name} :")
    assert "/s/" in first.text  # the agent's own share link
    assert _db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_bad_input_is_refused_with_messages(world):
    org = world["org"]
    template = make_template(org)
    with pytest.raises(ValidationError) as caught:
        broadcasts.create(
            world["staff"],
            org,
            {
                "cause_id": world["cause"].id,
                "template_id": template.id,
                "audience": "below_goal",
                "audience_value": "250",
                "send_at": "2001-01-01T10:00",
                "recurrence": "hourly",
            },
        )
    assert set(caught.value.errors) == {"audience_value", "send_at", "recurrence"}
    other = make_template(org, trigger=Trigger.WELCOME)
    with pytest.raises(ValidationError) as caught:
        broadcasts.create(
            world["staff"],
            org,
            {"cause_id": world["cause"].id, "template_id": other.id, "audience": "event"},
        )
    assert set(caught.value.errors) == {"template_id", "audience_value"}


def scheduled(world, template, **data) -> Broadcast:
    broadcast = broadcasts.create(
        world["staff"],
        world["org"],
        {"cause_id": world["cause"].id, "template_id": template.id, "audience": "all", **data},
    )
    broadcasts.schedule(world["staff"], broadcast)
    broadcast.send_at = NOW
    _db.session.flush()
    return broadcast


def outbox(**where):
    query = select(OutboxMessage).order_by(OutboxMessage.agent_id, OutboxMessage.page_id)
    for key, value in where.items():
        query = query.where(getattr(OutboxMessage, key) == value)
    return list(_db.session.scalars(query))


def test_expansion_writes_one_row_per_agent_and_channel_once(world):
    template = make_template(world["org"])
    broadcast = scheduled(world, template)
    assert broadcasts.expand_due(NOW - timedelta(minutes=1)) == 0  # not due yet
    assert broadcasts.expand_due(NOW) == 5
    rows = outbox(broadcast_id=broadcast.id)
    assert len(rows) == 5
    assert {r.dedupe_key for r in rows} == {
        f"broadcast:{broadcast.id}:run:1:agent:{r.agent_id}:page:{r.page_id}:email" for r in rows
    }
    quiet = world["quiet"]
    mine = next(r for r in rows if r.page_id == quiet.id)
    assert mine.recipient == quiet.owner.email
    assert mine.status == "queued" and mine.channel == "email"
    assert mine.subject == f"{quiet.owner.name.split()[0]}, {quiet.title}"
    assert broadcast.status == BroadcastStatus.SENT
    assert broadcast.runs == 1 and broadcast.message_count == 5
    # A second run finds nothing due; replaying the same run adds nothing either.
    assert broadcasts.expand_due(NOW + timedelta(hours=1)) == 0
    broadcast.status, broadcast.runs = BroadcastStatus.SCHEDULED, 0
    _db.session.flush()
    assert broadcasts.expand_due(NOW) == 0
    assert len(outbox(broadcast_id=broadcast.id)) == 5


def test_the_rendered_text_is_what_context_for_gives(world):
    """The bulk contexts equal the templates module's, value for value."""
    template = make_template(world["org"], channel="x")
    member = world["member"]
    rows = recipients(broadcasts.audience_query(AudienceParams(world["cause"].id, Audience.ALL)))
    row = next(r for r in rows if r.page_id == member.id)
    links = fanout.Links()
    codes = fanout.share_codes(world["cause"].id, [row], ["x"])
    bulk = fanout.context(
        world["org"],
        world["cause"],
        row,
        places(world["cause"].id),
        links,
        locale="fr",
        share_url=links.share(codes[(row.agent_id, row.page_id, "x")]),
        now=datetime.now(UTC),
    )
    expected = context_for(member.owner, member, channel=template.channel, locale="fr")
    assert bulk.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            assert {k: (k, v) for k, v in bulk[key].items()} == {
                k: (k, v) for k, v in value.items()
            }
        assert bulk[key] == value


def test_a_cancelled_broadcast_is_not_expanded(world):
    broadcast = scheduled(world, make_template(world["org"]))
    broadcasts.cancel(world["staff"], broadcast)
    assert broadcasts.expand_due(NOW + timedelta(days=1)) == 0
    assert outbox(broadcast_id=broadcast.id) == []


def test_a_daily_broadcast_runs_again_the_next_day_with_new_keys(world):
    broadcast = scheduled(world, make_template(world["org"]), recurrence="daily")
    assert broadcasts.expand_due(NOW) == 5
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert broadcast.send_at == NOW + timedelta(days=1)
    assert broadcasts.expand_due(NOW + timedelta(hours=23)) == 0
    assert broadcasts.expand_due(NOW + timedelta(days=1)) == 5
    keys = {r.dedupe_key.split(":agent:")[0] for r in outbox(broadcast_id=broadcast.id)}
    assert keys == {f"broadcast:{broadcast.id}:run:1", f"broadcast:{broadcast.id}:run:2"}
    assert broadcast.message_count == 10


def test_agents_get_the_template_in_their_language(world):
    org = world["org"]
    french = make_template(org, body="Bonjour {{ agent.name }}")
    make_template(org, locale="en", body="Hello {{ agent.name }}")
    world["quiet"].owner.locale = "en"
    broadcast = scheduled(world, french)
    broadcasts.expand_due(NOW)
    texts = {r.page_id: r.body_text for r in outbox(broadcast_id=broadcast.id)}
    assert texts[world["quiet"].id].startswith("Hello")
    assert texts[world["halfway"].id].startswith("Bonjour")


# --- staff screens ---------------------------------------------------------------


def test_only_staff_reach_the_broadcast_screens(client, login_as, world, db):
    db.session.commit()
    login_as(world["quiet"].owner)
    org = world["org"]
    assert client.get(f"/staff/{org.slug}/broadcasts/").status_code == 403
    assert client.post(f"/staff/{org.slug}/broadcasts/new", data={}).status_code == 403
    assert client.get(f"/staff/{org.slug}/broadcasts/automatic").status_code == 403


def test_staff_preview_schedule_and_see_delivery_counts(client, login_as, world, db):
    org = world["org"]
    template = make_template(org)
    db.session.commit()
    login_as(world["staff"])
    form = {
        "cause_id": str(world["cause"].id),
        "template_id": str(template.id),
        "audience": "hosts",
        "when": "now",
        "recurrence": "",
    }
    response = client.post(f"/staff/{org.slug}/broadcasts/new", data={**form, "action": "preview"})
    assert response.status_code == 200
    assert "2 agents will receive it." in response.text
    assert db.session.scalar(select(func.count()).select_from(Broadcast)) == 0
    response = client.post(f"/staff/{org.slug}/broadcasts/new", data={**form, "action": "schedule"})
    assert response.status_code == 302
    broadcast = db.session.scalars(select(Broadcast)).one()
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert broadcasts.expand_due() == 2
    response = client.get(f"/staff/{org.slug}/broadcasts/{broadcast.id}")
    assert response.status_code == 200
    assert "waiting" in response.text and "<td>2</td>" in response.text
    listing = client.get(f"/staff/{org.slug}/broadcasts/")
    assert template.name in listing.text


def test_staff_form_shows_refusals_next_to_fields(client, login_as, world, db):
    org = world["org"]
    template = make_template(org)
    db.session.commit()
    login_as(world["staff"])
    response = client.post(
        f"/staff/{org.slug}/broadcasts/new",
        data={
            "cause_id": str(world["cause"].id),
            "template_id": str(template.id),
            "audience": "below_goal",
            "percent": "abc",
            "when": "later",
            "send_at": "2001-01-01T10:00",
            "action": "schedule",
        },
    )
    assert response.status_code == 200
    assert "Enter a percentage of the goal from 1 to 100." in response.text
    assert "This time has passed." in response.text
    assert db.session.scalar(select(func.count()).select_from(Broadcast)) == 0


def test_cancel_from_the_detail_page(client, login_as, world, db):
    broadcast = scheduled(world, make_template(world["org"]))
    db.session.commit()
    login_as(world["staff"])
    org = world["org"]
    response = client.post(f"/staff/{org.slug}/broadcasts/{broadcast.id}/cancel")
    assert response.status_code == 302
    db.session.refresh(broadcast)
    assert broadcast.status == BroadcastStatus.CANCELLED
