"""Staff refund requests: the donation page, Stripe's refund API (the real stripe
library, its HTTP intercepted with ``responses``), the demo's simulated refund,
idempotency, validation and access.

The ledger changes only when Stripe's ``charge.refunded`` event arrives; the
demo builds that event and runs it through the same code at once.
"""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import parse_qs

import pytest
import requests
import responses
from flask_babel import force_locale
from sqlalchemy import func, select

from agents.models import Agent, MembershipRole
from campaigns.audit import AuditEntry
from campaigns.errors import Conflict, PermissionDenied, ValidationError
from campaigns.giving import refund_requests
from campaigns.giving import services as giving
from campaigns.giving.checkout import completed_event
from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.offline import services as offline
from campaigns.offline.models import OfflineGift
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db as _db
from tests import stripe_objects as so
from tests.conftest import own_database, race
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)

REFUNDS = "https://api.stripe.com/v1/refunds"


@pytest.fixture
def page(db, org):
    event = EventPageFactory(cause=CauseFactory(organisation=org), slug="lyon-night")
    return PageFactory(cause=event.cause, parent=event, slug="camille-runs", title="Camille runs")


@pytest.fixture
def staffer(db, org):
    return MembershipFactory(organisation=org, role=MembershipRole.STAFF, agent__name="Inès").agent


@pytest.fixture
def demo(app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def paid_gift(db, page, amount: str = "25") -> Donation:
    """A card gift recorded the way Stripe's webhook records one."""
    pending = giving.start_gift(
        page,
        {"amount": "other", "other_amount": amount, "donor_email": "ada@example.org"},
    )
    assert process_event(completed_event(pending)) == "recorded"
    return giving.gift_of(pending)


def url(gift: Donation, org_slug: str = "eau-vive") -> str:
    return f"/staff/{org_slug}/donations/{gift.id}"


def seen_on(client, gift: Donation) -> str:
    """The refund form's hidden state, as the browser would send it back."""
    body = client.get(url(gift)).get_data(as_text=True)
    return re.search(r'name="seen" type="hidden" value="([^"]*)"', body).group(1)


def post_refund(client, gift: Donation, amount: str, reason: str = "Donor's mistake", seen=None):
    seen = seen_on(client, gift) if seen is None else seen
    return client.post(
        f"{url(gift)}/refund", data={"amount": amount, "reason": reason, "seen": seen}
    )


def raised(page) -> dict[str, int]:
    return {
        "page": totals.figures_one(TotalScope.PAGE, page.id).raised_minor,
        "event": totals.figures_one(TotalScope.EVENT, page.parent_id).raised_minor,
        "cause": totals.figures_one(TotalScope.CAUSE, page.cause_id).raised_minor,
        "organisation": totals.figures_one(
            TotalScope.ORGANISATION, page.cause.organisation_id
        ).raised_minor,
    }


def each(amount: int) -> dict[str, int]:
    return dict.fromkeys(("page", "event", "cause", "organisation"), amount)


def refund_rows(db, gift: Donation) -> list[int]:
    return list(
        db.session.scalars(
            select(Donation.amount_minor)
            .where(Donation.original_id == gift.id, Donation.kind == DonationKind.REFUND)
            .order_by(Donation.id)
        )
    )


def requests_logged(db) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "refund.request").order_by(AuditEntry.id)
        )
    )


def stripe_refund(gift: Donation, amount: int, status: str = "succeeded") -> dict:
    refund = so.refund(so.stripe_id("ch"), gift.stripe_payment_intent_id, amount)
    return {**refund, "status": status}


# --- who gets in ------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(db, client, page):
    gift = paid_gift(db, page)
    db.session.commit()
    for response in (client.get(url(gift)), client.post(f"{url(gift)}/refund", data={})):
        assert response.status_code in (302, 401)
        if response.status_code == 302:
            assert "/account/login" in response.headers["Location"]
    assert requests_logged(db) == []


def test_agents_who_are_not_staff_get_403_and_refund_nothing(db, client, as_agent, page, demo):
    gift = paid_gift(db, page)
    as_agent(page.owner)
    assert client.get(url(gift)).status_code == 403
    response = client.post(
        f"{url(gift)}/refund", data={"amount": "25", "reason": "Mine", "seen": "0:0"}
    )
    assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        refund_requests.request_refund(page.owner, gift, 2500, "Mine")
    assert refund_rows(db, gift) == [] and requests_logged(db) == []
    assert raised(page) == each(2500)


