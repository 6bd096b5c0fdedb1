"""Staff move unattributed money to the page it was meant for: transfer rows,
an audit entry, the page's and the event's totals, counts and donor counts,
the cause's unchanged; later refunds and fees follow the gift there."""

# The fixtures post and place come from test_webhooks.py, imported by name.
# ruff: noqa: F401, F811

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaigns.audit import AuditEntry
from campaigns.dashboard import attention
from campaigns.giving import fees, transfers
from campaigns.giving import services as giving
from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.pages.models import PageStatus
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from campaigns.totals.rebuild import rebuild
from tests import stripe_objects as so
from tests.campaigns.giving.test_webhooks import assert_outcome, completed, place, post
from tests.factories import CauseFactory, MembershipFactory, PageFactory

AMOUNT, FEE = 4000, 85


def figures(scope: TotalScope, scope_id: int) -> tuple[int, int, int, int]:
    f = totals.figures_one(scope, scope_id)
    return f.raised_minor, f.donation_count, f.donor_count, f.fees_minor


def rows_of(gift_id: int) -> list[tuple]:
    from extensions import db

    return [
        tuple(r)
        for r in db.session.execute(
            select(Donation.kind, Donation.amount_minor, Donation.page_id)
            .where(Donation.original_id == gift_id)
            .order_by(Donation.id)
        )
    ]


def unattributed_gift(db, post, place, *, refunded: int = 0) -> tuple[Donation, dict]:
    """A card gift naming a page that does not exist, with its fee and a refund."""
    session = so.checkout_session(
        amount=AMOUNT, page="gone-page", cause=place["cause"].slug, email="ana@example.org"
    )
    assert_outcome(post(completed(session)), "recorded")
    txn = so.balance_transaction(amount=AMOUNT, fee=FEE)
    process_event(fees.fee_event(txn, payment_intent=session["payment_intent"], account=None))
    if refunded:
        charge = so.charge(
            payment_intent_id=session["payment_intent"],
            amount=AMOUNT,
            amount_refunded=refunded,
            charge_id="ch_moved",
        )
        assert_outcome(post(so.event(charge, "charge.refunded")), "recorded")
    gift = db.session.scalars(
        select(Donation).where(
            Donation.stripe_payment_intent_id == session["payment_intent"],
            Donation.kind == DonationKind.GIFT,
        )
    ).one()
    assert gift.is_unattributed and gift.page_id is None
    db.session.commit()
    return gift, session


def test_staff_move_an_unattributed_gift_to_its_page_and_every_count_stays_exact(
    db, client, post, place, login_as
):
    gift, session = unattributed_gift(db, post, place, refunded=1000)
    cause, page, event = place["cause"], place["page"], place["event"]
    before_cause = figures(TotalScope.CAUSE, cause.id)
    before_org = figures(TotalScope.ORGANISATION, place["org"].id)
    assert before_cause == (3000, 1, 1, FEE)
    assert attention.unattributed(place["org"].id)[:2] == (3000, 1)
    staff = MembershipFactory(organisation=place["org"]).agent
    db.session.commit()
    login_as(staff)

    shown = client.get(f"/staff/{place['org'].slug}/donations/{gift.id}")
    assert shown.status_code == 200 and "Move to this page" in shown.text
    url = f"/staff/{place['org'].slug}/donations/{gift.id}/move"
    link = f"https://relais.example/p/{page.slug}"
    response = client.post(url, data={"page": link})
    assert response.status_code == 303

    # The page and its event count the gift, its donor and its fee; the cause
    # and the organisation are as they were.
    assert figures(TotalScope.PAGE, page.id) == (3000, 1, 1, FEE)
    assert figures(TotalScope.EVENT, event.id) == (3000, 1, 1, FEE)
    assert figures(TotalScope.CAUSE, cause.id) == before_cause
    assert figures(TotalScope.ORGANISATION, place["org"].id) == before_org
    assert attention.unattributed(place["org"].id) == (0, 0, [])
    assert totals.drift() == []
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == transfers.ACTION)
    ).one()
    assert (entry.subject_id, entry.amount_minor, entry.actor_id) == (gift.id, 3000, staff.id)
    assert entry.details["page_title"] == page.title
    detail = client.get(f"/staff/{place['org'].slug}/donations/{gift.id}")
    assert "Move to this page" not in detail.text and page.title in detail.text
    # The page's donor wall shows the gift at what it still holds.
    assert [e.amount_minor for e in giving.donor_wall(page)] == [3000]
    assert [e.amount_minor for e in giving.donor_wall(event)] == [3000]

    # Sent again (a double click): nothing more is written.
    written = rows_of(gift.id)
    assert client.post(url, data={"page": page.slug}).status_code == 303
    assert rows_of(gift.id) == written

    # A later refund follows the gift to the page.
    charge = so.charge(
        payment_intent_id=session["payment_intent"],
        amount=AMOUNT,
        amount_refunded=1500,
        charge_id="ch_moved",
    )
    assert_outcome(post(so.event(charge, "charge.refunded")), "recorded")
    assert figures(TotalScope.PAGE, page.id)[0] == 2500
    assert figures(TotalScope.CAUSE, cause.id)[0] == 2500
    assert attention.unattributed(place["org"].id)[:2] == (0, 0)
    assert totals.drift() == []
    rebuild()
    assert figures(TotalScope.PAGE, page.id) == (2500, 1, 1, FEE)
    assert figures(TotalScope.CAUSE, cause.id) == (2500, 1, 1, FEE)


