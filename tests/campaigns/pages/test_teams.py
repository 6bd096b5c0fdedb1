"""Teams in the web UI: a team page made from the form, members joining with
their own pages, its total rolled up like an event's, its own board."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.giving import ledger
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures_one
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
