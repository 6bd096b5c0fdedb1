"""`rebuild()` gives what the gifts gave one by one: every scope's
figures and every scope's donor set, on SQLite (a pass per scope) and
PostgreSQL (all scopes in one pass, by grouping sets)."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.giving import ledger
from campaigns.giving.models import DonationKind
from campaigns.totals import services as totals
from campaigns.totals.models import TotalDonor
from campaigns.totals.rebuild import rebuild
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    OrganisationFactory,
    PageFactory,
    ProjectFactory,
)


def snapshot():
    donors = set(
        totals.db.session.execute(
            select(TotalDonor.scope, TotalDonor.scope_id, TotalDonor.donor_id)
        ).all()
    )
    return totals.stored(), donors


def test_a_rebuild_gives_what_the_gifts_gave_one_by_one(db):
    org = OrganisationFactory()
    other_org = OrganisationFactory()
    cause = CauseFactory(organisation=org)
    other_cause = CauseFactory(organisation=other_org)
    project = ProjectFactory(cause=cause)
    event = EventPageFactory(cause=cause)
    under_event = PageFactory(cause=cause, parent=event)
    alone = PageFactory(cause=cause)
    elsewhere = PageFactory(cause=other_cause)
    gifts = []
    for i, (page, cause_of, project_of) in enumerate(
        [
            (under_event, cause, project),
            (under_event, cause, None),
            (event, cause, project),
            (alone, cause, None),
            (alone, cause, project),
            (None, cause, None),  # unattributed: the cause and organisation only
            (elsewhere, other_cause, None),
        ]
        * 3
    ):
        gifts.append(
            ledger.record_gift(
                page=page,
                cause=cause_of,
                project=project_of,
                amount_minor=1000 + 100 * i,
                # Donors give on several pages; one gives anonymously without an address.
                donor_email=f"donor{i % 5}@example.org" if i % 7 else "",
            )
        )
    ledger.record_further_row(gifts[0], DonationKind.REFUND, -400)
    ledger.record_further_row(gifts[3], DonationKind.FEE, -55)
    ledger.record_further_row(gifts[4], DonationKind.COVER, 60)
    db.session.flush()
    before = snapshot()
    assert len(before[0]) >= 9 and len(before[1]) > 10  # every kind of scope is there

    scopes = rebuild()

    assert snapshot() == before
    assert scopes == len(before[0])
    assert totals.drift() == []
    # The donor sets keep their key: a returning donor is not counted twice.
    ledger.record_gift(page=alone, cause=cause, amount_minor=500, donor_email="donor1@example.org")
    ledger.record_gift(page=alone, cause=cause, amount_minor=500, donor_email="donor1@example.org")
    assert totals.drift() == []
