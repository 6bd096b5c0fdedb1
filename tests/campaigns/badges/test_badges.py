"""Achievement badges: earned from the facts (gifts, donors, goal, board,
share links, events), awarded once, shown on the page in fr and en, in the
API, hidden with a hidden amount, chosen per organisation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from campaigns.badges import services as badges
from campaigns.badges.models import BadgeSetting, PageBadge
from campaigns.giving import ledger
from campaigns.pages import services as page_services
from campaigns.pages.models import PageStatus
from campaigns.totals.services import Figures
from messaging.sharing import services as sharing
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    OrganisationFactory,
    PageFactory,
    refund_row,
)


@pytest.fixture
def demo(app, monkeypatch):
    """No Stripe keys: the demo's test payment runs the real event through the real code."""
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")


@pytest.fixture
def org(db):
    return OrganisationFactory(slug="eau-vive", name="Eau Vive", min_amount_minor=100)


@pytest.fixture
def page(db, cause):
    return PageFactory(cause=cause, slug="lyon-runs", title="Lyon runs", goal_minor=100_00)


def codes(db, page) -> list[str]:
    return sorted(db.session.scalars(select(PageBadge.code).where(PageBadge.page_id == page.id)))


def gift(page, amount_minor: int, email: str, **extra):
    return ledger.record_gift(
        page=page, cause=page.cause, amount_minor=amount_minor, donor_email=email, **extra
    )


