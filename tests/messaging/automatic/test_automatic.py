"""Automatic messages: welcome, goal milestones, batched gifts, rank changes,
digests and nudges only add outbox rows, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from campaigns.giving.models import Donation
from campaigns.money import format_money
from campaigns.pages import services
from campaigns.pages.models import PageHost
from campaigns.standings import leaderboards
from extensions import db as _db
from messaging.automatic import jobs as automatic_jobs
from messaging.automatic import services as automatic
from messaging.automatic.models import AutoMessageSetting, RankSnapshot
from messaging.outbox.models import OutboxMessage
from messaging.templating.models import Trigger
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    PageFactory,
)
from tests.messaging.broadcasts.test_broadcasts import give, make_template


def rows(trigger):
    return list(
        _db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.trigger == str(trigger))
            .order_by(OutboxMessage.id)
        )
    )


def test_welcome_when_a_page_is_published(db):
    cause = CauseFactory()
    make_template(cause.organisation, trigger=Trigger.WELCOME, body="Bienvenue {{ agent.name }}")
    agent = AgentFactory()
    page = services.create_page(
        agent, cause, "personal", {"title": "Ma page", "status": "published"}
    )
    draft = services.create_page(agent, cause, "personal", {"title": "Brouillon"})
    assert [(r.agent_id, r.page_id) for r in rows(Trigger.WELCOME)] == [(agent.id, page.id)]
    services.publish_page(agent, draft)
    services.publish_page(agent, page)  # published again: no second welcome
    welcomes = rows(Trigger.WELCOME)
    assert [r.page_id for r in welcomes] == [page.id, draft.id]
    assert welcomes[0].body_text == f"Bienvenue {agent.name}"
    assert welcomes[0].recipient == agent.email


def test_a_gift_crossing_half_the_goal_queues_exactly_one_message(db):
    page = PageFactory(goal_minor=100_00)
    org = page.cause.organisation
    for trigger in (Trigger.GOAL_50, Trigger.GOAL_100, Trigger.FIRST_GIFT):
        make_template(org, trigger=trigger, body=f"{trigger} {{{{ page.percent }}}} %")
    give(page, 20_00)
    assert [r.body_text for r in rows(Trigger.FIRST_GIFT)] == ["first_gift 20 %"]
    give(page, 10_00, "b@example.org")
    assert rows(Trigger.GOAL_50) == []
    give(page, 25_00, "c@example.org")  # 55 %
    give(page, 5_00, "d@example.org")  # 60 %: still above, nothing new
    half = rows(Trigger.GOAL_50)
    assert [(r.page_id, r.body_text) for r in half] == [(page.id, "goal_50 55 %")]
    assert half[0].dedupe_key == f"goal_50:page:{page.id}:agent:{page.owner_id}:email"
    give(page, 50_00, "e@example.org")
    assert len(rows(Trigger.GOAL_100)) == 1
    assert len(rows(Trigger.GOAL_50)) == 1 and len(rows(Trigger.FIRST_GIFT)) == 1


def test_a_message_turned_off_is_not_queued(db):
    page = PageFactory(goal_minor=100_00)
    org = page.cause.organisation
    make_template(org, trigger=Trigger.FIRST_GIFT)
    staff = MembershipFactory(organisation=org).agent
    automatic.save_setting(staff, org, Trigger.FIRST_GIFT, False, {})
    give(page, 10_00)
    assert rows(Trigger.FIRST_GIFT) == []
    assert _db.session.get(AutoMessageSetting, (org.id, "first_gift")).is_enabled is False


def test_a_gift_that_changes_ranks_produces_rank_change_messages(db):
    cause = CauseFactory()
    make_template(
        cause.organisation,
        trigger=Trigger.RANK_CHANGE,
        channel="x",
        body="#{{ page.rank }} (#{{ old_rank }}){% if passed %} > {{ passed.title }}{% endif %}",
    )
    leader, chaser, third = (PageFactory(cause=cause, title=t) for t in ("Lea", "Hugo", "Ines"))
    give(leader, 50_00)
    give(chaser, 30_00)
    now = datetime.now(UTC)
    assert automatic_jobs.rank_snapshots(now) == 0  # the first snapshot has nothing to compare
    give(chaser, 30_00, "again@example.org")
    assert automatic_jobs.rank_snapshots(now + timedelta(minutes=5)) == 1
    (moved,) = rows(Trigger.RANK_CHANGE)
    assert (moved.agent_id, moved.page_id) == (chaser.owner_id, chaser.id)
    assert moved.body_text == "#1 (#2) > Lea"
    assert moved.channel == "x" and moved.recipient == ""
    # Nothing changed since: no new snapshot, no message.
    assert automatic_jobs.rank_snapshots(now + timedelta(minutes=10)) == 0
    assert len(rows(Trigger.RANK_CHANGE)) == 1
    assert third.id  # ranked last throughout: never told it moved


def test_gifts_on_a_page_are_batched_at_most_once_an_hour(db):
    page = PageFactory()
    make_template(
        page.cause.organisation,
        trigger=Trigger.GIFTS,
        body="{{ gifts.count }} dons, {{ gifts.amount }} : {{ gifts.donors | join(', ') }}",
    )
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    for name, minutes in (("Léa", 20), ("Hugo", 10), ("Inès", 5)):
        gift = give(page, 10_00, f"{name}@example.org")
        gift.donor_name = name
        gift.created_at = now - timedelta(minutes=minutes)
    _db.session.flush()
    assert automatic_jobs.gift_digest(now) == 1
    (digest,) = rows(Trigger.GIFTS)
    assert digest.body_text == f"3 dons, {format_money(30_00, 'EUR', 'fr')} : Léa, Hugo, Inès"
    assert digest.dedupe_key.startswith(f"gifts:agent:{page.owner_id}:hour:{now:%Y%m%d%H}")
    late = give(page, 5_00, "late@example.org")
    late.created_at = now + timedelta(minutes=5)
    _db.session.flush()
    assert automatic_jobs.gift_digest(now + timedelta(minutes=10)) == 0  # within the hour
    assert automatic_jobs.gift_digest(now + timedelta(minutes=65)) == 1
    assert rows(Trigger.GIFTS)[-1].body_text.startswith("1 dons, 5")


def test_nudge_once_a_week_for_a_quiet_page(db):
    now = datetime.now(UTC)
    quiet = PageFactory(published_at=now - timedelta(days=10))
    cause = quiet.cause
    PageFactory(cause=cause, published_at=now - timedelta(days=2))  # too new
    busy = PageFactory(cause=cause, published_at=now - timedelta(days=10))
    give(busy, 10_00)
    make_template(cause.organisation, trigger=Trigger.NUDGE, body="Relancez !")
    assert automatic_jobs.nudges(now) == 1
    assert [r.page_id for r in rows(Trigger.NUDGE)] == [quiet.id]
    assert automatic_jobs.nudges(now + timedelta(hours=1)) == 0


def test_daily_digest_in_the_last_days_of_a_cause(db):
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    cause = CauseFactory(ends_at=now + timedelta(days=2))
    far = CauseFactory(organisation=cause.organisation, ends_at=now + timedelta(days=20))
    page = PageFactory(cause=cause)
    PageFactory(cause=far)
    make_template(cause.organisation, trigger=Trigger.DAILY_DIGEST, body="J-{{ cause.days_left }}")
    assert automatic_jobs.daily_digest(now) == 1
    (digest,) = rows(Trigger.DAILY_DIGEST)
    assert digest.page_id == page.id
    assert digest.dedupe_key.startswith(f"digest:agent:{page.owner_id}:20261124")
    assert automatic_jobs.daily_digest(now + timedelta(hours=1)) == 0
    assert automatic_jobs.daily_digest(now + timedelta(days=1)) == 1


def test_staff_toggle_automatic_messages(client, login_as, db):
    membership = MembershipFactory()
    org = membership.organisation
    db.session.commit()
    login_as(membership.agent)
    page = client.get(f"/staff/{org.slug}/broadcasts/automatic")
    assert page.status_code == 200 and "Nudge for a page without gifts" in page.text
    form = {f"{t}-enabled": "on" for t in automatic.AUTOMATIC if t != Trigger.NUDGE}
    form.update({"nudge-inactive_days": "14", "daily_digest-days_before_end": "5"})
    form["daily_digest-hour"] = "8"
    response = client.post(f"/staff/{org.slug}/broadcasts/automatic", data=form)
    assert response.status_code == 302
    assert automatic.setting(org.id, Trigger.NUDGE) == (False, {"inactive_days": 14})
    assert automatic.setting(org.id, Trigger.DAILY_DIGEST) == (
        True,
        {"days_before_end": 5, "hour": 8},
    )
    bad = client.post(
        f"/staff/{org.slug}/broadcasts/automatic", data={**form, "nudge-inactive_days": "0"}
    )
    assert bad.status_code == 200 and "Enter a whole number from 1 to 90." in bad.text
    assert Donation  # the ledger is untouched by settings


# --- rank changes: the page that moved up and the page it passed --------------------


def rank_templates(org):
    """Rank messages in both languages: the mover's and the passed page's."""
    for locale, up, down in (
        ("fr", "Bravo, {{ page.rank }}e", "Dépassé par"),
        ("en", "Well done, #{{ page.rank }}", "Passed by"),
    ):
        make_template(
            org,
            trigger=Trigger.RANK_CHANGE,
            locale=locale,
            subject=up,
            body=up + " (#{{ old_rank }}) > {{ passed.city }}",
        )
        make_template(
            org,
            trigger=Trigger.RANK_PASSED,
            locale=locale,
            subject=down + " {{ passed_by.city }}",
            body=down + " {{ passed_by.city }}: #{{ page.rank }} (#{{ old_rank }}), "
            "{{ page.gap_to_next }} → {{ page.next_title }}",
        )


@pytest.fixture
def cities(db):
    """Two events of one cause, Marseille ahead of Lyon; Lyon's host speaks
    French, Marseille's host English and its co-host French."""
    cause = CauseFactory()
    org = cause.organisation
    lyon = EventPageFactory(cause=cause, city="Lyon", title="Lyon pour l'eau")
    marseille = EventPageFactory(cause=cause, city="Marseille", title="Marseille pour l'eau")
    lyon.owner.locale = "fr"
    marseille.owner.locale = "en"
    cohost = AgentFactory(locale="fr")
    db.session.add(PageHost(page_id=marseille.id, agent_id=cohost.id))
    rank_templates(org)
    give(marseille, 50_00)
    give(lyon, 30_00)
    db.session.flush()
    return {"org": org, "cause": cause, "lyon": lyon, "marseille": marseille, "cohost": cohost}


