"""Giving to a cause itself: the cause's give form (one-off or monthly, the fee
cover offered), the demo's test payment and Stripe's signed events; the gift
is the cause's own money (no page, not unattributed) and every total stays
the ledger's sum; a closed or draft cause refuses."""

# The fixture post comes from test_monthly.py, imported by name.
# ruff: noqa: F401, F811

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import func, select

from campaigns.dashboard import attention
from campaigns.giving import covers, transfers
from campaigns.giving.models import Donation, DonationKind, PendingGift
from campaigns.monthly.models import MonthlyGift
from campaigns.organisations.models import CauseStatus
from campaigns.pages.models import Page
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db as _db
from tests import stripe_objects as so
from tests.campaigns.monthly.test_monthly import post
from tests.factories import (
    CauseFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
    ProjectFactory,
)

API = "https://api.stripe.com/v1"


@pytest.fixture
def cause(db):
    org = OrganisationFactory(locale="en")
    cause = CauseFactory(organisation=org, title="Wells for Kita")
    ProjectFactory(cause=cause, slug="well-34", name="Well 34")
    PageFactory(cause=cause)  # a page of the cause, which a cause gift must not touch
    db.session.commit()
    return cause


@pytest.fixture
def demo(app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")


def rows(cause) -> list[tuple[str, int, int | None, bool]]:
    return [
        (str(kind), amount, page_id, unattributed)
        for kind, amount, page_id, unattributed in _db.session.execute(
            select(Donation.kind, Donation.amount_minor, Donation.page_id, Donation.is_unattributed)
            .where(Donation.cause_id == cause.id, Donation.kind.not_in((DonationKind.FEE,)))
            .order_by(Donation.id)
        )
    ]


def pages_of(cause) -> list[Page]:
    return list(_db.session.scalars(select(Page).where(Page.cause_id == cause.id)))


def page_raised(cause) -> int:
    """What the cause's pages hold, all of them together."""
    found = totals.figures(TotalScope.PAGE, [p.id for p in pages_of(cause)])
    return sum(f.raised_minor for f in found.values())


def give(client, cause, **data):
    form = {"amount": "other", "other_amount": "40", "frequency": "once", **data}
    return client.post(f"/c/{cause.slug}/give", data=form)


# --- the form -------------------------------------------------------------------


def test_the_cause_page_leads_to_its_give_form_with_the_fee_cover(db, client, cause):
    detail = client.get(f"/c/{cause.slug}")
    assert f'href="/c/{cause.slug}/give#give"' in detail.text
    response = client.get(f"/c/{cause.slug}/give")
    assert response.status_code == 200
    assert f'action="/c/{cause.slug}/give#give"' in response.text
    assert "Give to “Wells for Kita”" in response.text
    # The exact cover for the amount first chosen (25 €), and the calculator's hooks.
    assert f"Add €{covers.cover_for(2500, 'EUR') / 100:.2f} to cover the fees" in response.text
    assert "data-fee-cover" in response.text and 'value="monthly"' in response.text
    assert "Well 34" in response.text
    assert "<script>" not in response.text  # the CSP: no inline script


def test_a_project_page_offers_its_pages_and_the_cause_form_with_the_project(db, client, cause):
    detail = client.get(f"/c/{cause.slug}/projects/well-34")
    assert detail.status_code == 200, detail.text
    link = f'href="/c/{cause.slug}/give?project=well-34"'
    assert link in detail.text and "/search?" in detail.text
    form = client.get(f"/c/{cause.slug}/give?project=well-34")
    assert re.search(r'<input checked[^>]*name="project"[^>]*value="well-34"', form.text)


def test_bad_input_is_refused_with_sentences_and_changes_nothing(db, client, cause):
    response = give(client, cause, other_amount="abc", project="no-such-project")
    assert response.status_code == 422
    assert "Enter the amount as a number" in response.text
    assert "Choose one of this campaign&#39;s projects" in response.text
    response = give(client, cause, frequency="weekly")
    assert response.status_code == 422
    assert "Choose to give once or every month." in response.text
    assert db.session.scalar(select(func.count(PendingGift.id))) == 0


@pytest.mark.parametrize("status", [CauseStatus.CLOSED, CauseStatus.DRAFT])
def test_a_closed_or_draft_cause_takes_no_gift(db, client, login_as, cause, status):
    cause.status = status
    staff = MembershipFactory(organisation=cause.organisation).agent
    db.session.commit()
    if status == CauseStatus.DRAFT:
        # A draft is nobody's business but its staff's.
        assert client.get(f"/c/{cause.slug}/give").status_code == 404
        assert give(client, cause).status_code == 404
        login_as(staff)
        refusal = "This campaign is not taking gifts at the moment."
    else:
        refusal = "This campaign is over and no longer takes gifts."
    shown = client.get(f"/c/{cause.slug}/give")
    assert shown.status_code == 200 and refusal in shown.text
    assert 'name="other_amount"' not in shown.text
    response = give(client, cause)
    assert response.status_code == 422 and refusal in response.text
    assert db.session.scalar(select(func.count(PendingGift.id))) == 0


def test_an_unknown_cause_is_a_404(db, client):
    assert client.get("/c/no-such-cause/give").status_code == 404
    assert client.post("/c/no-such-cause/give", data={"amount": "25"}).status_code == 404


def test_stripe_is_asked_for_a_gift_to_the_cause(db, client, cause, stripe_api):
    stripe_api.add(
        responses.POST,
        f"{API}/checkout/sessions",
        json={"id": "cs_test_cause", "object": "checkout.session", "url": "https://s.test/c"},
    )
    response = give(client, cause, cover_fees="y", project="well-34")
    assert response.status_code == 303 and response.headers["Location"] == "https://s.test/c"
    pending = db.session.scalars(select(PendingGift)).one()
    assert pending.page_id is None and pending.cause_id == cause.id
    body = parse_qs(stripe_api.calls[0].request.body, keep_blank_values=True)
    assert body["metadata[cause]"] == [cause.slug]
    assert body["metadata[page]"] == [""]
    assert body["metadata[project]"] == ["well-34"]
    assert body["line_items[1][price_data][unit_amount]"] == [str(covers.cover_for(4000, "EUR"))]
    assert body["cancel_url"][0].endswith(f"/c/{cause.slug}/give#give")


def test_stripe_failing_shows_the_form_again_and_keeps_no_payment(db, client, cause, stripe_api):
    stripe_api.add(responses.POST, f"{API}/checkout/sessions", status=500, json={"error": {}})
    response = give(client, cause)
    assert response.status_code == 503
    assert "did not answer" in response.text and 'name="other_amount"' in response.text
    assert db.session.scalar(select(func.count(Donation.id))) == 0


# --- the demo's test payment ----------------------------------------------------


def test_a_one_off_gift_to_the_cause_through_the_test_payment(db, client, cause, demo):
    response = give(client, cause, cover_fees="y", donor_email="ada@example.org")
    assert response.status_code == 303
    pending = db.session.scalars(select(PendingGift)).one()
    assert response.headers["Location"] == f"/give/{pending.reference}/test-payment"
    payment = client.get(response.headers["Location"])
    assert f'href="/c/{cause.slug}/give"' in payment.text  # cancel goes back to the cause
    paid = client.post(f"/give/{pending.reference}/test-payment")
    assert paid.status_code == 303
    cover = covers.cover_for(4000, "EUR")
    # The cause's own money: no page, and nothing for staff to find a page for.
    assert rows(cause) == [("gift", 4000, None, False), ("cover", cover, None, False)]
    figures = totals.figures_one(TotalScope.CAUSE, cause.id)
    assert (figures.raised_minor, figures.covers_minor, figures.donation_count) == (4000, cover, 1)
    assert page_raised(cause) == 0
    assert attention.unattributed(cause.organisation_id)[:2] == (0, 0)
    gift = db.session.scalars(select(Donation).where(Donation.kind == DonationKind.GIFT)).one()
    assert not transfers.movable(gift)  # the donor chose the cause: not moved to a page
    thanks = client.get(f"/give/{pending.reference}/thanks")
    assert "supports Wells for Kita" in thanks.text
    assert totals.drift() == []


def test_a_monthly_gift_to_the_cause_through_the_test_payment(db, client, cause, demo):
    from campaigns.giving.payments import record_event
    from campaigns.monthly import demo_events

    response = give(client, cause, frequency="monthly", cover_fees="y", donor_email="b@example.org")
    assert response.status_code == 303
    pending = db.session.scalars(select(PendingGift)).one()
    assert pending.is_monthly
    assert client.post(f"/give/{pending.reference}/test-payment").status_code == 303
    monthly = db.session.scalars(select(MonthlyGift)).one()
    assert monthly.page_id is None and monthly.cause_id == cause.id
    # The next month, as Stripe would send it.
    assert record_event(demo_events.invoice_event(pending, 2)) == "recorded"
    assert record_event(demo_events.invoice_event(pending, 2)) == "duplicate"
    cover = covers.cover_for(4000, "EUR")
    assert rows(cause) == [("gift", 4000, None, False), ("cover", cover, None, False)] * 2
    figures = totals.figures_one(TotalScope.CAUSE, cause.id)
    assert (figures.raised_minor, figures.donation_count, figures.donor_count) == (8000, 2, 1)
    assert page_raised(cause) == 0
    assert totals.drift() == []


# --- Stripe's signed events -------------------------------------------------------


def cause_session(cause, *, page: str = "", cover: int = 0, reference: str | None = None):
    session = so.checkout_session(
        amount=2500 + cover, cause=cause.slug, page=page, reference=reference
    )
    session["metadata"]["cover"] = str(cover)
    return session


def test_a_signed_payment_naming_the_cause_and_no_page_is_the_causes_own(db, post, cause):
    event = so.event(cause_session(cause, cover=64), "checkout.session.completed")
    assert post(event) == "recorded"
    assert post(event) == "duplicate"
    assert rows(cause) == [("gift", 2500, None, False), ("cover", 64, None, False)]
    assert totals.figures_one(TotalScope.CAUSE, cause.id).raised_minor == 2500
    assert totals.drift() == []


def test_a_signed_payment_naming_a_missing_page_stays_unattributed(db, post, cause):
    event = so.event(cause_session(cause, page="no-such-page"), "checkout.session.completed")
    assert post(event) == "recorded"
    assert rows(cause) == [("gift", 2500, None, True)]
    assert attention.unattributed(cause.organisation_id)[:2] == (2500, 1)
    assert totals.drift() == []


def test_a_signed_payment_of_a_pending_cause_gift_follows_the_pending_gift(
    db, client, post, cause, stripe_api
):
    stripe_api.add(
        responses.POST,
        f"{API}/checkout/sessions",
        json={"id": "cs_test_p", "object": "checkout.session", "url": "https://s.test/p"},
    )
    assert give(client, cause, other_amount="25", cover_fees="y").status_code == 303
    pending = db.session.scalars(select(PendingGift)).one()
    session = cause_session(cause, cover=pending.cover_minor, reference=pending.reference)
    # Metadata naming a page do not move a gift the donor made to the cause.
    session["metadata"]["page"] = pages_of(cause)[0].slug
    assert post(so.event(session, "checkout.session.completed")) == "recorded"
    assert rows(cause) == [("gift", 2500, None, False), ("cover", pending.cover_minor, None, False)]
    assert page_raised(cause) == 0
    assert totals.drift() == []


def test_signed_monthly_events_to_the_cause_in_any_order(db, post, cause):
    sub = so.stripe_id("sub")
    meta = {
        "page": "",
        "cause": cause.slug,
        "project": "",
        "share": "",
        "pending": "",
        "cover": "41",
        "organisation": cause.organisation.slug,
    }
    invoice = so.invoice(subscription_id=sub, amount=1041, metadata=meta, email="c@example.org")
    session = so.subscription_session(subscription_id=sub, metadata=meta, amount=1041)
    assert post(so.event(invoice, "invoice.paid")) == "recorded"  # before its session
    assert post(so.event(session, "checkout.session.completed")) in ("recorded", "duplicate")
    assert post(so.event(invoice, "invoice.payment_succeeded")) == "duplicate"
    later = so.invoice(subscription_id=sub, amount=1041, metadata=meta, email="c@example.org")
    assert post(so.event(later, "invoice.paid")) == "recorded"
    assert rows(cause) == [("gift", 1000, None, False), ("cover", 41, None, False)] * 2
    assert totals.figures_one(TotalScope.CAUSE, cause.id).raised_minor == 2000
    assert page_raised(cause) == 0
    assert totals.drift() == []