def test_staff_of_another_organisation_cannot_see_or_refund_the_gift(
    db, client, as_agent, page, demo, outsider
):
    gift = paid_gift(db, page)
    as_agent(outsider)
    assert client.get(url(gift)).status_code == 403
    assert client.get(url(gift, "autre")).status_code == 404
    response = client.post(
        f"{url(gift, 'autre')}/refund", data={"amount": "25", "reason": "x", "seen": "0:0"}
    )
    assert response.status_code == 404
    assert client.get("/staff/eau-vive/donations/999999").status_code == 403
    assert refund_rows(db, gift) == [] and requests_logged(db) == []


def test_an_unknown_donation_is_404(db, client, as_agent, staffer):
    as_agent(staffer)
    assert client.get("/staff/eau-vive/donations/999999").status_code == 404
    assert client.get("/staff/eau-vive/donations/99999999999").status_code == 404


# --- the donation page -------------------------------------------------------------


def test_staff_see_the_gift_and_a_form_for_a_full_refund(db, client, as_agent, staffer, page, demo):
    gift = paid_gift(db, page, "25")
    as_agent(staffer)
    response = client.get(url(gift))
    body = text(response)
    assert response.status_code == 200
    assert f"Gift #{gift.id}: €25" in body
    assert "Camille runs" in body and "ada@example.org" in body
    assert gift.stripe_payment_intent_id in body
    assert "No refund or dispute." in body
    assert "You can refund up to €25." in body
    assert 'name="amount" required type="text" value="25"' in body
    assert seen_on(client, gift) == "0:0"
    assert "No staff action on this gift yet." in body