T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_lyon_passing_marseille_tells_both_once_in_their_language(cities, db):
    lyon, marseille, cohost = cities["lyon"], cities["marseille"], cities["cohost"]
    assert automatic_jobs.rank_snapshots(T0) == 0
    give(lyon, 30_00, "again@example.org")  # Lyon 60 €, Marseille 50 €
    assert automatic_jobs.rank_snapshots(T0 + timedelta(minutes=5)) == 3

    (up,) = rows(Trigger.RANK_CHANGE)
    assert (up.agent_id, up.page_id) == (lyon.owner_id, lyon.id)
    assert up.subject == "Bravo, 1e" and up.body_text == "Bravo, 1e (#2) > Marseille"

    passed = {r.agent_id: r for r in rows(Trigger.RANK_PASSED)}
    assert set(passed) == {marseille.owner_id, cohost.id}
    assert {r.page_id for r in passed.values()} == {marseille.id}
    gap_en, gap_fr = format_money(10_00, "EUR", "en"), format_money(10_00, "EUR", "fr")
    assert passed[marseille.owner_id].subject == "Passed by Lyon"
    assert passed[marseille.owner_id].body_text == (
        f"Passed by Lyon: #2 (#1), {gap_en} → Lyon pour l'eau"
    )
    assert passed[cohost.id].body_text == f"Dépassé par Lyon: #2 (#1), {gap_fr} → Lyon pour l'eau"
    assert passed[marseille.owner_id].dedupe_key.startswith(
        f"rank_passed:events:page:{marseille.id}:at:"
    )

    # Run again: nothing moved, nothing new.
    assert automatic_jobs.rank_snapshots(T0 + timedelta(minutes=10)) == 0
    # The same snapshot taken twice (two runs racing): the dedupe keys hold.
    db.session.execute(RankSnapshot.__table__.delete().where(RankSnapshot.taken_at > T0))
    assert automatic_jobs.rank_snapshots(T0 + timedelta(minutes=5)) == 0
    assert len(rows(Trigger.RANK_CHANGE)) == 1 and len(rows(Trigger.RANK_PASSED)) == 2


