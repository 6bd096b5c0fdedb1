"""The donor's journey: the give form, Stripe Checkout (the real stripe library,
its HTTP intercepted), the demo's test payment, the thank-you page, the
receipt and the donor wall."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import stripe
from sqlalchemy import func, select

from campaigns.giving import receipts
from campaigns.giving import services as giving
from campaigns.giving.checkout import completed_event
from campaigns.giving.models import (
    Donation,
    DonationKind,
    PendingGift,
    PendingGiftStatus,
    StripeEvent,
)
from campaigns.pages.models import PageStatus
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures_one
from messaging.outbox.models import OutboxMessage
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    OrganisationFactory,
    PageFactory,
    ProjectFactory,
)

STRIPE_SESSIONS = "https://api.stripe.com/v1/checkout/sessions"


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English: the assertions read English text."""
    with client.session_transaction() as session:
        session["locale"] = "en"


@pytest.fixture
def org(db):
    return OrganisationFactory(
        name="Eau Vive",
        legal_name="Association Eau Vive",
        address="12 rue de la Source\n69001 Lyon",
        receipt_prefix="EV",
        min_amount_minor=200,
        max_amount_minor=1_000_000,
    )


@pytest.fixture
def event(db, org):
    return EventPageFactory(cause=CauseFactory(organisation=org), slug="lyon-night")


@pytest.fixture
def page(db, event):
    """A personal page inside an event; the set-up is committed, as a refused
    request rolls back to here."""
    page = PageFactory(cause=event.cause, parent=event, slug="camille-runs", title="Camille runs")
    db.session.commit()
    return page


@pytest.fixture
def demo(app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")


@pytest.fixture
def live_stripe(stripe_configured):
    """Stripe configured; the gateway's real stripe client talks HTTP through
    requests, which ``responses`` intercepts (every answer given must be asked for)."""
    with responses.RequestsMock() as mock:
        yield mock


def text(response) -> str:
    return response.get_data(as_text=True)


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def give(client, page, **fields):
    data = {"amount": "25", "other_amount": "", "project": "", "message": ""}
    data.update(fields)
    return client.post(f"/p/{page.slug}/give", data=data)


def pending_of(db, response) -> PendingGift:
    reference = urlsplit(response.headers["Location"]).path.split("/")[2]
    return db.session.scalar(select(PendingGift).where(PendingGift.reference == reference))


# --- the form ---------------------------------------------------------------------


def test_page_shows_the_give_form_with_the_organisations_amounts(client, page, demo):
    ProjectFactory(cause=page.cause, slug="wells", name="Wells in Burkina Faso")
    response = client.get(f"/p/{page.slug}")
    body = text(response)
    assert response.status_code == 200
    assert f'action="/p/{page.slug}/give#give"' in body
    for label in ("€10", "€25", "€50"):
        assert label in body
    # The middle suggestion is chosen to start with.
    assert '<input checked id="amount-1" name="amount" type="radio" value="25">' in body
    assert "<legend>Amount</legend>" in body
    assert "Where it's most needed" in body and "Wells in Burkina Faso" in body
    assert "In euros, from €2 to €10,000." in body
    assert "no real money moves" in body


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": "other", "other_amount": "1"}, "other_amount", "The smallest gift is €2"),
        ({"amount": "other", "other_amount": "10001"}, "other_amount", "The largest gift online"),
        (
            {"amount": "other", "other_amount": "abc"},
            "other_amount",
            "Enter the amount as a number",
        ),
        ({"amount": "other", "other_amount": "-5"}, "other_amount", "more than zero"),
        ({"amount": "other", "other_amount": "12.345"}, "other_amount", "as a number"),
        ({"amount": "other", "other_amount": ""}, "other_amount", "Enter the amount you want"),
        ({"amount": "abc"}, "amount", "Enter the amount as a number"),
        ({"amount": ""}, "amount", "Choose an amount"),
        ({"message": "x" * 501}, "message", "under 500 characters"),
        ({"donor_email": "not-an-email"}, "donor_email", "Enter an email address"),
    ],
)
def test_bad_gifts_are_refused_with_a_clear_message_and_nothing_saved(
    client, db, page, demo, fields, field, message
):
    response = give(client, page, **fields)
    body = text(response)
    assert response.status_code == 422
    assert message in body
    assert f'href="#{field}"' in body  # the error summary links to the field
    assert f'id="{field}-error"' in body  # and the field's error is tied to it
    assert re.search(rf'aria-describedby="[^"]*\b{field}-error"', body)
    assert count(db, PendingGift) == 0