def pay(client, page, amount: str, email: str, share: str = "") -> None:
    """A donor gives through the give form and the demo's test payment."""
    response = client.post(
        f"/p/{page.slug}/give",
        data={
            "amount": "other",
            "other_amount": amount,
            "donor_name": "Ada",
            "donor_email": email,
            "share": share,
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    reference = response.headers["Location"].split("/")[2]
    assert client.post(f"/give/{reference}/test-payment").status_code == 303


def badge_codes(html: str) -> list[str]:
    return re.findall(r'data-badge="([a-z_0-9]+)"', html)


# --- the rules ------------------------------------------------------------------


def facts(**kw) -> badges.Facts:
    defaults = {"is_event": False, "goal_minor": 100_00, "figures": Figures()}
    return badges.Facts(**{**defaults, **kw})


def test_the_rules_read_the_facts():
    assert badges.earned(facts()) == set()
    assert badges.earned(facts(figures=Figures(10_00, 1, 1))) == {"first_gift"}
    assert badges.earned(facts(figures=Figures(25_00, 1, 1))) == {"first_gift", "goal_25"}
    assert badges.earned(facts(figures=Figures(150_00, 2, 2))) >= {
        "goal_50",
        "goal_100",
        "goal_exceeded",
    }
    assert "goal_exceeded" not in badges.earned(facts(figures=Figures(149_99, 2, 2)))
    assert badges.earned(facts(goal_minor=0, figures=Figures(1_000_00, 1, 1))) == {"first_gift"}
    assert "donors_10" in badges.earned(facts(figures=Figures(10_00, 10, 10)))
    assert "donors_10" not in badges.earned(facts(figures=Figures(10_00, 12, 9)))
    assert "top_10" in badges.earned(facts(rank=10))
    assert "top_10" not in badges.earned(facts(rank=11))
    assert "first_in_city" in badges.earned(facts(city_rank=1))
    assert "first_in_city" not in badges.earned(facts(city_rank=2))
    assert badges.earned(facts(has_parent=True)) == {"team_player"}
    assert badges.earned(facts(is_event=True, has_members=True)) == {"event_host"}
    assert badges.earned(facts(share_brought_gift=True)) == {"share_brought_gift"}


# --- awarded by the facts moving, once -------------------------------------------


def test_gifts_earn_badges_once_and_a_refund_takes_none_back(db, page):
    first = gift(page, 30_00, "a@example.org")
    assert codes(db, page) == ["first_gift", "goal_25"]
    gift(page, 30_00, "b@example.org")
    assert codes(db, page) == ["first_gift", "goal_25", "goal_50"]
    refund_row(first, 30_00, first.created_at)
    gift(page, 10_00, "c@example.org")
    assert codes(db, page) == ["first_gift", "goal_25", "goal_50"]
    assert badges.award(page) == []  # nothing new: no second row
    assert db.session.scalar(select(func.count()).select_from(PageBadge)) == 3


def test_an_events_badges_count_its_members_gifts(db, cause):
    event = EventPageFactory(cause=cause, goal_minor=40_00)
    member = PageFactory(cause=cause, goal_minor=1_000_00)
    page_services.join_event(member.owner, member, event)
    assert codes(db, member) == ["team_player"]
    assert codes(db, event) == ["event_host"]
    gift(member, 20_00, "a@example.org")
    assert codes(db, event) == ["event_host", "first_gift", "goal_25", "goal_50"]
    assert codes(db, member) == ["first_gift", "team_player"]


def test_ten_donors(db, page):
    page.goal_minor = 0
    for n in range(9):
        gift(page, 1_00, f"donor{n}@example.org")
    gift(page, 1_00, "donor0@example.org")  # the same donor again
    assert "donors_10" not in codes(db, page)
    gift(page, 1_00, "donor9@example.org")
    assert "donors_10" in codes(db, page)


def test_top_10_only_on_a_board_of_more_than_ten(db, cause):
    pages = [PageFactory(cause=cause, goal_minor=0) for _ in range(10)]
    for n, p in enumerate(pages):
        gift(p, (n + 1) * 10_00, f"d{n}@example.org")
    assert all("top_10" not in codes(db, p) for p in pages)  # everyone is in the top 10
    late = PageFactory(cause=cause, goal_minor=0)
    gift(late, 1_00, "late@example.org")
    assert "top_10" not in codes(db, late)  # 11th of 11
    gift(late, 100_00, "late2@example.org")
    assert "top_10" in codes(db, late)


def test_first_in_its_city_once_it_leads_the_pages_of_its_city(db, cause):
    lyon = PageFactory(cause=cause, goal_minor=0, city="Lyon")
    gift(lyon, 10_00, "a@example.org")
    assert "first_in_city" not in codes(db, lyon)  # alone in Lyon: first of one means nothing
    other = PageFactory(cause=cause, goal_minor=0, city="lyon")  # case and accents ignored
    marseille = PageFactory(cause=cause, goal_minor=0, city="Marseille")
    gift(marseille, 90_00, "m@example.org")
    gift(other, 5_00, "b@example.org")
    assert "first_in_city" not in codes(db, other)  # second in Lyon
    assert "first_in_city" not in codes(db, marseille)  # alone in Marseille
    gift(other, 20_00, "c@example.org")  # 25 € against Lyon's 10 €; Marseille does not count
    assert "first_in_city" in codes(db, other)
    nowhere = PageFactory(cause=cause, goal_minor=0, city="")
    gift(nowhere, 1_00, "d@example.org")
    assert "first_in_city" not in codes(db, nowhere)


def test_a_gift_through_a_share_link(client, db, page, demo):
    link = sharing.link_for(page.owner, page, "x")
    db.session.commit()
    pay(client, page, "5", "a@example.org")
    assert "share_brought_gift" not in codes(db, page)
    pay(client, page, "5", "b@example.org", share=link.code)
    assert "share_brought_gift" in codes(db, page)


def test_older_data_gets_its_badges_from_the_command(runner, db, page):
    db.session.add(page)
    gift(page, 60_00, "a@example.org")
    db.session.execute(PageBadge.__table__.delete())
    db.session.commit()
    result = runner.invoke(args=["badges", "award"])
    assert result.exit_code == 0, result.output
    assert "3" in result.output
    assert codes(db, page) == ["first_gift", "goal_25", "goal_50"]


# --- shown on the page, in the API ------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", ["First gift", "Halfway there"]), ("fr", ["Premier don", "À mi-chemin"])],
)
def test_badges_appear_on_the_page_after_the_gifts_that_earn_them(
    client, db, page, demo, language, words
):
    db.session.commit()
    client.get(f"/lang/{language}")
    assert badge_codes(client.get("/p/lyon-runs").get_data(as_text=True)) == []
    pay(client, page, "20", "a@example.org")
    pay(client, page, "40", "b@example.org")
    html = client.get("/p/lyon-runs").get_data(as_text=True)
    assert badge_codes(html) == ["first_gift", "goal_25", "goal_50"]
    for word in words:
        assert word in html


def test_the_api_page_shape_lists_the_badges(client, db, page):
    gift(page, 50_00, "a@example.org")
    gift(page, 1_00, "b@example.org")
    db.session.commit()
    body = client.get("/api/v1/pages/lyon-runs").get_json()
    assert [b["code"] for b in body["badges"]] == ["first_gift", "goal_25", "goal_50"]
    assert body["badges"][0]["title"] == "First gift"
    assert body["badges"][0]["awarded_at"]
    listed = client.get(f"/api/v1/causes/{page.cause.slug}/pages").get_json()
    assert [b["code"] for b in listed["pages"][0]["badges"]] == [
        "first_gift",
        "goal_25",
        "goal_50",
    ]
    found = client.get("/api/v1/pages?q=lyon").get_json()
    assert len(found["pages"][0]["badges"]) == 3


def test_a_hidden_amount_hides_the_badges_that_would_tell_it(client, db, page, demo, org):
    org.hidden_gift_total = "hidden"
    db.session.commit()
    response = client.post(
        "/p/lyon-runs/give",
        data={
            "amount": "other",
            "other_amount": "60",
            "donor_email": "shy@example.org",
            "is_amount_hidden": "y",
        },
    )
    reference = response.headers["Location"].split("/")[2]
    client.post(f"/give/{reference}/test-payment")
    assert codes(db, page) == ["first_gift", "goal_25", "goal_50"]
    assert badge_codes(client.get("/p/lyon-runs").get_data(as_text=True)) == ["first_gift"]
    api = client.get("/api/v1/pages/lyon-runs").get_json()
    assert [b["code"] for b in api["badges"]] == ["first_gift"]
    pay(client, page, "1", "second@example.org")  # a second donor: the total shows
    assert badge_codes(client.get("/p/lyon-runs").get_data(as_text=True)) == [
        "first_gift",
        "goal_25",
        "goal_50",
    ]


def test_a_draft_page_shows_no_badges_even_to_its_owner(client, db, cause, as_agent):
    page = PageFactory(cause=cause, slug="quiet", status=PageStatus.DRAFT)
    db.session.flush()
    db.session.add(PageBadge(page_id=page.id, code="team_player"))
    as_agent(page.owner)
    response = client.get("/p/quiet")
    assert response.status_code == 200
    assert badge_codes(response.get_data(as_text=True)) == []


# --- chosen per organisation ------------------------------------------------------


def test_staff_turn_a_badge_off_and_it_is_neither_given_nor_shown(
    client, db, page, staffer, as_agent
):
    as_agent(staffer)
    screen = client.get("/staff/eau-vive/badges/")
    assert screen.status_code == 200
    assert 'value="first_gift"' in screen.get_data(as_text=True)
    everything_but_first = [k.code for k in badges.CATALOGUE if k.code != "first_gift"]
    saved = client.post("/staff/eau-vive/badges/", data={"enabled": everything_but_first})
    assert saved.status_code == 302
    gift(page, 60_00, "a@example.org")
    assert codes(db, page) == ["goal_25", "goal_50"]
    db.session.commit()
    assert badge_codes(client.get("/p/lyon-runs").get_data(as_text=True)) == ["goal_25", "goal_50"]


def test_an_unknown_badge_is_refused_and_changes_nothing(client, db, page, staffer, as_agent):
    as_agent(staffer)
    response = client.post("/staff/eau-vive/badges/", data={"enabled": ["first_gift", "nope"]})
    assert response.status_code == 422
    assert "Choose badges from the list." in response.get_data(as_text=True)
    assert all(on for _kind, on in badges.settings(page.cause.organisation))


def test_only_staff_choose_badges(client, db, page, outsider, as_agent):
    as_agent(outsider)
    assert client.get("/staff/eau-vive/badges/").status_code == 403
    assert client.post("/staff/eau-vive/badges/", data={"enabled": []}).status_code == 403


def test_another_organisations_settings_do_not_apply(db):
    mine = CauseFactory(organisation=OrganisationFactory(slug="mine"))
    page = PageFactory(cause=mine)
    other = OrganisationFactory(slug="other")
    db.session.flush()
    db.session.add(BadgeSetting(organisation_id=other.id, code="first_gift", is_enabled=False))
    gift(page, 1_00, "a@example.org")
    assert "first_gift" in codes(db, page)


def test_news_from_the_field_earns_the_reporter_badge_once(db, page):
    from campaigns.news import services as news

    page.status = PageStatus.PUBLISHED
    db.session.flush()
    assert "news_posted" not in codes(db, page)
    for n in range(2):
        news.post(page.owner, {"title": f"Day {n}", "body": "We dug the well."}, page=page)
    assert codes(db, page).count("news_posted") == 1
