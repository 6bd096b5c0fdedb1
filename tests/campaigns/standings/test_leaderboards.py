import pytest

from campaigns.giving import ledger
from campaigns.pages import services as page_services
from campaigns.pages.models import PageStatus
from campaigns.standings import leaderboards
from tests.factories import CauseFactory, EventPageFactory, PageFactory


def give(page, amount, email):
    ledger.record_gift(page=page, cause=page.cause, amount_minor=amount, donor_email=email)


def test_pages_rank_by_amount_then_donors_with_equal_ranks_for_ties(db):
    cause = CauseFactory()
    a, b, c, d = (PageFactory(cause=cause) for _ in range(4))
    give(a, 5000, "x@x.org")
    give(b, 2500, "y@x.org")
    give(b, 2500, "z@x.org")  # same amount as a, more donors
    give(c, 1000, "x@x.org")
    give(d, 1000, "y@x.org")  # tie with c on both
    ranks = {e.page_id: e.rank for e in leaderboards.board(cause.id, "pages", limit=10)}
    assert ranks == {b.id: 1, a.id: 2, c.id: 3, d.id: 3}
    assert leaderboards.rank_of(a).rank == 2
    assert leaderboards.neighbour_above(a).page_id == b.id
    assert leaderboards.neighbour_above(b) is None


def test_closed_pages_keep_their_place_hidden_and_drafts_do_not_rank(db):
    cause = CauseFactory()
    closed, hidden, draft, other = (PageFactory(cause=cause) for _ in range(4))
    for page, amount in ((closed, 3000), (hidden, 9000), (draft, 8000), (other, 1000)):
        give(page, amount, f"{page.slug}@x.org")
    page_services.close_page(closed.owner, closed)
    hidden.status, draft.status = PageStatus.HIDDEN, PageStatus.DRAFT
    entries = leaderboards.board(cause.id, "pages")
    assert [(e.page_id, e.rank) for e in entries] == [(closed.id, 1), (other.id, 2)]
    assert leaderboards.rank_of(hidden) is None


def test_events_rank_with_their_members_money(db):
    cause = CauseFactory()
    lyon, marseille = (
        EventPageFactory(cause=cause, city="Lyon"),
        EventPageFactory(cause=cause, city="Marseille"),
    )
    member = PageFactory(cause=cause)
    page_services.join_event(member.owner, member, lyon)
    give(member, 4000, "a@x.org")
    give(marseille, 3000, "b@x.org")
    assert [e.city for e in leaderboards.board(cause.id, "events")] == ["Lyon", "Marseille"]
    assert [e.page_id for e in leaderboards.board(cause.id, "pages", parent_id=lyon.id)] == [
        member.id
    ]


def test_a_slice_of_a_board_keeps_shared_ranks_and_member_boards_rank_within_the_event(db):
    cause = CauseFactory()
    lyon = EventPageFactory(cause=cause, city="Lyon")
    top, tie_a, tie_b, last = (PageFactory(cause=cause) for _ in range(4))
    for page, amount, email in (
        (top, 9000, "t@x.org"),
        (tie_a, 3000, "a@x.org"),
        (tie_b, 3000, "b@x.org"),
        (last, 100, "l@x.org"),
    ):
        give(page, amount, email)
    # The second page of a tie, seen on its own, still shares the first one's rank.
    assert [(e.page_id, e.rank) for e in leaderboards.board(cause.id, limit=2, offset=2)] == [
        (tie_b.id, 2),
        (last.id, 4),
    ] and tie_a.id < tie_b.id
    page_services.join_event(last.owner, last, lyon)
    members = leaderboards.board(cause.id, "pages", parent_id=lyon.id)
    assert [(e.page_id, e.rank) for e in members] == [(last.id, 1)]
    assert leaderboards.board(cause.id, "events", parent_id=lyon.id) == []
    with pytest.raises(ValueError):
        leaderboards.board(cause.id, "cities")