def test_a_project_of_another_cause_is_refused(client, db, page, demo):
    elsewhere = ProjectFactory(slug="elsewhere")
    db.session.commit()
    response = give(client, page, project=elsewhere.slug)
    assert response.status_code == 422
    assert "Choose one of this campaign's projects" in text(response).replace("&#39;", "'")
    assert count(db, PendingGift) == 0


@pytest.mark.parametrize("status", [PageStatus.CLOSED])
def test_a_closed_page_takes_no_gift(client, db, page, demo, status):
    page.status = status
    db.session.commit()
    response = give(client, page)
    assert response.status_code == 422
    assert "This page is closed and no longer takes gifts" in text(response)
    assert count(db, PendingGift) == 0


def test_services_refuse_pages_that_do_not_take_gifts(db, page):
    for status in (PageStatus.DRAFT, PageStatus.HIDDEN, PageStatus.CLOSED):
        page.status = status
        with pytest.raises(giving.ValidationError) as exc:
            giving.start_gift(page, {"amount": "25"})
        assert "page" in exc.value.errors
    page.status = PageStatus.PUBLISHED
    page.cause.status = "closed"
    with pytest.raises(giving.ValidationError):
        giving.start_gift(page, {"amount": "25"})
    assert count(db, PendingGift) == 0


def test_a_free_amount_wins_over_the_suggested_one(db, page):
    pending = giving.start_gift(page, {"amount": "25", "other_amount": "30,50"})
    assert (pending.amount_minor, pending.currency) == (3050, "EUR")


def test_a_hidden_draft_page_is_not_found(client, db, page, demo):
    page.status = PageStatus.DRAFT
    db.session.commit()
    assert give(client, page).status_code == 404


# --- Stripe Checkout --------------------------------------------------------------


