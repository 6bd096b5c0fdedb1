"""The donor's postal address on the reçu fiscal: Stripe Checkout is asked to
collect it when the organisation issues tax receipts, the webhook keeps it
(read defensively), the demo's give form takes it, and the receipt and its
mail print it."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import func, select

from agents.models import MembershipRole
from campaigns.errors import ValidationError
from campaigns.giving import receipts
from campaigns.giving import services as giving
from campaigns.giving.models import Donation, DonationKind, PendingGift
from campaigns.offline import services as offline
from campaigns.offline.models import OfflineGift
from messaging.outbox.models import OutboxMessage
from tests import stripe_objects as so
from tests.factories import CauseFactory, MembershipFactory, OrganisationFactory, PageFactory

SECRET = "whsec_test_relais"
STRIPE_SESSIONS = "https://api.stripe.com/v1/checkout/sessions"
ADDRESS = {
    "line1": "8 rue des Lilas",
    "line2": "Bât. B",
    "postal_code": "69003",
    "city": "Lyon",
    "state": None,
    "country": "FR",
}
COLUMNS = ("donor_address_line", "donor_postal_code", "donor_city", "donor_country")
# The db fixture has opened the test's connection before the view asks for
# BEGIN IMMEDIATE; the warning says so and nothing more.
pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


@pytest.fixture(autouse=True)
def english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"


@pytest.fixture
def page(db):
    org = OrganisationFactory(
        name="Eau Vive", legal_name="Association Eau Vive", receipt_prefix="EV", currency="EUR"
    )
    page = PageFactory(cause=CauseFactory(organisation=org), slug="camille-runs")
    db.session.commit()
    return page


@pytest.fixture
def post(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)

    def post_event(session: dict):
        body, headers = so.signed(so.event(session, "checkout.session.completed"), SECRET)
        response = client.post("/webhooks/stripe", data=body, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["outcome"]

    return post_event


@pytest.fixture
def demo(app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")


@pytest.fixture
def live_stripe(stripe_configured):
    """Stripe configured; the gateway's real stripe client talks HTTP through
    requests, which ``responses`` intercepts (every answer given must be asked for)."""
    with responses.RequestsMock() as mock:
        yield mock


def pending_for(db, page, **address) -> PendingGift:
    pending = giving.start_gift(
        page, {"amount": "25", "donor_name": "Ada", "locale": "en", **address}
    )
    db.session.commit()
    return pending


def session_for(page, pending: PendingGift, **kw) -> dict:
    return so.checkout_session(
        page=page.slug,
        cause=page.cause.slug,
        reference=pending.reference,
        email="ada@example.org",
        **kw,
    )


def address_of(gift: Donation) -> tuple[str, ...]:
    return tuple(getattr(gift, column) for column in COLUMNS)


# --- asking Stripe ------------------------------------------------------------------


@pytest.mark.parametrize("issues", [True, False])
def test_checkout_asks_for_the_billing_address_only_for_tax_receipts(
    client, db, page, live_stripe, issues
):
    page.cause.organisation.issues_tax_receipts = issues
    db.session.commit()
    live_stripe.add(
        responses.POST,
        STRIPE_SESSIONS,
        json={"id": "cs_test_x", "object": "checkout.session", "url": "https://checkout.test/x"},
    )
    response = client.post(f"/p/{page.slug}/give", data={"amount": "25"})
    assert response.status_code == 303
    sent = parse_qs(live_stripe.calls[0].request.body)
    if issues:
        assert sent["billing_address_collection"] == ["required"]
    else:
        assert "billing_address_collection" not in sent


# --- the webhook ----------------------------------------------------------------------


def test_a_paid_session_keeps_the_billing_address_for_the_receipt_and_its_mail(
    client, db, page, post
):
    pending = pending_for(db, page)
    assert post(session_for(page, pending, address=ADDRESS)) == "recorded"
    gift = db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT))
    assert address_of(gift) == ("8 rue des Lilas, Bât. B", "69003", "Lyon", "FR")

    receipts.issue_pending()
    db.session.commit()
    body = client.get(f"/receipts/{pending.reference}").get_data(as_text=True)
    assert "8 rue des Lilas, Bât. B\n69003 Lyon\nFrance</address>" in body
    assert "Postal address not given" not in body
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.trigger == "receipt"))
    assert "8 rue des Lilas, Bât. B\n69003 Lyon\nFrance" in mail.body_text
    assert "8 rue des Lilas, Bât. B<br>69003 Lyon<br>France" in mail.body_html


def test_a_receipt_without_an_address_says_it_is_missing(client, db, page, post):
    pending = pending_for(db, page)
    assert post(session_for(page, pending)) == "recorded"  # Stripe's country alone
    gift = db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT))
    assert address_of(gift) == ("", "", "", "FR")
    receipts.issue_pending()
    db.session.commit()
    body = client.get(f"/receipts/{pending.reference}").get_data(as_text=True)
    assert "Postal address not given: to be completed." in body
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.trigger == "receipt"))
    assert "Postal address not given: to be completed." in mail.body_text


@pytest.mark.parametrize(
    "address, expected",
    [
        (
            {"line1": 12, "line2": ["x"], "postal_code": 69003, "city": None, "country": 33},
            ("", "", "", ""),
        ),
        (
            {"line1": "x" * 10_000, "postal_code": "9" * 500, "city": "y" * 5000, "country": "fr"},
            ("x" * 200, "9" * 20, "y" * 100, "FR"),
        ),
        ({"line1": "1 rue\x00 Haute", "country": "France"}, ("1 rue Haute", "", "", "")),
        ({"line2": "Apt 4", "city": "Nice", "country": "F1"}, ("Apt 4", "", "Nice", "")),
        ("8 rue des Lilas", ("", "", "", "")),
        (None, ("", "", "", "")),
    ],
)
def test_malformed_address_fields_are_dropped_or_capped(db, page, post, address, expected):
    pending = pending_for(db, page)
    session = session_for(page, pending)
    session["customer_details"]["address"] = address
    assert post(session) == "recorded"
    assert (
        address_of(db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT)))
        == expected
    )


def test_no_customer_details_at_all_still_records_the_gift(db, page, post):
    pending = pending_for(db, page)
    session = session_for(page, pending)
    session["customer_details"] = "nonsense"
    assert post(session) == "recorded"
    assert address_of(
        db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT))
    ) == ("", "", "", "")


def test_the_typed_address_is_used_when_stripe_sends_none(db, page, post):
    pending = pending_for(
        db, page, donor_address_line="3 place Bellecour", donor_city="Lyon", donor_country="fr"
    )
    session = session_for(page, pending)  # Stripe's address: its country alone
    assert post(session) == "recorded"
    assert address_of(
        db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT))
    ) == (
        "3 place Bellecour",
        "",
        "Lyon",
        "FR",
    )


# --- the demo's give form --------------------------------------------------------------


def test_the_demo_give_form_takes_an_address_that_the_receipt_prints(client, db, page, demo):
    form = client.get(f"/p/{page.slug}").get_data(as_text=True)
    assert 'name="donor_postal_code"' in form
    response = client.post(
        f"/p/{page.slug}/give",
        data={
            "amount": "25",
            "donor_name": "Ada",
            "donor_email": "ada@example.org",
            "donor_address_line": " 12 quai Saint-Vincent ",
            "donor_postal_code": "69001",
            "donor_city": "Lyon",
            "donor_country": "be",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    reference = response.headers["Location"].split("/")[2]
    assert client.post(f"/give/{reference}/test-payment").status_code == 303
    gift = db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT))
    assert address_of(gift) == ("12 quai Saint-Vincent", "69001", "Lyon", "BE")
    body = client.get(f"/receipts/{reference}").get_data(as_text=True)
    assert "12 quai Saint-Vincent\n69001 Lyon\nBelgium</address>" in body
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.trigger == "receipt"))
    assert "12 quai Saint-Vincent\n69001 Lyon\nBelgium" in mail.body_text


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("donor_country", "France", "two-letter code"),
        ("donor_country", "F1", "two-letter code"),
        ("donor_postal_code", "1" * 21, "under 20 characters"),
        ("donor_address_line", "x" * 201, "under 200 characters"),
    ],
)
def test_a_bad_typed_address_is_refused_and_saves_nothing(
    client, db, page, demo, field, value, words
):
    response = client.post(f"/p/{page.slug}/give", data={"amount": "25", field: value})
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(PendingGift)) == 0


def test_no_address_fields_when_the_organisation_issues_no_tax_receipts(client, db, page, demo):
    page.cause.organisation.issues_tax_receipts = False
    db.session.commit()
    assert 'name="donor_postal_code"' not in client.get(f"/p/{page.slug}").get_data(as_text=True)
    response = client.post(
        f"/p/{page.slug}/give", data={"amount": "25", "donor_address_line": "1 rue Haute"}
    )
    assert response.status_code == 303
    pending = db.session.scalar(select(PendingGift))
    assert pending.donor_address_line == ""  # not asked, not kept


# --- offline gifts ----------------------------------------------------------------------


def test_cash_recorded_with_an_address_prints_it_once_confirmed(db, client, page, login_as):
    staff = MembershipFactory(organisation=page.cause.organisation, role=MembershipRole.STAFF).agent
    db.session.commit()
    login_as(page.owner)
    client.get("/lang/en")
    assert 'name="donor_city"' in client.get(f"/p/{page.slug}/offline").get_data(as_text=True)
    data = {
        "amount": "40",
        "method": "cash",
        "donor_name": "Camille",
        "donor_email": "camille@example.org",
        "donor_address_line": "5 rue Mercière",
        "donor_postal_code": "69002",
        "donor_city": "Lyon",
        "donor_country": "FR",
    }
    response = client.post(f"/p/{page.slug}/offline", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    gift = db.session.scalar(select(OfflineGift))
    assert address_of(gift) == ("5 rue Mercière", "69002", "Lyon", "FR")

    donation = offline.confirm_offline_gift(staff, gift)
    assert address_of(donation) == address_of(gift)
    receipts.issue_pending()
    assert (
        receipts.receipt_for(donation, "fr").donor_address == "5 rue Mercière\n69002 Lyon\nFrance"
    )
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.trigger == "receipt"))
    assert "5 rue Mercière\n69002 Lyon\nFrance" in mail.body_text


def test_cash_with_a_bad_country_is_refused(db, page):
    with pytest.raises(ValidationError) as refused:
        offline.record_offline_gift(
            page.owner, page, {"amount": "40", "method": "cash", "donor_country": "FRA"}
        )
    assert "donor_country" in refused.value.errors
