"""The totals a transaction has just written are read back without a query,
and are the database's own figures: forgotten at the commit, at a savepoint's
rollback and at a rebuild; causes (split into slots) are always read."""

from __future__ import annotations

from sqlalchemy import func, select

from campaigns.giving import ledger
from campaigns.totals import services as totals
from campaigns.totals import written
from campaigns.totals.models import Total, TotalScope
from campaigns.totals.rebuild import rebuild
from extensions import db as _db
from tests.conftest import count_queries
from tests.factories import CauseFactory, EventPageFactory, PageFactory


def stored(scope: TotalScope, scope_id: int) -> tuple[int, int, int]:
    row = _db.session.execute(
        select(
            func.sum(Total.raised_minor),
            func.sum(Total.donation_count),
            func.sum(Total.donor_count),
        ).where(Total.scope == scope, Total.scope_id == scope_id)
    ).one()
    return tuple(int(v or 0) for v in row)


def give(page, amount: int, email: str):
    return ledger.record_gift(page=page, cause=page.cause, amount_minor=amount, donor_email=email)


def figures(scope, scope_id) -> tuple[int, int, int]:
    fig = totals.figures_one(scope, scope_id)
    return fig.raised_minor, fig.donation_count, fig.donor_count


def test_the_page_and_event_totals_a_gift_wrote_are_read_back_without_a_query(db):
    cause = CauseFactory()
    event_page = EventPageFactory(cause=cause)
    page = PageFactory(cause=cause, parent=event_page)
    give(page, 1000, "a@example.org")
    db.session.commit()
    give(page, 2500, "b@example.org")
    with count_queries(db, expunge=False) as seen:
        mine = figures(TotalScope.PAGE, page.id)
        its_event = figures(TotalScope.EVENT, event_page.id)
    assert seen == []
    assert mine == stored(TotalScope.PAGE, page.id) == (3500, 2, 2)
    assert its_event == stored(TotalScope.EVENT, event_page.id) == (3500, 2, 2)
    with count_queries(db, expunge=False) as seen:
        assert figures(TotalScope.CAUSE, cause.id) == (3500, 2, 2)
    assert len(seen) == 1  # a cause's slots are summed by the database


def test_a_savepoint_rolled_back_and_a_commit_forget_what_was_written(db):
    page = PageFactory()
    give(page, 1000, "a@example.org")
    savepoint = db.session.begin_nested()
    give(page, 700, "b@example.org")
    assert figures(TotalScope.PAGE, page.id) == (1700, 2, 2)
    savepoint.rollback()
    assert figures(TotalScope.PAGE, page.id) == (1000, 1, 1)
    db.session.commit()
    assert db.session.info.get(written.KEY) is None
    assert figures(TotalScope.PAGE, page.id) == (1000, 1, 1)


def test_a_rebuild_forgets_what_was_written(db):
    page = PageFactory()
    give(page, 1000, "a@example.org")
    rebuild()
    assert db.session.info.get(written.KEY) is None
    assert figures(TotalScope.PAGE, page.id) == stored(TotalScope.PAGE, page.id) == (1000, 1, 1)
