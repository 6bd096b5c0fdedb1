"""The donor covers the fees: the exact amount, shown before paying, charged on
its own line, recorded as its own ledger row beside the gift, counted in goals
only when the organisation says so, and deductible on the receipt."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from campaigns.giving import covers, receipts
from campaigns.giving.models import Donation, DonationKind, PendingGift
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db
from tests import stripe_objects as so
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

SECRET = "whsec_test_covers"
API = "https://api.stripe.com/v1"


@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    amount=st.integers(1, 99_000_000),
    percent=st.decimals(min_value=0, max_value=Decimal("9.999"), places=3),
    fixed=st.integers(0, 500),
)
def test_the_cover_leaves_the_organisation_its_gift_and_never_a_unit_more(amount, percent, fixed):
    rates = {"EUR": (str(percent), fixed)}
    cover = covers.cover_for(amount, "EUR", rates)
    gross = amount + cover
    received = gross - covers.stripe_fee(gross, percent, fixed)
    assert amount <= received <= amount + 1
    # And it is the least that does: one unit less would leave less than the gift.
    if cover:
        assert (gross - 1) - covers.stripe_fee(gross - 1, percent, fixed) < amount


def test_the_cover_of_ten_euros_at_one_and_a_half_percent_and_25_cents(app):
    # 1041 − (round(15.615) + 25) = 1000: the organisation gets the 10 € exactly.
    assert covers.cover_for(1000, "EUR", {"EUR": ("1.5", 25)}) == 41
    assert covers.cover_for(1000, "JPY", {"EUR": ("1.5", 25)}) == 0  # no rate: no cover


@pytest.fixture
def post(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)

    def post_event(event: dict):
        body, headers = so.signed(event, SECRET)
        response = client.post("/webhooks/stripe", data=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.get_json()["outcome"]

    return post_event


def place(_db, *, counts_covers: bool = False):
    org = OrganisationFactory(counts_covers=counts_covers)
    cause = CauseFactory(organisation=org)
    page = PageFactory(cause=cause)
    db.session.commit()
    return page


def covered_session(page, gift: int, cover: int, **kw) -> dict:
    session = so.checkout_session(amount=gift + cover, page=page.slug, cause=page.cause.slug, **kw)
    session["metadata"]["cover"] = str(cover)
    return session


def rows(page) -> list[tuple[str, int]]:
    return [
        (str(kind), amount)
        for kind, amount in db.session.execute(
            select(Donation.kind, Donation.amount_minor)
            .where(Donation.cause_id == page.cause_id)
            .order_by(Donation.id)
        )
    ]


def test_the_give_form_shows_the_cover_and_stripe_charges_it_on_its_own_line(
    db, client, stripe_api
):
    page = place(db)
    page_html = client.get(f"/p/{page.slug}").text
    # The label names the exact amount for the amount first chosen (25 €: 0,64 €).
    cover_25 = covers.cover_for(2500, "EUR")
    assert f"Add €{cover_25 / 100:.2f} to cover the fees" in page_html
    stripe_api.add(
        responses.POST,
        f"{API}/checkout/sessions",
        json={"id": "cs_test_cover", "object": "checkout.session", "url": "https://s.test/c"},
    )
    data = {"amount": "other", "other_amount": "40", "cover_fees": "y", "frequency": "once"}
    response = client.post(f"/p/{page.slug}/give", data=data)
    assert response.status_code == 303, response.text
    pending = db.session.scalars(select(PendingGift)).one()
    assert (pending.amount_minor, pending.cover_minor) == (4000, covers.cover_for(4000, "EUR"))
    body = parse_qs(stripe_api.calls[0].request.body)
    assert body["mode"] == ["payment"]
    assert body["line_items[0][price_data][unit_amount]"] == ["4000"]
    assert body["line_items[1][price_data][unit_amount]"] == [str(pending.cover_minor)]
    assert body["metadata[cover]"] == [str(pending.cover_minor)]


def test_a_cover_on_a_bad_gift_changes_nothing(db, client):
    page = place(db)
    data = {"amount": "other", "other_amount": "abc", "cover_fees": "y", "frequency": "weekly"}
    response = client.post(f"/p/{page.slug}/give", data=data)
    assert response.status_code == 422
    assert "Choose to give once or every month." in response.text
    assert db.session.scalars(select(PendingGift)).all() == []


@pytest.mark.parametrize("counts_covers", [False, True])
def test_the_cover_is_its_own_row_and_counts_as_raised_only_if_the_organisation_says(
    db, post, counts_covers
):
    page = place(db, counts_covers=counts_covers)
    session = covered_session(page, 2500, 64)
    event = so.event(session, "checkout.session.completed")
    assert post(event) == "recorded"
    assert post(event) == "duplicate"  # replayed: nothing more
    kind = "cover_raised" if counts_covers else "cover"
    assert rows(page) == [("gift", 2500), (kind, 64)]
    figures = totals.figures_one(TotalScope.PAGE, page.id)
    cause = totals.figures_one(TotalScope.CAUSE, page.cause_id)
    if counts_covers:
        assert (figures.raised_minor, figures.covers_minor) == (2564, 0)
    else:
        # The goal and the leaderboards count the gift; the dashboard's net has the cover.
        assert (figures.raised_minor, figures.covers_minor) == (2500, 64)
    assert figures.donation_count == 1 and figures.donor_count == 1
    assert cause.net_minor == 2564
    assert totals.drift() == []


def test_metadata_asking_for_all_the_charge_as_cover_keeps_it_a_gift(db, post):
    page = place(db)
    session = covered_session(page, 0, 2500)
    session["metadata"]["cover"] = "2500"  # as much as was paid: no real cover
    assert post(so.event(session, "checkout.session.completed")) == "recorded"
    assert rows(page) == [("gift", 2500)]
    assert totals.drift() == []


def test_a_full_refund_takes_back_gift_and_cover_and_a_failed_refund_returns_both(db, post):
    page = place(db)
    session = covered_session(page, 2500, 64)
    pi = session["payment_intent"]
    charge = so.charge(payment_intent_id=pi, amount=2564, amount_refunded=1000, charge_id="ch_c")
    refunded = so.event(charge, "charge.refunded")
    assert post(refunded) == "anomaly"  # before its gift: parked
    assert post(so.event(session, "checkout.session.completed")) == "recorded"
    whole = so.charge(payment_intent_id=pi, amount=2564, amount_refunded=2564, charge_id="ch_c")
    assert post(so.event(whole, "charge.refunded")) == "recorded"
    assert post(so.event(whole, "charge.refunded")) == "duplicate"
    # The gift first (10 €, then 15 €), then the cover, each part its own row.
    assert rows(page) == [
        ("gift", 2500),
        ("cover", 64),
        ("refund", -1000),
        ("refund", -1500),
        ("cover", -64),
    ]
    figures = totals.figures_one(TotalScope.PAGE, page.id)
    assert (figures.raised_minor, figures.covers_minor) == (0, 0)
    refund = so.refund("ch_c", pi, 2564)
    refund["status"] = "failed"
    assert post(so.event(refund, "refund.failed")) == "recorded"
    figures = totals.figures_one(TotalScope.PAGE, page.id)
    assert (figures.raised_minor, figures.covers_minor) == (2500, 64)
    assert totals.drift() == []


def test_a_dispute_won_gives_back_the_cover_it_took(db, post):
    page = place(db)
    session = covered_session(page, 2500, 64)
    assert post(so.event(session, "checkout.session.completed")) == "recorded"
    dispute = so.dispute(charge_id="ch_d", payment_intent_id=session["payment_intent"], amount=2564)
    created = {**dispute, "status": "needs_response", "balance_transactions": []}
    assert post(so.event(created, "charge.dispute.created")) == "recorded"
    assert totals.figures_one(TotalScope.PAGE, page.id).covers_minor == 0
    won = {**dispute, "status": "won", "balance_transactions": []}
    assert post(so.event(won, "charge.dispute.closed")) == "recorded"
    figures = totals.figures_one(TotalScope.PAGE, page.id)
    assert (figures.raised_minor, figures.covers_minor) == (2500, 64)
    assert totals.drift() == []


def test_the_receipt_counts_the_cover_as_deductible(db, client, post):
    page = place(db)
    pending = PendingGift(
        reference="c" * 32,
        organisation_id=page.cause.organisation_id,
        cause_id=page.cause_id,
        page_id=page.id,
        amount_minor=2500,
        cover_minor=64,
        currency="EUR",
        donor_email="ada@example.org",
        locale="en",
    )
    db.session.add(pending)
    db.session.commit()
    session = covered_session(page, 2500, 64, reference=pending.reference)
    assert post(so.event(session, "checkout.session.completed")) == "recorded"
    gift = db.session.scalars(select(Donation).where(Donation.kind == DonationKind.GIFT)).one()
    receipt = receipts.receipt_for(gift, "en")
    assert (receipt.amount_minor, receipt.cover_minor, receipt.deductible_minor) == (2564, 64, 2564)
    assert receipt.amount_words == "twenty-five euros and sixty-four cents"
    response = client.get(f"/receipts/{pending.reference}")
    assert response.status_code == 200
    assert "€0.64" in response.text and "Tax-deductible amount" in response.text
    assert "€25.64" in response.text


def test_the_staff_dashboard_shows_the_covers_in_the_net(db, client, login_as, post):
    from tests.factories import MembershipFactory

    page = place(db)
    staff = MembershipFactory(organisation=page.cause.organisation).agent
    db.session.commit()
    assert post(so.event(covered_session(page, 2500, 64), "checkout.session.completed"))
    login_as(staff)
    response = client.get(f"/staff/{page.cause.organisation.slug}/dashboard/")
    assert response.status_code == 200
    assert 'data-figure="covers">€0.64' in response.text
    assert 'data-figure="net">€25.64' in response.text


def test_an_admin_chooses_to_count_covers_and_only_later_gifts_change(
    db, client, post, as_agent, admin, org
):
    from tests.campaigns.organisations.test_staff import ORG_FORM

    page = PageFactory(cause=CauseFactory(organisation=org))
    db.session.commit()
    assert post(so.event(covered_session(page, 2500, 64), "checkout.session.completed"))
    as_agent(admin)
    edit = client.get(f"/staff/{org.slug}/edit")
    assert 'name="counts_covers"' in edit.text and 'name="offers_fee_cover"' in edit.text
    form = {**ORG_FORM, "offers_fee_cover": "y", "counts_covers": "y"}
    response = client.post(f"/staff/{org.slug}/edit", data=form)
    assert response.status_code in (302, 303), response.text
    db.session.refresh(org)
    assert org.counts_covers and org.offers_fee_cover
    assert post(so.event(covered_session(page, 1000, 41), "checkout.session.completed"))
    # The earlier cover keeps the kind it was written with: history is not rewritten.
    assert [k for k, _a in rows(page) if k.startswith("cover")] == ["cover", "cover_raised"]
    figures = totals.figures_one(TotalScope.PAGE, page.id)
    assert (figures.raised_minor, figures.covers_minor) == (2500 + 1000 + 41, 64)
    # Unticked: no cover offered on the give form any more.
    client.post(f"/staff/{org.slug}/edit", data={**ORG_FORM})
    assert "to cover the fees" not in client.get(f"/p/{page.slug}").text
    assert totals.drift() == []