def test_the_passed_message_turned_off_reaches_no_one_at_marseille(cities, client, login_as, db):
    org, lyon, marseille = cities["org"], cities["lyon"], cities["marseille"]
    staff = MembershipFactory(organisation=org).agent
    db.session.commit()
    login_as(staff)
    page = client.get(f"/staff/{org.slug}/broadcasts/automatic")
    assert "Passed on the leaderboard (to the page that was passed)" in page.text
    form = {f"{t}-enabled": "on" for t in automatic.AUTOMATIC if t != Trigger.RANK_PASSED}
    form.update({"nudge-inactive_days": "7", "daily_digest-days_before_end": "3"})
    form["daily_digest-hour"] = "9"
    assert client.post(f"/staff/{org.slug}/broadcasts/automatic", data=form).status_code == 302
    assert automatic.setting(org.id, Trigger.RANK_PASSED)[0] is False

    assert automatic_jobs.rank_snapshots(T0) == 0
    give(lyon, 30_00, "again@example.org")
    assert automatic_jobs.rank_snapshots(T0 + timedelta(minutes=5)) == 1
    assert [r.page_id for r in rows(Trigger.RANK_CHANGE)] == [lyon.id]
    assert rows(Trigger.RANK_PASSED) == []
    assert marseille.id not in {r.page_id for r in _db.session.scalars(select(OutboxMessage))}


