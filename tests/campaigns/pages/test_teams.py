"""Teams in the web UI: a team page made from the form, members joining with
their own pages, its total rolled up like an event's, its own board."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from campaigns.errors import ValidationError
from campaigns.giving import ledger
from campaigns.pages import services as page_services
from campaigns.pages.models import Page, PageKind, PageStatus, TeamJoinRequest
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures_one
from messaging.outbox.models import OutboxMessage
from tests.factories import AgentFactory, PageFactory


def test_an_agent_creates_a_team_and_a_friend_joins_it(client, db, cause, as_agent):
    captain = as_agent(AgentFactory(name="Ada"))
    form = client.get(f"/c/{cause.slug}/pages/new").get_data(as_text=True)
    assert 'value="team"' in form
    response = client.post(
        f"/c/{cause.slug}/pages/new",
        data={
            "kind": "team",
            "title": "The Lyon runners",
            "slug": "",
            "goal": "800",
            "city": "Lyon",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    team = db.session.scalars(select(Page).where(Page.title == "The Lyon runners")).one()
    assert team.kind == PageKind.TEAM and team.city == "Lyon" and team.starts_at is None
    assert team.owner_id == captain.id
    team.status = PageStatus.PUBLISHED
    friend_page = PageFactory(cause=cause, title="Bea runs", owner=AgentFactory(name="Bea"))
    db.session.commit()

    as_agent(friend_page.owner)
    shown = client.get(f"/p/{team.slug}").get_data(as_text=True)
    assert "Team led by Ada" in shown
    assert client.post(f"/p/{team.slug}/join", data={"page": friend_page.slug}).status_code == 302
    db.session.refresh(friend_page)
    assert friend_page.parent_id is None  # the captain says yes first
    assert "Waiting for the captain" in client.get(f"/p/{team.slug}").get_data(as_text=True)

    as_agent(captain)
    screen = client.get(f"/p/{team.slug}/members").get_data(as_text=True)
    assert "Bea runs" in screen
    request = db.session.scalars(select(TeamJoinRequest)).one()
    approved = client.post(f"/p/{team.slug}/members/{request.id}", data={"decision": "approve"})
    assert approved.status_code == 302
    db.session.refresh(friend_page)
    assert friend_page.parent_id == team.id

    # The team counts its members' gifts, as an event does.
    ledger.record_gift(page=friend_page, cause=cause, amount_minor=30_00, donor_email="d@x.org")
    ledger.record_gift(page=team, cause=cause, amount_minor=5_00, donor_email="e@x.org")
    db.session.commit()
    assert figures_one(TotalScope.EVENT, team.id).raised_minor == 35_00

    board = client.get(f"/c/{cause.slug}/leaderboard").get_data(as_text=True)
    teams = board[board.index('id="board-teams"') :]
    assert "The Lyon runners" in teams and "1 member page" in teams
    assert "Bea runs" not in teams


def test_a_kind_that_does_not_exist_is_refused(client, db, cause, as_agent):
    as_agent(AgentFactory())
    response = client.post(
        f"/c/{cause.slug}/pages/new", data={"kind": "league", "title": "Odd", "goal": "10"}
    )
    assert response.status_code == 422
    assert db.session.scalar(select(Page).where(Page.title == "Odd")) is None


def team_and_friend(cause):
    team = PageFactory(cause=cause, kind=PageKind.TEAM, slug="runners", title="The runners")
    friend = PageFactory(cause=cause, slug="bea-runs", title="Bea runs")
    return team, friend


def test_a_captain_declines_and_the_page_may_ask_again(client, db, cause, as_agent):
    team, friend = team_and_friend(cause)
    as_agent(friend.owner)
    client.post("/p/runners/join", data={"page": "bea-runs"})
    request = db.session.scalars(select(TeamJoinRequest)).one()

    as_agent(friend.owner)  # not the captain: no screen, no decision
    assert client.get("/p/runners/members").status_code == 403
    assert (
        client.post(f"/p/runners/members/{request.id}", data={"decision": "approve"}).status_code
        == 403
    )

    as_agent(team.owner)
    client.post(f"/p/runners/members/{request.id}", data={"decision": "decline"})
    db.session.refresh(request)
    db.session.refresh(friend)
    assert request.status == "declined" and friend.parent_id is None
    again = client.post(f"/p/runners/members/{request.id}", data={"decision": "approve"})
    assert again.status_code == 302  # answered already: said, nothing changes
    db.session.refresh(friend)
    assert friend.parent_id is None

    as_agent(friend.owner)
    client.post("/p/runners/join", data={"page": "bea-runs"})
    db.session.refresh(request)
    assert request.status == "pending"


def test_the_invitation_link_lets_a_member_in_at_once(client, db, cause, as_agent):
    team, friend = team_and_friend(cause)
    as_agent(team.owner)
    screen = client.get("/p/runners/members").get_data(as_text=True)
    link = re.search(r'id="team-invite-link" type="text" readonly value="([^"]+)"', screen).group(1)
    path = link.removeprefix("http://localhost")
    assert path.startswith("/p/runners/join/")

    as_agent(friend.owner)
    assert "Join the team" in client.get(path).get_data(as_text=True)
    assert client.post(path, data={"page": "bea-runs"}).status_code == 302
    db.session.refresh(friend)
    assert friend.parent_id == team.id
    assert client.get(path[:-3] + "xyz").status_code == 404  # a forged link

    other = PageFactory(cause=cause, kind=PageKind.TEAM, slug="others")
    db.session.commit()
    assert client.get(path.replace("/p/runners/", f"/p/{other.slug}/")).status_code == 404


def test_an_invitation_by_email_is_queued_once_and_bad_addresses_refused(
    client, db, cause, as_agent
):
    team, _friend = team_and_friend(cause)
    as_agent(team.owner)
    bad = client.post("/p/runners/members/invite", data={"email": "not-an-address"})
    assert bad.status_code == 422
    assert "Enter a valid email address." in bad.get_data(as_text=True)
    for _ in range(2):
        assert (
            client.post("/p/runners/members/invite", data={"email": "Cleo@Example.org"}).status_code
            == 302
        )
    mails = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.trigger == "team_invite")
    ).all()
    assert [m.recipient for m in mails] == ["cleo@example.org"]
    assert "/p/runners/join/" in mails[0].body_text


def test_the_api_cannot_skip_the_captain(client, db, cause):
    team, friend = team_and_friend(cause)
    db.session.commit()
    with force_locale("en"), pytest.raises(ValidationError) as refused:
        page_services.join_event(friend.owner, friend, team)
    assert "captain" in str(refused.value.errors["event"])
    # An event still takes pages at once; a captain's own page joins their team at once.
    mine = PageFactory(cause=cause, owner=team.owner)
    page_services.join_event(team.owner, mine, team)
    assert mine.parent_id == team.id


def test_joining_a_team_through_the_api_asks_its_captain(client, db, cause):
    from agents.services import create_token

    team, friend = team_and_friend(cause)
    _, clear = create_token(friend.owner)
    db.session.commit()
    headers = {"Authorization": f"Bearer {clear}"}
    response = client.post("/api/v1/pages/runners/join", json={"page": "bea-runs"}, headers=headers)
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"team": "runners", "page": "bea-runs", "status": "pending"}
    db.session.expire_all()
    assert db.session.get(Page, friend.id).parent_id is None  # not in the team yet
    request = db.session.scalars(select(TeamJoinRequest)).one()
    assert request.page_id == friend.id and request.team_id == team.id
    # Asking twice keeps one request.
    again = client.post("/api/v1/pages/runners/join", json={"page": "bea-runs"}, headers=headers)
    assert again.status_code == 202
    assert len(db.session.scalars(select(TeamJoinRequest)).all()) == 1