def test_a_refund_row_leads_to_its_gift(db, client, as_agent, staffer, page, demo):
    gift = paid_gift(db, page)
    refund_requests.request_refund(staffer, gift, 500, "Part")
    (row_id,) = db.session.scalars(select(Donation.id).where(Donation.original_id == gift.id))
    as_agent(staffer)
    response = client.get(f"/staff/eau-vive/donations/{row_id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(url(gift))


def test_cash_is_not_refunded_through_stripe(db, client, as_agent, staffer, page, demo):
    cash = OfflineGift(
        page_id=page.id, recorded_by_id=page.owner_id, amount_minor=3000, currency="EUR"
    )
    db.session.add(cash)
    db.session.flush()
    donation = offline.confirm_offline_gift(staffer, cash)
    as_agent(staffer)
    body = text(client.get(url(donation)))
    assert "Cash and cheques are given back by hand" in body
    assert 'name="reason"' not in body
    # Its confirmation is in the gift's audit trail.
    assert "Confirmed €30 collected for “Camille runs”" in body
    response = post_refund(client, donation, "30", seen="0:0")
    assert response.status_code == 409
    assert "Cash and cheques are given back by hand" in text(response)
    assert requests_logged(db) == []
    assert raised(page) == each(3000)


# --- the demo: the refund lands at once, exactly once ---------------------------------


def test_demo_full_refund_takes_the_gift_out_of_every_total(
    db, client, as_agent, staffer, page, demo
):
    gift = paid_gift(db, page, "25")
    assert raised(page) == each(2500)
    as_agent(staffer)
    response = post_refund(client, gift, "25", "The donor gave twice by mistake.")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(url(gift))

    assert refund_rows(db, gift) == [-2500]
    assert raised(page) == each(0)
    assert totals.drift() == []
    (entry,) = requests_logged(db)
    assert (entry.actor_id, entry.actor_name) == (staffer.id, "Inès")
    assert (entry.subject_type, entry.subject_id) == ("donations", gift.id)
    assert (entry.amount_minor, entry.currency) == (2500, "EUR")
    assert entry.details["reason"] == "The donor gave twice by mistake."
    assert entry.details["cumulative_minor"] == 2500

    body = text(client.get(url(gift)))
    assert "Refunded €25: the totals show it already (demo payment)." in body
    assert "Still counted" in body and "€0" in body
    assert "Nothing is left of this gift to refund." in body
    assert "waiting for Stripe" not in body
    assert (
        f"Inès · Asked Stripe to refund €25 of gift #{gift.id}: The donor gave twice by mistake."
        in body
    )
    # Nothing left: a new request is refused and changes nothing.
    refused = post_refund(client, gift, "1", seen=refund_requests.refund_state(gift).token)
    assert refused.status_code == 422
    assert "Nothing is left of this gift to refund." in text(refused)
    assert refund_rows(db, gift) == [-2500] and len(requests_logged(db)) == 1


def test_demo_double_click_refunds_once(db, client, as_agent, staffer, page, demo):
    gift = paid_gift(db, page, "25")
    as_agent(staffer)
    seen = seen_on(client, gift)
    first = post_refund(client, gift, "10", seen=seen)
    second = post_refund(client, gift, "10", seen=seen)
    assert first.status_code == second.status_code == 303
    assert "This refund was already requested: it was not sent twice." in text(
        client.get(url(gift))
    )
    assert refund_rows(db, gift) == [-1000]
    assert len(requests_logged(db)) == 1
    assert raised(page) == each(1500)

    # The same form with another amount: the gift changed since, nothing is sent.
    stale = post_refund(client, gift, "5", seen=seen)
    assert stale.status_code == 409
    assert "This gift changed since you opened the page" in text(stale)
    assert refund_rows(db, gift) == [-1000]

    # A new request, from the page as it is now, is a second partial refund.
    assert post_refund(client, gift, "5").status_code == 303
    assert refund_rows(db, gift) == [-1000, -500]
    assert raised(page) == each(1000)
    assert [e.details["cumulative_minor"] for e in requests_logged(db)] == [1000, 1500]
    assert totals.drift() == []


@pytest.mark.parametrize(
    ("amount", "reason", "field", "message"),
    [
        ("0", "Asked", "amount", "Enter an amount above zero"),
        ("-5", "Asked", "amount", "Enter an amount above zero"),
        ("ten", "Asked", "amount", "Enter the amount to refund, for example 25 or 12.50."),
        ("10.555", "Asked", "amount", "Enter the amount to refund"),
        ("25.01", "Asked", "amount", "You can refund at most €25 of this gift."),
        ("10", "   ", "reason", "Say why the gift is refunded"),
        ("10", "x" * 1001, "reason", "Keep this under 1000 characters."),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    db, client, as_agent, staffer, page, demo, amount, reason, field, message
):
    gift = paid_gift(db, page, "25")
    as_agent(staffer)
    response = post_refund(client, gift, amount, reason)
    assert response.status_code == 422
    body = text(response)
    assert message in body
    assert f'<a href="#{field}">' in body
    assert refund_rows(db, gift) == [] and requests_logged(db) == []
    assert raised(page) == each(2500)


@pytest.mark.parametrize("amount", ["99", "lots"])
def test_every_problem_is_named_at_once(db, client, as_agent, staffer, page, demo, amount):
    gift = paid_gift(db, page, "25")
    as_agent(staffer)
    response = post_refund(client, gift, amount, "")
    assert response.status_code == 422
    body = text(response)
    assert '<a href="#amount">' in body and '<a href="#reason">' in body
    assert "Say why the gift is refunded" in body
    assert refund_rows(db, gift) == [] and requests_logged(db) == []


def test_a_garbled_form_state_is_a_conflict_not_an_error(db, client, as_agent, staffer, page, demo):
    gift = paid_gift(db, page)
    as_agent(staffer)
    response = post_refund(client, gift, "10", seen="nonsense")
    assert response.status_code == 409
    # The form shown again carries the current state: sending it works.
    again = re.search(r'name="seen" type="hidden" value="([^"]*)"', response.text).group(1)
    assert again == "0:0"
    assert post_refund(client, gift, "10", seen=again).status_code == 303
    assert refund_rows(db, gift) == [-1000]


def test_a_dispute_lowers_what_can_be_refunded(db, staffer, page, demo):
    gift = paid_gift(db, page, "25")
    dispute = so.dispute(
        charge_id=so.stripe_id("ch"), payment_intent_id=gift.stripe_payment_intent_id, amount=2000
    )
    assert process_event(so.event(dispute, "charge.dispute.created")) == "recorded"
    assert refund_requests.refund_state(gift).refundable_minor == 500
    with pytest.raises(ValidationError) as refused, force_locale("en"):
        refund_requests.request_refund(staffer, gift, 600, "Asked")
    assert "at most 5" in refused.value.errors["amount"].replace("€", "")
    refund_requests.request_refund(staffer, gift, 500, "Asked")
    assert raised(page) == each(0)
    assert totals.drift() == []


def test_a_command_refunds_without_an_actor(db, page, demo):
    gift = paid_gift(db, page, "25")
    outcome = refund_requests.request_refund(None, gift, 2500, "Chargeback agreed by phone")
    assert outcome.is_demo and not outcome.is_repeat
    assert (outcome.entry.actor_id, outcome.entry.actor_name) == (None, "")
    assert raised(page) == each(0)


def test_no_refunds_in_production_without_stripe(
    app, db, client, as_agent, staffer, page, demo, monkeypatch
):
    gift = paid_gift(db, page)
    monkeypatch.setitem(app.config, "RELAIS_ENV", "production")
    as_agent(staffer)
    body = text(client.get(url(gift)))
    assert "Refunds go through Stripe, which is not set up on this site." in body
    response = post_refund(client, gift, "10", seen="0:0")
    assert response.status_code == 409
    assert "set STRIPE_SECRET_KEY" in text(response)
    assert refund_rows(db, gift) == [] and requests_logged(db) == []


# --- Stripe ---------------------------------------------------------------------------


def test_stripe_is_asked_and_the_ledger_waits_for_its_webhook(
    db, client, as_agent, staffer, page, stripe_api
):
    gift = paid_gift(db, page, "25")
    stripe_api.add(responses.POST, REFUNDS, json=stripe_refund(gift, 1000, "pending"))
    as_agent(staffer)
    response = post_refund(client, gift, "10", "Wrong amount typed")
    assert response.status_code == 303

    (call,) = stripe_api.calls
    sent = {key: values[0] for key, values in parse_qs(call.request.body).items()}
    assert sent == {
        "payment_intent": gift.stripe_payment_intent_id,
        "amount": "1000",
        "metadata[relais_donation]": str(gift.id),
        "metadata[relais_organisation]": str(gift.organisation_id),
    }
    key = refund_requests.idempotency_key(gift, 0, 1000)
    assert call.request.headers["Idempotency-Key"] == key
    assert call.request.headers["Authorization"] == "Bearer sk_test_relais"
    (entry,) = requests_logged(db)
    assert entry.details["idempotency_key"] == key
    assert entry.details["refund_id"].startswith("re_")
    assert entry.details["refund_status"] == "pending"

    # Asking changed no money: the ledger waits for Stripe's charge.refunded.
    assert refund_rows(db, gift) == []
    assert raised(page) == each(2500)
    body = text(client.get(url(gift)))
    assert "Stripe accepted the refund of €10." in body
    assert "Refund of €10 requested, waiting for Stripe." in body
    assert "You can refund up to €15." in body

    charge = so.charge(
        payment_intent_id=gift.stripe_payment_intent_id,
        amount=2500,
        amount_refunded=1000,
        refund_amounts=[1000],
    )
    refunded = so.event(charge, "charge.refunded")
    assert process_event(refunded) == "recorded"
    assert process_event(refunded) == "duplicate"
    db.session.commit()
    assert refund_rows(db, gift) == [-1000]
    assert raised(page) == each(1500)
    body = text(client.get(url(gift)))
    assert "waiting for Stripe" not in body
    assert "You can refund up to €15." in body
    assert totals.drift() == []


def test_a_double_click_asks_stripe_once(db, client, as_agent, staffer, page, stripe_api):
    gift = paid_gift(db, page, "25")
    stripe_api.add(responses.POST, REFUNDS, json=stripe_refund(gift, 2500))
    as_agent(staffer)
    seen = seen_on(client, gift)
    assert post_refund(client, gift, "25", seen=seen).status_code == 303
    assert post_refund(client, gift, "25", seen=seen).status_code == 303
    assert len(stripe_api.calls) == 1
    assert len(requests_logged(db)) == 1
    # While Stripe has not confirmed, nothing more can be asked.
    body = text(client.get(url(gift)))
    assert "The rest of this gift is already being refunded: wait for Stripe." in body
    refused = post_refund(client, gift, "1", seen=refund_requests.refund_state(gift).token)
    assert refused.status_code == 422
    assert len(stripe_api.calls) == 1


def test_sending_again_after_stripe_did_not_answer_uses_the_same_key(
    db, client, as_agent, staffer, page, stripe_api
):
    gift = paid_gift(db, page, "25")
    stripe_api.add(responses.POST, REFUNDS, body=requests.exceptions.ConnectionError("reset"))
    stripe_api.add(responses.POST, REFUNDS, json=stripe_refund(gift, 500))
    as_agent(staffer)
    seen = seen_on(client, gift)
    failed = post_refund(client, gift, "5", seen=seen)
    assert failed.status_code == 502
    assert "Stripe did not answer, so we cannot tell whether the refund was made." in text(failed)
    assert requests_logged(db) == []
    assert post_refund(client, gift, "5", seen=seen).status_code == 303
    first, second = stripe_api.calls
    assert first.request.headers["Idempotency-Key"] == second.request.headers["Idempotency-Key"]
    assert len(requests_logged(db)) == 1


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (
            400,
            {
                "type": "invalid_request_error",
                "code": "charge_already_refunded",
                "message": "Charge ch_1 has already been refunded.",
            },
            "Stripe refused this refund (Charge ch_1 has already been refunded.)",
        ),
        (
            402,
            {"type": "card_error", "code": "expired_card", "message": "Your card has expired."},
            "Stripe refused this refund (Your card has expired.)",
        ),
        (
            400,
            {"type": "idempotency_error", "message": "Keys for idempotent requests can only…"},
            "A refund of another amount was sent for this gift a moment ago.",
        ),
        (
            401,
            {"type": "invalid_request_error", "message": "Invalid API Key provided"},
            "Stripe did not accept our key: check STRIPE_SECRET_KEY.",
        ),
        (
            500,
            {"type": "api_error", "message": "Something went wrong"},
            "Stripe did not answer, so we cannot tell",
        ),
    ],
)
def test_stripe_errors_are_sentences_and_record_nothing(
    db, client, as_agent, staffer, page, stripe_api, status, error, message
):
    gift = paid_gift(db, page, "25")
    stripe_api.add(responses.POST, REFUNDS, status=status, json={"error": error})
    as_agent(staffer)
    response = post_refund(client, gift, "10")
    assert response.status_code == 502
    assert message in text(response)
    assert 'name="reason"' in response.text  # the form is there to send again
    assert requests_logged(db) == []
    assert refund_rows(db, gift) == []
    assert raised(page) == each(2500)