def test_give_creates_a_checkout_session_and_redirects_to_it(client, db, page, live_stripe):
    project = ProjectFactory(cause=page.cause, slug="wells")
    db.session.commit()
    live_stripe.add(
        responses.POST,
        STRIPE_SESSIONS,
        json={
            "id": "cs_test_a1b2c3",
            "object": "checkout.session",
            "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
        },
    )
    response = give(
        client,
        page,
        amount="other",
        other_amount="42",
        project="wells",
        message="Go Camille!",
        donor_email="ada@example.org",
        donor_name="Ada",
        is_anonymous="y",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"

    pending = db.session.scalar(select(PendingGift))
    assert pending.amount_minor == 4200 and pending.project_id == project.id
    assert pending.is_anonymous and pending.message == "Go Camille!"
    assert pending.stripe_checkout_session_id == "cs_test_a1b2c3"
    assert pending.status == PendingGiftStatus.PENDING

    (call,) = live_stripe.calls
    sent = parse_qs(call.request.body)
    one = {key: values[0] for key, values in sent.items()}
    assert one["mode"] == "payment"
    assert one["line_items[0][price_data][unit_amount]"] == "4200"
    assert one["line_items[0][price_data][currency]"] == "eur"
    assert one["line_items[0][quantity]"] == "1"
    assert one["metadata[page]"] == "camille-runs"
    assert one["metadata[cause]"] == page.cause.slug
    assert one["metadata[project]"] == "wells"
    assert one["metadata[pending]"] == pending.reference
    assert one["payment_intent_data[metadata][page]"] == "camille-runs"
    assert one["client_reference_id"] == pending.reference
    assert one["customer_email"] == "ada@example.org"
    assert one["locale"] == "en"
    assert one["success_url"].endswith(
        f"/give/{pending.reference}/thanks?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert one["cancel_url"].endswith(f"/p/{page.slug}#give")
    assert call.request.headers["Idempotency-Key"] == f"pending-gift-{pending.reference}"
    assert call.request.headers["Authorization"] == "Bearer sk_test_relais"
    # Starting a payment records no money.
    assert count(db, Donation) == 0


def test_where_it_is_most_needed_sends_an_empty_project(client, db, page, live_stripe):
    live_stripe.add(
        responses.POST,
        STRIPE_SESSIONS,
        json={"id": "cs_test_x", "object": "checkout.session", "url": "https://checkout.test/x"},
    )
    assert give(client, page).status_code == 303
    sent = parse_qs(live_stripe.calls[0].request.body, keep_blank_values=True)
    assert sent["metadata[project]"] == [""]
    assert sent["line_items[0][price_data][unit_amount]"] == ["2500"]
    assert "customer_email" not in sent


def test_stripe_down_shows_a_sentence_and_charges_nothing(client, db, page, live_stripe):
    live_stripe.add(
        responses.POST,
        STRIPE_SESSIONS,
        status=500,
        json={"error": {"type": "api_error", "message": "Something went wrong"}},
    )
    response = give(client, page)
    assert response.status_code == 503
    assert "The payment service did not answer. Nothing was charged" in text(response)
    assert count(db, Donation) == 0


def test_no_test_payment_page_once_stripe_is_set_up(client, db, page, live_stripe):
    pending = giving.start_gift(page, {"amount": "25"})
    db.session.commit()
    assert client.get(f"/give/{pending.reference}/test-payment").status_code == 404
    assert client.post(f"/give/{pending.reference}/test-payment").status_code == 404
    assert count(db, Donation) == 0


# --- success page -------------------------------------------------------------------


def test_the_thank_you_page_records_nothing(client, db, page, demo):
    pending = giving.start_gift(page, {"amount": "25", "donor_email": "ada@example.org"})
    pending.stripe_checkout_session_id = "cs_test_paid_but_not_yet_told"
    db.session.commit()
    before = figures_one(TotalScope.PAGE, page.id)
    response = client.get(
        f"/give/{pending.reference}/thanks?session_id=cs_test_paid_but_not_yet_told"
    )
    assert response.status_code == 200
    assert "Your gift is being confirmed" in text(response)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert count(db, Donation) == 0 and count(db, StripeEvent) == 0
    assert figures_one(TotalScope.PAGE, page.id) == before
    db.session.refresh(pending)
    assert pending.status == PendingGiftStatus.PENDING
    # Its receipt is not there either.
    assert client.get(f"/receipts/{pending.reference}").status_code == 404


def test_unknown_references_are_not_found(client, db, demo):
    assert client.get("/give/0123456789abcdef0123456789abcdef/thanks").status_code == 404
    assert client.get("/receipts/not-a-reference").status_code == 404


# --- the demo's test payment ---------------------------------------------------------


def test_the_test_payment_event_is_shaped_like_stripes(db, page):
    project = ProjectFactory(cause=page.cause, slug="wells")
    pending = giving.start_gift(
        page,
        {"amount": "25", "project": "wells", "donor_email": "ada@example.org", "share": "abc"},
    )
    pending.stripe_checkout_session_id = f"cs_test_{pending.reference}"
    event = completed_event(pending, created=1_780_000_000)
    # The stripe library reads it as it reads a webhook body.
    parsed = stripe.Event.construct_from(json.loads(json.dumps(event)), "sk_test_x")
    assert parsed.type == "checkout.session.completed"
    assert parsed.id.startswith("evt_test_")
    session = parsed.data.object
    assert session.object == "checkout.session"
    assert session.id == pending.stripe_checkout_session_id
    assert session.payment_status == "paid" and session.mode == "payment"
    assert session.amount_total == 2500 and session.currency == "eur"
    assert session.payment_intent.startswith("pi_")
    assert session.client_reference_id == pending.reference
    assert session.customer_details.email == "ada@example.org"
    assert session.metadata.to_dict() == {
        "page": page.slug,
        "cause": page.cause.slug,
        "project": project.slug,
        "share": "abc",
        "pending": pending.reference,
        "cover": "0",
        "organisation": page.cause.organisation.slug,
    }


def test_demo_test_payment_moves_the_totals_and_writes_a_receipt(client, db, page, event, demo):
    cause = page.cause
    before = {
        "page": figures_one(TotalScope.PAGE, page.id),
        "event": figures_one(TotalScope.EVENT, event.id),
        "cause": figures_one(TotalScope.CAUSE, cause.id),
    }
    response = give(
        client,
        page,
        donor_name="Ada Lovelace",
        donor_email="ada@example.org",
        message="For the wells!",
    )
    assert response.status_code == 303
    pending = pending_of(db, response)
    assert response.headers["Location"] == f"/give/{pending.reference}/test-payment"

    payment = client.get(response.headers["Location"])
    assert payment.status_code == 200
    assert "no real money moves" in text(payment)
    assert "Pay €25 (test)" in text(payment)
    assert count(db, Donation) == 0  # showing the payment page records nothing

    paid = client.post(f"/give/{pending.reference}/test-payment")
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"/give/{pending.reference}/thanks"

    assert figures_one(TotalScope.PAGE, page.id).raised_minor == before["page"].raised_minor + 2500
    assert (
        figures_one(TotalScope.EVENT, event.id).raised_minor == before["event"].raised_minor + 2500
    )
    assert (
        figures_one(TotalScope.CAUSE, cause.id).raised_minor == before["cause"].raised_minor + 2500
    )
    gift = db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT))
    assert (gift.pending_gift_id, gift.message, gift.donor_name) == (
        pending.id,
        "For the wells!",
        "Ada Lovelace",
    )
    assert gift.stripe_event_id == f"evt_test_{pending.reference}"
    db.session.refresh(pending)
    assert pending.status == PendingGiftStatus.PAID

    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.trigger == "receipt"))
    assert mail.recipient == "ada@example.org" and mail.status == "queued"
    assert gift.receipt_number in mail.subject and gift.receipt_number in mail.body_text
    assert "twenty-five euros" in mail.body_text
    assert f"/receipts/{pending.reference}" in mail.body_text

    thanks = client.get(paid.headers["Location"])
    assert "Your gift is confirmed" in text(thanks)
    assert f'href="/receipts/{pending.reference}"' in text(thanks)

    # Paying again (a double click) is the same event: nothing more.
    again = client.post(f"/give/{pending.reference}/test-payment")
    assert again.status_code == 303
    assert count(db, Donation) == 2  # the gift and its (demo) Stripe fee
    assert figures_one(TotalScope.PAGE, page.id).raised_minor == before["page"].raised_minor + 2500


