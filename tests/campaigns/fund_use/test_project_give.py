"""A project page leads the donor to a give form with the project chosen."""

from __future__ import annotations

import re

import pytest

from tests.factories import PageFactory, ProjectFactory


@pytest.fixture(autouse=True)
def english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"


def test_give_to_this_project_opens_a_give_form_with_the_project_chosen(db, client, cause):
    ProjectFactory(cause=cause, slug="well-34", name="Well #34", position=1)
    ProjectFactory(cause=cause, slug="school", name="School roof", position=2)
    PageFactory(cause=cause, slug="lyon-runs", title="Lyon runs")
    db.session.commit()

    body = client.get(f"/c/{cause.slug}/projects/well-34").get_data(as_text=True)
    link = re.search(r'<a class="button" href="([^"]+)">Give to this project</a>', body)
    assert link, body
    # No page is chosen for the donor (that would tilt the leaderboard): the
    # button lists the cause's pages, each linking to its form with the project.
    choose = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "choose the one you want to support" in choose
    href = re.search(r'href="(/p/lyon-runs[^"]*)"', choose).group(1).replace("&amp;", "&")
    assert href.endswith("#give") and "project=well-34" in href

    form = client.get(href.split("#")[0]).get_data(as_text=True)
    chosen = re.findall(r'<input[^>]*name="project"[^>]*>', form)
    checked = [tag for tag in chosen if "checked" in tag]
    assert len(checked) == 1 and 'value="well-34"' in checked[0]


def test_an_unknown_project_in_the_link_chooses_none(db, client, cause):
    ProjectFactory(cause=cause, slug="well-34", name="Well #34", position=1)
    PageFactory(cause=cause, slug="lyon-runs", title="Lyon runs")
    db.session.commit()

    form = client.get("/p/lyon-runs?project=nope").get_data(as_text=True)
    checked = [t for t in re.findall(r'<input[^>]*name="project"[^>]*>', form) if "checked" in t]
    assert len(checked) == 1 and 'value=""' in checked[0]
