""" "Hide my amount" holds on a single-donor page: the page, its event, the API,
the leaderboards and the live stream show the total rounded, or not at all
until a second donor gives, as the organisation chose."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agents.models import MembershipRole
from campaigns.errors import ValidationError
from campaigns.giving import discretion, ledger
from campaigns.giving.models import PendingGift
from campaigns.organisations import services as org_services
from campaigns.standings import leaderboards, snapshots
from messaging.automatic.jobs import rank_snapshots
from messaging.automatic.models import RankSnapshot
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)

SECRET = 77_700  # €777.00
TOLD = ("€777", "77700", "777.00", "777 €", "777,00")  # how a page, JSON or CSV would say it


@pytest.fixture(autouse=True)
def english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"


@pytest.fixture
def world(db):
    org = OrganisationFactory(currency="EUR")
    cause = CauseFactory(organisation=org, slug="water")
    event = EventPageFactory(cause=cause, slug="lyon-night", city="Lyon")
    page = PageFactory(cause=cause, parent=event, slug="modest", title="Modest page")
    return {"org": org, "cause": cause, "event": event, "page": page}


def gift(db, page, amount_minor: int, email: str, *, hidden: bool):
    pending = PendingGift(
        reference=uuid.uuid4().hex[:20],
        organisation_id=page.cause.organisation_id,
        cause_id=page.cause_id,
        page_id=page.id,
        amount_minor=amount_minor,
        currency="EUR",
        donor_email=email,
        is_amount_hidden=hidden,
    )
    db.session.add(pending)
    db.session.flush()
    ledger.record_gift(
        page=page,
        cause=page.cause,
        amount_minor=amount_minor,
        donor_email=email,
        extra={"pending_gift_id": pending.id},
    )


def public_texts(client, world) -> dict[str, str]:
    """Every public reader of the page's raised amount."""
    return {
        "page": client.get("/p/modest").get_data(as_text=True),
        "event": client.get("/p/lyon-night").get_data(as_text=True),
        "cause": client.get("/c/water").get_data(as_text=True),
        "leaderboard": client.get("/c/water/leaderboard").get_data(as_text=True),
        "api page": client.get("/api/v1/pages/modest").get_data(as_text=True),
        "api event": client.get("/api/v1/pages/lyon-night").get_data(as_text=True),
        "api board": client.get("/api/v1/causes/water/leaderboard").get_data(as_text=True),
        "api events": client.get("/api/v1/causes/water/leaderboard?board=events").get_data(
            as_text=True
        ),
        "live": str(snapshots.snapshot(world["cause"].id).message()),
        "api organisation": client.get(f"/api/v1/organisations/{world['org'].slug}").get_data(
            as_text=True
        ),
        **{
            f"open {name}": client.get(f"/open/{name}").get_data(as_text=True)
            for name in ("organisations.json", "causes.csv", "pages.json", "leaderboards.csv")
        },
    }


def test_a_single_hidden_gift_is_rounded_everywhere_by_default(client, db, world):
    world["org"].open_data_k_floor = 1  # open data's own floor would hide it otherwise
    gift(db, world["page"], SECRET, "modest@example.org", hidden=True)
    db.session.commit()
    for name, text in public_texts(client, world).items():
        assert not any(told in text for told in TOLD), name
    assert "€800" in client.get("/p/modest").get_data(as_text=True)
    api = client.get("/api/v1/pages/modest").get_json()
    assert api["raised"]["amount_minor"] == 80_000
    assert ",80000," in client.get("/open/causes.csv").get_data(as_text=True)


def test_the_organisation_can_hide_it_until_a_second_donor(client, db, world):
    world["org"].hidden_gift_total = discretion.HIDDEN
    gift(db, world["page"], SECRET, "modest@example.org", hidden=True)
    db.session.commit()
    texts = public_texts(client, world)
    for name, text in texts.items():
        assert not any(told in text for told in (*TOLD, "€800", "80000", "800.00")), name
    assert "The amount raised shows from the second donor" in texts["page"]
    assert client.get("/api/v1/pages/modest").get_json()["raised"]["amount_minor"] is None

    gift(db, world["page"], 2_500, "second@example.org", hidden=False)
    db.session.commit()
    assert "€802" in client.get("/p/modest").get_data(as_text=True)
    assert client.get("/api/v1/pages/modest").get_json()["raised"]["amount_minor"] == 80_200


def test_a_single_visible_gift_shows_as_it_is(client, db, world):
    gift(db, world["page"], SECRET, "proud@example.org", hidden=False)
    db.session.commit()
    assert "€777" in client.get("/p/modest").get_data(as_text=True)
    assert client.get("/api/v1/pages/modest").get_json()["raised"]["amount_minor"] == SECRET


@pytest.mark.parametrize(
    ("minor", "shown"), [(77_700, 80_000), (2_500, 3_000), (500, 1_000), (150_000, 200_000)]
)
def test_rounding_keeps_one_significant_figure_and_at_least_ten(minor, shown):
    assert discretion.rounded(minor, "EUR") == shown


def test_the_choice_is_an_organisation_setting_checked_on_save(db, world):
    admin = MembershipFactory(organisation=world["org"], role=MembershipRole.ADMIN).agent
    org_services.save_organisation(admin, world["org"], {"hidden_gift_total": "hidden"})
    assert world["org"].hidden_gift_total == discretion.HIDDEN
    with pytest.raises(ValidationError) as refused:
        org_services.save_organisation(admin, world["org"], {"hidden_gift_total": "shown"})
    assert set(refused.value.errors) == {"hidden_gift_total"}


def test_messages_and_rank_snapshots_keep_the_real_figures(db, world):
    world["org"].hidden_gift_total = discretion.HIDDEN
    gift(db, world["page"], SECRET, "modest@example.org", hidden=True)
    db.session.flush()
    cause_id = world["cause"].id
    assert [e.raised_minor for e in leaderboards.public_board(cause_id)] == [None]
    assert leaderboards.public_rank_of(world["page"]).raised_minor is None
    assert [e.raised_minor for e in leaderboards.board(cause_id)] == [SECRET]
    rank_snapshots()  # the scheduler's job stores real amounts, never None
    stored = select(RankSnapshot.raised_minor).where(RankSnapshot.page_id == world["page"].id)
    assert db.session.scalars(stored).all() == [SECRET]