def test_the_printable_receipt_has_what_a_recu_fiscal_needs(client, db, page, demo):
    response = give(client, page, amount="other", other_amount="1234.50", donor_name="Ada")
    pending = pending_of(db, response)
    client.post(f"/give/{pending.reference}/test-payment")
    gift = db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT))

    receipt = client.get(f"/receipts/{pending.reference}")
    body = text(receipt)
    assert receipt.status_code == 200
    assert receipt.headers["Cache-Control"] == "private, no-store"
    assert "Association Eau Vive" in body
    assert "12 rue de la Source\n69001 Lyon" in body
    assert "Ada" in body
    assert "€1,234.50" in body
    assert "one thousand, two hundred and thirty-four euro" in body and "fifty cents" in body
    assert gift.receipt_number in body and gift.receipt_number.startswith("EV-")
    assert "Bank card, online" in body
    # The print rules (no menu, black on white) are in the site's stylesheet.
    stylesheet = client.get("/static/relais.css").get_data(as_text=True)
    assert "relais.css" in receipt.get_data(as_text=True)
    assert "@media print" in stylesheet and ".receipt" in stylesheet
    assert "articles 200 and 238 bis" in body


def test_amounts_in_words_in_french_and_english():
    assert receipts.amount_in_words(2500, "EUR", "fr") == "vingt-cinq euros"
    assert receipts.amount_in_words(100, "EUR", "fr") == "un euro"
    assert receipts.amount_in_words(2500, "EUR", "en") == "twenty-five euros"
    assert receipts.amount_in_words(2550, "EUR", "fr") == "vingt-cinq euros et cinquante centimes"


