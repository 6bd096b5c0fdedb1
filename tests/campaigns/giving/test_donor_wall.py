"""The donor wall counts a gift the way the page's total does: what remains
of it after refunds and disputes."""

from __future__ import annotations

import pytest

from campaigns.giving import ledger
from campaigns.giving import services as giving
from campaigns.giving.models import Donation, DonationKind


@pytest.fixture(autouse=True)
def english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"


def refund(db, gift: Donation, amount_minor: int) -> None:
    db.session.add(
        Donation(
            kind=DonationKind.REFUND,
            organisation_id=gift.organisation_id,
            cause_id=gift.cause_id,
            page_id=gift.page_id,
            amount_minor=-amount_minor,
            currency=gift.currency,
            original_id=gift.id,
        )
    )
    db.session.flush()


def test_a_partly_refunded_gift_shows_what_remains_of_it(db, client, page):
    gift = ledger.record_gift(
        page=page, cause=page.cause, amount_minor=20000, donor_name="Partly Paula"
    )
    ledger.record_gift(page=page, cause=page.cause, amount_minor=8000, donor_name="Whole Walt")
    refund(db, gift, 15000)
    db.session.commit()

    amounts = {e.name: e.amount_minor for e in giving.donor_wall(page)}
    assert amounts == {"Partly Paula": 5000, "Whole Walt": 8000}
    body = client.get(f"/p/{page.slug}").get_data(as_text=True)
    wall = body[body.index('id="donor-wall-title"') :]
    assert "€200" not in wall and "€50" in wall and "€80" in wall
    # The wall adds up to the page's figure: €130.
    assert sum(amounts.values()) == 13000
