"""The staff directory of an organisation's free agents: who has pages under
its causes, what those raised (real figures), found by name or city."""

from __future__ import annotations

import re

from agents.models import Profile
from campaigns.giving import ledger
from campaigns.pages.models import PageStatus
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    OrganisationFactory,
    PageFactory,
)


def names(html: str) -> list[str]:
    table = html[html.index('id="agent-directory"') :] if 'id="agent-directory"' in html else ""
    return re.findall(r'<th scope="row">([^<]+)', table)


def test_staff_see_their_agents_most_raised_first(client, db, cause, staffer, as_agent):
    elodie = AgentFactory(name="Élodie Durand")
    sam = AgentFactory(name="Sam Petit")
    quiet = AgentFactory(name="Quiet Drafter")
    gone = AgentFactory(name="")
    stranger = AgentFactory(name="Somebody Else")
    event = EventPageFactory(cause=cause, owner=elodie, city="Orléans")
    page = PageFactory(cause=cause, owner=sam, parent=event)
    PageFactory(cause=cause, owner=quiet, status=PageStatus.DRAFT)
    PageFactory(cause=cause, owner=gone)
    PageFactory(cause=CauseFactory(organisation=OrganisationFactory(slug="autre")), owner=stranger)
    ledger.record_gift(page=page, cause=cause, amount_minor=90_00, donor_email="a@example.org")
    ledger.record_gift(page=event, cause=cause, amount_minor=20_00, donor_email="b@example.org")
    db.session.add(Profile(agent_id=sam.id, handle="sam", is_public=True))
    from agents import services as agent_services

    agent_services.delete_account(gone)
    as_agent(staffer)

    response = client.get("/staff/eau-vive/agents")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert names(html) == ["Sam Petit", "Élodie Durand", "Quiet Drafter"]
    sam_row = html[html.index(f'data-agent="{sam.id}"') :]
    assert "€90" in sam_row[: sam_row.index("</tr>")]
    assert 'href="/agents/sam"' in sam_row[: sam_row.index("</tr>")]
    assert "Somebody Else" not in html
    assert "Free agents" in html  # in the staff menu


def test_find_by_name_or_city_accents_and_case_ignored(client, db, cause, staffer, as_agent):
    elodie = AgentFactory(name="Élodie Durand")
    sam = AgentFactory(name="Sam Petit")
    event = EventPageFactory(cause=cause, owner=elodie, city="Orléans")
    PageFactory(cause=cause, owner=sam, parent=event)
    PageFactory(cause=cause, owner=AgentFactory(name="Lou Brest"))
    as_agent(staffer)

    def found(**args) -> list[str]:
        return names(client.get("/staff/eau-vive/agents", query_string=args).get_data(as_text=True))

    assert found(q="elodie") == ["Élodie Durand"]
    assert found(q="PETIT") == ["Sam Petit"]
    # A member page has no city of its own: its event's counts.
    assert sorted(found(city="orleans")) == ["Sam Petit", "Élodie Durand"]
    assert found(q="sam", city="orleans") == ["Sam Petit"]
    assert found(q="nobody") == []
    assert len(found(q="-")) == 3  # punctuation alone filters nothing
    assert found(q="S%t") == []  # a wildcard is a character, not "anything"


def test_only_staff_of_the_organisation(client, db, cause, outsider, as_agent):
    assert client.get("/staff/eau-vive/agents").status_code in (302, 401)
    as_agent(outsider)
    assert client.get("/staff/eau-vive/agents").status_code == 403


def test_the_directory_is_paged(client, db, cause, staffer, as_agent):
    for n in range(27):
        PageFactory(cause=cause, owner=AgentFactory(name=f"Agent {n:02}"))
    as_agent(staffer)
    first = client.get("/staff/eau-vive/agents").get_data(as_text=True)
    second = client.get("/staff/eau-vive/agents?page=2").get_data(as_text=True)
    assert len(names(first)) == 25 and len(names(second)) == 2
    assert "27 free agents" in first
    assert not set(names(first)) & set(names(second))