# --- the donor wall ----------------------------------------------------------------------


def pay(client, db, page, **fields) -> PendingGift:
    response = give(client, page, **fields)
    assert response.status_code == 303, text(response)
    pending = pending_of(db, response)
    assert client.post(f"/give/{pending.reference}/test-payment").status_code == 303
    return pending


def test_the_donor_wall_shows_names_messages_and_amounts_unless_hidden(
    client, db, page, event, demo
):
    pay(client, db, page, donor_name="Ada Lovelace", message="Go go go", amount="50")
    pay(client, db, page, donor_name="Secret Sam", is_anonymous="y", message="Shh", amount="10")
    pay(
        client,
        db,
        page,
        donor_name="Modest Max",
        is_amount_hidden="y",
        amount="other",
        other_amount="777",
    )

    body = text(client.get(f"/p/{page.slug}"))
    wall = body[body.index('id="donor-wall-title"') :]
    assert "Ada Lovelace" in wall and "Go go go" in wall and "€50" in wall
    assert "Secret Sam" not in wall and "Anonymous" in wall and "Shh" in wall and "€10" in wall
    assert "Modest Max" in wall and "€777" not in wall
    # Newest first.
    assert wall.index("Modest Max") < wall.index("Anonymous") < wall.index("Ada Lovelace")
    # The event's wall shows its members' gifts too.
    assert "Ada Lovelace" in text(client.get(f"/p/{event.slug}"))


def test_a_refunded_gift_leaves_the_wall(db, page):
    from campaigns.giving import ledger as services
    from campaigns.giving.models import DonationKind

    gift = services.record_gift(
        page=page, cause=page.cause, amount_minor=2500, donor_name="Refunded Rita"
    )
    assert [e.name for e in giving.donor_wall(page)] == ["Refunded Rita"]
    db.session.add(
        Donation(
            kind=DonationKind.REFUND,
            organisation_id=gift.organisation_id,
            cause_id=gift.cause_id,
            page_id=gift.page_id,
            amount_minor=-2500,
            currency="EUR",
            original_id=gift.id,
        )
    )
    db.session.flush()
    assert giving.donor_wall(page) == []


def test_production_without_stripe_takes_no_simulated_payment(app, db, client):
    """A production site whose Stripe keys are not set yet must not let anyone
    write gifts through the demo's test payment."""
    from campaigns.giving.models import PendingGift
    from tests.factories import PageFactory

    page = PageFactory()
    db.session.commit()
    app.config["RELAIS_ENV"] = "production"
    try:
        response = client.post(f"/p/{page.slug}/give", data={"amount": "25"})
        assert response.status_code == 503
        assert b"not set up yet" in response.data
        for pending in db.session.scalars(select(PendingGift)):
            assert client.get(f"/give/{pending.reference}/test-payment").status_code == 404
            assert client.post(f"/give/{pending.reference}/test-payment").status_code == 404
        assert db.session.scalar(select(func.count(Donation.id))) == 0
    finally:
        app.config["RELAIS_ENV"] = "development"
