"""Leagues across organisations: the board ranks entrants by what donors gave
in the window (refunds in it subtract), donors breaking ties, or by unique
donors; window edges; the public board, its JSON, open data and the CLI."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from campaigns.errors import ValidationError
from campaigns.giving.payments import process_event
from campaigns.leagues import services
from campaigns.leagues.models import Contest
from campaigns.totals import services as totals
from tests import stripe_objects as so
from tests.campaigns.matching.test_matching import make_match, wall
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

# On a minute: the window is typed to the minute.
START = int(time.time()) // 60 * 60 - 3600
END = START + 7200


@pytest.fixture
def three(db):
    """Three organisations, each a cause and a page."""
    out = []
    for slug in ("alpha", "beta", "gamma"):
        org = OrganisationFactory(slug=slug, name=slug.title(), open_data_k_floor=1)
        cause = CauseFactory(organisation=org, slug=f"{slug}-cause")
        out.append((org, cause, PageFactory(cause=cause)))
    return out


def league(rule="raised", entrants=("alpha", "beta", "gamma"), **more):
    return services.create_contest(
        {
            "slug": "night",
            "title": "Giving night",
            "rule": rule,
            "starts_at": wall(datetime.fromtimestamp(START, UTC)),
            "ends_at": wall(datetime.fromtimestamp(END, UTC)),
            "entrants": list(entrants),
            **more,
        }
    )


def give(entrant, amount, *, at, email):
    _org, cause, page = entrant
    session = so.checkout_session(amount=amount, page=page.slug, cause=cause.slug, email=email)
    assert process_event(so.event(session, "checkout.session.completed", created=at)) == "recorded"
    return session


def refund(session, cumulative):
    charge = so.charge(
        payment_intent_id=session["payment_intent"],
        amount=session["amount_total"],
        amount_refunded=cumulative,
        charge_id=f"ch_{session['payment_intent']}",
    )
    process_event(so.event(charge, "charge.refunded"))


def names(contest):
    return [
        (s.rank, s.organisation.slug, s.raised_minor, s.donor_count)
        for s in services.board(contest)
    ]


def test_ranked_by_raised_in_the_window_donors_breaking_ties(db, three):
    alpha, beta, gamma = three
    contest = league()
    give(alpha, 3000, at=START + 10, email="a1@example.org")
    give(beta, 1500, at=START + 10, email="b1@example.org")
    give(beta, 1500, at=START + 20, email="b2@example.org")  # same amount, two donors
    give(gamma, 9000, at=START - 1, email="g1@example.org")  # before the window
    give(gamma, 9000, at=END, email="g2@example.org")  # the end is outside
    give(gamma, 500, at=START, email="g3@example.org")  # the start is inside
    assert names(contest) == [
        (1, "beta", 3000, 2),
        (2, "alpha", 3000, 1),
        (3, "gamma", 500, 1),
    ]
    assert totals.drift() == []


def test_refunds_in_the_window_subtract_and_matches_do_not_count(db, three):
    alpha, beta, _gamma = three
    contest = league(entrants=("alpha", "beta"))
    make_match(alpha[0], alpha[1], cap=100_000)  # the sponsor's money is no donor's gift
    session = give(alpha, 4000, at=int(time.time()), email="a@example.org")
    give(beta, 3000, at=int(time.time()), email="b@example.org")
    assert names(contest)[0][1] == "alpha"
    refund(session, 2000)  # recorded now: inside the window
    assert names(contest) == [(1, "beta", 3000, 1), (2, "alpha", 2000, 1)]


def test_by_unique_donors_and_an_exact_tie_shares_its_rank(db, three):
    alpha, beta, gamma = three
    contest = league(rule="donors")
    for n in range(3):
        give(alpha, 100, at=START + n, email=f"a{n}@example.org")
    give(beta, 5000, at=START + 5, email="b@example.org")
    give(beta, 5000, at=START + 6, email="b@example.org")  # one donor twice
    give(gamma, 10000, at=START + 7, email="g@example.org")  # one donor, the same amount
    board = names(contest)
    assert board[0] == (1, "alpha", 300, 3)
    assert {board[1][1], board[2][1]} == {"beta", "gamma"}
    assert board[1][0] == board[2][0] == 2  # same donors, same amount: the same rank


def test_a_cause_can_take_part_alone(db, three):
    alpha, _beta, _gamma = three
    other = CauseFactory(organisation=alpha[0], slug="alpha-other")
    other_page = PageFactory(cause=other)
    contest = league(entrants=("alpha/alpha-cause", "beta"))
    give(alpha, 1000, at=START + 1, email="x@example.org")
    give((alpha[0], other, other_page), 9000, at=START + 1, email="y@example.org")
    assert [s[2] for s in names(contest) if s[1] == "alpha"] == [1000]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"title": ""}, "title"),
        ({"rule": "loudest"}, "rule"),
        ({"ends_at": "2020-01-01T10:00", "starts_at": "2020-01-01T12:00"}, "ends_at"),
        ({"entrants": ["alpha"]}, "entrants"),
        ({"entrants": ["alpha", "nobody"]}, "entrants"),
        ({"entrants": ["alpha", "alpha/alpha-cause"]}, "entrants"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(db, three, change, field):
    with pytest.raises(ValidationError) as refused:
        league(**change)
    assert field in refused.value.errors
    assert db.session.scalar(select(func.count()).select_from(Contest)) == 0


def test_the_public_board_its_json_and_open_data(db, client, three):
    alpha, _beta, _gamma = three
    league(entrants=("alpha", "beta"))
    give(alpha, 2500, at=START + 1, email="a@example.org")
    db.session.commit()
    html = client.get("/leagues/night").get_data(as_text=True)
    assert "Giving night" in html and html.index("Alpha") < html.index("Beta")
    body = client.get("/api/v1/leagues/night").get_json()
    assert body["rule"] == "raised"
    assert body["standings"][0] == {
        "rank": 1,
        "organisation": "alpha",
        "cause": None,
        "name": "Alpha",
        "raised": {"amount_minor": 2500, "currency": "EUR"},
        "donor_count": 1,
        "gift_count": 1,
    }
    assert client.get("/leagues/nope").status_code == 404
    assert client.get("/api/v1/leagues/nope").status_code == 404
    rows = client.get("/open/league_standings.json").get_json()["league_standings"]
    assert rows[0]["organisation"] == "alpha" and rows[0]["raised_minor"] == 2500


def test_the_cli_creates_and_lists(db, runner, three):
    result = runner.invoke(
        args=[
            "leagues", "create", "spring", "--title", "Spring", "--starts", "2026-03-01T09:00",
            "--ends", "2026-03-01T21:00", "--entrant", "alpha", "--entrant", "beta/beta-cause",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "/leagues/spring" in result.output
    listing = runner.invoke(args=["leagues", "list"])
    assert "spring\traised\t2026-03-01T08:00Z/2026-03-01T20:00Z\t2\tSpring" in listing.output
    bad = runner.invoke(
        args=["leagues", "create", "x", "--title", "X", "--starts", "2026-03-01T09:00",
              "--ends", "2026-03-01T08:00", "--entrant", "alpha", "--entrant", "beta"]
    )  # fmt: skip
    assert bad.exit_code == 1 and "The league must end after it starts." in bad.output