def test_a_page_passed_by_two_hears_once_of_the_nearest(cities, db):
    cause, lyon, marseille = cities["cause"], cities["lyon"], cities["marseille"]
    nice = EventPageFactory(cause=cause, city="Nice", title="Nice pour l'eau")
    nice.owner.locale = "en"
    give(nice, 20_00)
    assert automatic_jobs.rank_snapshots(T0) == 0  # Marseille 50, Lyon 30, Nice 20
    give(lyon, 50_00, "lyon@example.org")  # 80: first
    give(nice, 40_00, "nice@example.org")  # 60: second
    automatic_jobs.rank_snapshots(T0 + timedelta(minutes=5))
    told = rows(Trigger.RANK_PASSED)
    assert [(r.page_id, r.agent_id) for r in told if r.agent_id == marseille.owner_id] == [
        (marseille.id, marseille.owner_id)
    ]
    assert {r.page_id for r in told} == {marseille.id}
    mine = next(r for r in told if r.agent_id == marseille.owner_id)
    gap = format_money(10_00, "EUR", "en")
    assert mine.body_text == f"Passed by Nice: #3 (#1), {gap} → Nice pour l'eau"
    movers = {r.page_id: r.body_text for r in rows(Trigger.RANK_CHANGE)}
    assert movers == {
        lyon.id: "Bravo, 1e (#2) > Marseille",
        nice.id: "Well done, #2 (#3) > Marseille",
    }


def entry(page_id, rank):
    return leaderboards.Entry(
        rank=rank,
        page_id=page_id,
        slug=f"p{page_id}",
        title=f"Page {page_id}",
        kind="event",
        city=f"City {page_id}",
        parent_id=None,
        raised_minor=0,
        donor_count=0,
    )


def test_rank_moves_name_the_nearest_and_never_tell_a_climber_it_was_passed():
    # Before: 3 first, 4 second, 1 third, 2 fourth. After: 2, 1, 3, 4.
    # Each climber names the page it passed that is now just below it.
    before = {3: 1, 4: 2, 1: 3, 2: 4}
    after = [entry(2, 1), entry(1, 2), entry(3, 3), entry(4, 4)]
    moved_up, passed = automatic_jobs.rank_moves(after, before)
    # 1 climbed (3 -> 2) though 2 went past it: it only hears it moved up.
    assert moved_up == {
        1: {"old_rank": 3, "passed": {"title": "Page 3", "city": "City 3"}},
        2: {"old_rank": 4, "passed": {"title": "Page 1", "city": "City 1"}},
    }
    # 3 and 4 were passed by 1 and 2: each hears of 1, now just above them.
    assert passed == {
        3: {"old_rank": 1, "passed_by": {"title": "Page 1", "city": "City 1"}},
        4: {"old_rank": 2, "passed_by": {"title": "Page 1", "city": "City 1"}},
    }
    assert automatic_jobs.rank_moves(after, {2: 1, 1: 2, 3: 3, 4: 4}) == ({}, {})