@pytest.mark.parametrize("target", ["unknown", "draft", "other cause", "empty"])
def test_a_page_that_cannot_be_credited_is_refused_and_nothing_moves(
    db, client, post, place, login_as, target
):
    gift, _ = unattributed_gift(db, post, place)
    slug = {
        "unknown": "no-such-page",
        "draft": PageFactory(cause=place["cause"], status=PageStatus.DRAFT).slug,
        "other cause": PageFactory(cause=CauseFactory(organisation=place["org"])).slug,
        "empty": "",
    }[target]
    staff = MembershipFactory(organisation=place["org"]).agent
    db.session.commit()
    login_as(staff)
    response = client.post(
        f"/staff/{place['org'].slug}/donations/{gift.id}/move", data={"page": slug}
    )
    assert response.status_code == 422
    assert "Nothing was moved" in response.text
    assert rows_of(gift.id) == [(DonationKind.FEE, -FEE, None)]
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_attributed_money_and_a_second_page_are_refused(db, client, post, place, login_as):
    session = so.checkout_session(amount=AMOUNT, page=place["page"].slug, cause=place["cause"].slug)
    assert_outcome(post(completed(session)), "recorded")
    attributed = db.session.scalars(select(Donation).where(Donation.page_id.is_not(None))).one()
    gift, _ = unattributed_gift(db, post, place)
    other = PageFactory(cause=place["cause"])
    staff = MembershipFactory(organisation=place["org"]).agent
    db.session.commit()
    login_as(staff)
    base = f"/staff/{place['org'].slug}/donations"
    refused = client.post(f"{base}/{attributed.id}/move", data={"page": other.slug})
    assert refused.status_code == 409
    assert (
        client.post(f"{base}/{gift.id}/move", data={"page": place["page"].slug}).status_code == 303
    )
    again = client.post(f"{base}/{gift.id}/move", data={"page": other.slug})
    assert again.status_code == 409 and "moves only once" in again.text
    assert figures(TotalScope.PAGE, other.id) == (0, 0, 0, 0)
    assert totals.drift() == []


def test_only_the_organisations_staff_move_money(db, client, post, place, login_as, outsider):
    gift, _ = unattributed_gift(db, post, place)
    db.session.commit()
    login_as(outsider)
    response = client.post(
        f"/staff/{place['org'].slug}/donations/{gift.id}/move", data={"page": place["page"].slug}
    )
    assert response.status_code in (403, 404)
    assert figures(TotalScope.PAGE, place["page"].id) == (0, 0, 0, 0)