def test_a_refund_stripe_reports_failed_is_not_logged(db, staffer, page, stripe_api, app):
    gift = paid_gift(db, page, "25")
    stripe_api.add(responses.POST, REFUNDS, json=stripe_refund(gift, 1000, "failed"))
    with pytest.raises(refund_requests.RefundError) as refused, force_locale("en"):
        refund_requests.request_refund(staffer, gift, 1000, "Asked")
    assert "status: failed" in refused.value.message
    assert requests_logged(db) == []


def test_bad_input_never_reaches_stripe(db, staffer, page, stripe_api):
    gift = paid_gift(db, page, "25")
    for amount, reason in ((0, "Asked"), (2501, "Asked"), (True, "Asked"), (100, "")):
        with pytest.raises(ValidationError):
            refund_requests.request_refund(staffer, gift, amount, reason)
    with pytest.raises(Conflict):
        refund_requests.request_refund(staffer, gift, 100, "Asked", seen="3:100")
    assert len(stripe_api.calls) == 0
    assert requests_logged(db) == []


# --- concurrency (real commits, own database) -------------------------------------


@pytest.mark.slow
def test_concurrent_double_clicks_refund_once(app, tmp_path, smtp_server):
    with own_database(app, tmp_path, "refund", smtp_server.url, STRIPE_SECRET_KEY="") as own:
        with own.app_context():
            org = OrganisationFactory()
            page = PageFactory(cause=CauseFactory(organisation=org))
            staff_id = MembershipFactory(organisation=org).agent.id
            gift = paid_gift(_db, page, "40")
            gift_id, page_id = gift.id, page.id
            seen = refund_requests.refund_state(gift).token
            _db.session.commit()

        def click(_) -> str:
            staff = _db.session.get(Agent, staff_id)
            target = _db.session.get(Donation, gift_id)
            result = refund_requests.request_refund(staff, target, 1500, "Double click", seen=seen)
            return "repeat" if result.is_repeat else "refunded"

        outcomes = race(own.test_request_context, click, range(4))

        with own.app_context():
            rows = _db.session.scalars(
                select(Donation.amount_minor).where(Donation.original_id == gift_id)
            ).all()
            assert rows == [-1500], outcomes
            assert outcomes.count("refunded") == 1, outcomes
            assert (
                _db.session.scalar(
                    select(func.count(AuditEntry.id)).where(AuditEntry.action == "refund.request")
                )
                == 1
            )
            assert totals.figures_one(TotalScope.PAGE, page_id).raised_minor == 2500
            assert totals.drift() == []