# --- text to copy is never sent ------------------------------------------------------


def test_a_copy_template_of_an_automatic_message_writes_no_outbox_row(db):
    cause = CauseFactory()
    org = cause.organisation
    make_template(org, trigger=Trigger.WELCOME, body="Bienvenue {{ agent.name }}")
    # Saved before such templates were refused at save time.
    make_template(org, trigger=Trigger.WELCOME, channel="copy", body="À copier")
    agent = AgentFactory()
    services.create_page(agent, cause, "personal", {"title": "Ma page", "status": "published"})
    assert [r.channel for r in rows(Trigger.WELCOME)] == ["email"]
    assert _db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "copy")) is None
    # And a trigger with only text to copy counts as having no template.
    make_template(org, trigger=Trigger.NUDGE, channel="copy", body="À copier")
    shown = {s["trigger"]: s["has_template"] for s in automatic.settings(org)}
    assert shown["welcome"] is True and shown["nudge"] is False


# --- badges announced ------------------------------------------------------------


def test_a_badge_is_announced_once_and_a_milestone_message_names_its_own(db):
    page = PageFactory(goal_minor=1_000_00)
    org = page.cause.organisation
    make_template(org, trigger=Trigger.BADGE, subject="{{ badge.title }}", body="{{ badge.code }}")
    make_template(
        org, trigger=Trigger.FIRST_GIFT, body="{% if badge %}{{ badge.title }}{% endif %}"
    )
    give(page, 1_00, "d0@example.org")
    # The first gift's badge is told by the first-gift message, not by a second mail.
    assert [r.body_text for r in rows(Trigger.FIRST_GIFT)] == ["Premier don"]
    assert rows(Trigger.BADGE) == []
    for n in range(1, 11):
        give(page, 1_00, f"d{n}@example.org")
    told = rows(Trigger.BADGE)
    assert [(r.subject, r.body_text) for r in told] == [("10 donateurs", "donors_10")]
    assert told[0].dedupe_key == f"badge:donors_10:page:{page.id}:agent:{page.owner_id}:email"
    give(page, 1_00, "d11@example.org")
    assert len(rows(Trigger.BADGE)) == 1


def test_a_badge_turned_off_is_neither_shown_nor_named(db):
    page = PageFactory(goal_minor=100_00)
    org = page.cause.organisation
    staff = MembershipFactory(organisation=org).agent
    from campaigns.badges import services as badges

    enabled = [kind.code for kind in badges.CATALOGUE if kind.code != "first_gift"]
    badges.save_settings(staff, org, enabled)
    make_template(
        org, trigger=Trigger.FIRST_GIFT, body="[{% if badge %}{{ badge.title }}{% endif %}]"
    )
    give(page, 1_00)
    assert [r.body_text for r in rows(Trigger.FIRST_GIFT)] == ["[]"]


def test_badges_given_to_older_data_are_not_announced(db):
    from campaigns.badges import services as badges
    from campaigns.badges.models import PageBadge

    page = PageFactory(goal_minor=100_00)
    make_template(page.cause.organisation, trigger=Trigger.BADGE, body="{{ badge.code }}")
    give(page, 1_00)
    _db.session.execute(PageBadge.__table__.delete())
    # The receivers only saw the first gift; the board's top 10 comes from the backfill.
    assert badges.award_all() >= 1
    assert rows(Trigger.BADGE) == []


def test_the_badge_message_speaks_the_agents_language(db):
    page = PageFactory(goal_minor=1_000_00)
    page.owner.locale = "en"
    org = page.cause.organisation
    make_template(org, trigger=Trigger.BADGE, locale="en", body="{{ badge.title }}")
    for n in range(10):
        give(page, 1_00, f"d{n}@example.org")
    assert [r.body_text for r in rows(Trigger.BADGE)] == ["10 donors"]
