"""The cost of collection: Stripe's fees as ledger rows of their own, read
from each gift's balance transaction (the record-fees job asks Stripe through
the gateway, intercepted here with ``responses``), and from the balance
transactions a dispute's event carries; gross, fees and net on the dashboard
and in open data."""

# The fixtures post and place come from test_webhooks.py, imported by name.
# ruff: noqa: F401, F811

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import select

from campaigns.giving import fees
from campaigns.giving.fee_lookup import record_fees
from campaigns.giving.models import Donation, DonationKind, FeeLookup, StripeEvent
from campaigns.giving.payments import process_event
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from campaigns.totals.rebuild import rebuild
from tests import stripe_objects as so
from tests.campaigns.giving.test_webhooks import (
    assert_outcome,
    completed,
    paid,
    place,
    post,
    raised,
)
from tests.factories import MembershipFactory

API = "https://api.stripe.com/v1"
pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


def fees_of(scope: TotalScope, scope_id: int) -> int:
    return totals.figures_one(scope, scope_id).fees_minor


def fee_rows(db) -> list[int]:
    return list(
        db.session.scalars(
            select(Donation.amount_minor)
            .where(Donation.kind == DonationKind.FEE)
            .order_by(Donation.id)
        )
    )


def everywhere(place, measure) -> list[int]:
    return [
        measure(TotalScope.PAGE, place["page"].id),
        measure(TotalScope.EVENT, place["event"].id),
        measure(TotalScope.PROJECT, place["project"].id),
        measure(TotalScope.CAUSE, place["cause"].id),
        measure(TotalScope.ORGANISATION, place["org"].id),
    ]


def gift(post, place, amount: int = 2500) -> dict:
    session = paid(place, amount=amount, project=place["project"].slug)
    assert_outcome(post(completed(session)), "recorded")
    return session


def intent_url(session: dict) -> str:
    return f"{API}/payment_intents/{session['payment_intent']}"


# --- the record-fees job ---------------------------------------------------------------


def test_the_job_books_each_gifts_fee_once_from_its_balance_transaction(
    db, post, place, stripe_api
):
    session = gift(post, place)
    txn = so.balance_transaction(amount=2500, fee=63)
    stripe_api.get(intent_url(session), json=so.paid_intent(session, txn))
    report = record_fees()
    assert report["recorded"] == 1
    (call,) = stripe_api.calls
    query = parse_qs(urlsplit(call.request.url).query)
    assert query == {"expand[0]": ["latest_charge.balance_transaction"]}
    assert "Stripe-Account" not in call.request.headers  # the site's own account
    assert fee_rows(db) == [-63]
    row = db.session.scalars(select(Donation).where(Donation.kind == DonationKind.FEE)).one()
    assert row.stripe_balance_transaction_id == txn["id"]
    assert row.original_id is not None and row.stripe_charge_id == txn["source"]
    # Fees are kept apart: what was raised (goals, leaderboards) stays gross.
    assert everywhere(place, fees_of) == [63] * 5
    assert everywhere(place, raised) == [2500] * 5
    assert totals.figures_one(TotalScope.PAGE, place["page"].id).net_minor == 2437
    assert totals.figures_one(TotalScope.PAGE, place["page"].id).donation_count == 1
    # Known now: the next run asks nothing, and the same transaction again books nothing.
    assert record_fees() == {}
    assert len(stripe_api.calls) == 1
    event = fees.fee_event(txn, payment_intent=session["payment_intent"], account=None)
    assert process_event(event) == "duplicate"
    assert process_event({**event, "id": "fee_again"}) == "duplicate"
    assert fee_rows(db) == [-63]
    assert totals.drift() == []


def test_a_fee_not_settled_yet_is_asked_again_and_stripes_silence_is_no_failure(
    db, post, place, stripe_api
):
    import requests

    session = gift(post, place)
    stripe_api.get(intent_url(session), json=so.paid_intent(session, None))
    stripe_api.get(intent_url(session), body=requests.exceptions.ConnectionError("down"))
    txn = so.balance_transaction(amount=2500, fee=40)
    stripe_api.get(intent_url(session), json=so.paid_intent(session, txn))
    assert record_fees() == {}  # a delayed payment: no balance transaction yet
    assert record_fees()["unanswered"] == 1
    assert fee_rows(db) == []
    assert record_fees()["recorded"] == 1
    assert fee_rows(db) == [-40]
    lookup = db.session.scalars(select(FeeLookup)).one()
    assert lookup.is_charge_known and lookup.attempts == 3


def test_a_refunds_fee_is_booked_once_the_refund_is_in_the_ledger(db, post, place, stripe_api):
    session = gift(post, place)
    stripe_api.get(intent_url(session), json=so.paid_intent(session, so.balance_transaction()))
    record_fees()
    charge = so.charge(payment_intent_id=session["payment_intent"], amount_refunded=1000)
    assert_outcome(post(so.event(charge, "charge.refunded")), "recorded")
    refund = so.refund(charge["id"], session["payment_intent"], 1000)
    refund["balance_transaction"] = so.balance_transaction(
        amount=-1000, fee=15, source=refund["id"], txn_type="refund"
    )
    listing = {"object": "list", "url": "/v1/refunds", "has_more": False, "data": [refund]}
    stripe_api.get(f"{API}/refunds", json=listing)
    assert record_fees()["recorded"] == 1
    call = stripe_api.calls[-1].request
    query = parse_qs(urlsplit(call.url).query)
    assert query["payment_intent"] == [session["payment_intent"]]
    assert query["expand[0]"] == ["data.balance_transaction"]
    assert fee_rows(db) == [-63, -15]
    assert everywhere(place, fees_of) == [78] * 5
    assert everywhere(place, raised) == [1500] * 5
    assert record_fees() == {}  # nothing new to ask
    assert totals.drift() == []


def test_fees_of_a_connected_account_are_asked_of_that_account(db, post, place, stripe_api):
    account = so.stripe_id("acct")
    place["org"].connected_account_id = account
    place["org"].connect_charges_enabled = True
    db.session.commit()
    session = paid(place, amount=2500)
    assert_outcome(
        post(so.event(session, "checkout.session.completed", account=account)), "recorded"
    )
    stripe_api.get(intent_url(session), json=so.paid_intent(session, so.balance_transaction()))
    assert record_fees()["recorded"] == 1
    assert stripe_api.calls[0].request.headers["Stripe-Account"] == account
    fee = db.session.scalars(select(Donation).where(Donation.kind == DonationKind.FEE)).one()
    assert fee.stripe_account_id == account
    assert fees_of(TotalScope.ORGANISATION, place["org"].id) == 63


def test_a_payment_stripe_does_not_know_is_not_asked_again(db, post, place, stripe_api):
    session = gift(post, place)
    missing = {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
    stripe_api.get(intent_url(session), status=404, json=missing)
    assert record_fees()["refused"] == 1
    assert record_fees() == {}
    assert len(stripe_api.calls) == 1 and fee_rows(db) == []


def test_the_job_and_the_command_skip_without_a_key_and_the_command_reports(
    db, app, runner, post, place, stripe_api, monkeypatch
):
    from campaigns.giving.jobs import record_fees as job

    session = gift(post, place)
    stripe_api.get(intent_url(session), json=so.paid_intent(session, so.balance_transaction()))
    result = runner.invoke(args=["stripe", "fees"])
    assert result.exit_code == 0, result.output
    assert "Fees: 1 recorded, 0 already in the ledger, 0 without an answer" in result.output
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    assert job() is None
    refused = runner.invoke(args=["stripe", "fees"])
    assert refused.exit_code != 0 and "STRIPE_SECRET_KEY" in refused.output


# --- fees before their gift, disputes, currencies --------------------------------------


def fee_event(session: dict, fee: int = 63, **kw) -> dict:
    txn = so.balance_transaction(amount=session["amount_total"], fee=fee, **kw)
    return fees.fee_event(txn, payment_intent=session["payment_intent"], account=None)


def test_a_fee_read_before_its_gift_is_kept_and_booked_when_the_gift_arrives(db, post, place):
    session = paid(place, amount=2500)
    early = fee_event(session)
    assert process_event(early) == "anomaly"
    assert fee_rows(db) == []
    assert_outcome(post(completed(session)), "recorded")
    assert fee_rows(db) == [-63]
    assert db.session.get(StripeEvent, early["id"]).resolved_at is not None
    assert totals.drift() == []


def test_a_fee_in_another_currency_than_the_gift_is_an_anomaly(db, post, place):
    session = gift(post, place)
    assert process_event(fee_event(session, currency="gbp")) == "anomaly"
    assert fee_rows(db) == []
    assert process_event(fee_event(session, fee=0)) == "ignored"
    assert fee_rows(db) == []


def dispute_with_fees(session: dict, status: str, transactions: list[dict]) -> dict:
    obj = so.dispute(
        charge_id="ch_disputed", payment_intent_id=session["payment_intent"], status=status
    )
    obj["balance_transactions"] = transactions
    return obj


def test_a_dispute_carries_its_fee_and_winning_gives_it_back(db, post, place):
    session = gift(post, place)
    withdrawal = so.balance_transaction(amount=-2500, fee=1500, txn_type="adjustment")
    created = dispute_with_fees(session, "needs_response", [withdrawal])
    assert_outcome(post(so.event(created, "charge.dispute.created")), "recorded")
    assert everywhere(place, raised) == [0] * 5
    assert everywhere(place, fees_of) == [1500] * 5
    assert_outcome(post(so.event(created, "charge.dispute.created")), "duplicate")
    # Won: Stripe reinstates the money and, here, gives the dispute fee back.
    reinstated = so.balance_transaction(amount=2500, fee=-1500, txn_type="adjustment")
    won = dispute_with_fees(session, "won", [withdrawal, reinstated])
    won["id"] = created["id"]
    assert_outcome(post(so.event(won, "charge.dispute.closed")), "recorded")
    assert everywhere(place, raised) == [2500] * 5
    assert everywhere(place, fees_of) == [0] * 5
    assert fee_rows(db) == [-1500, 1500]
    assert_outcome(post(so.event(won, "charge.dispute.closed")), "duplicate")
    assert totals.drift() == []


def test_fees_never_lower_what_can_be_refunded(db, post, place):
    session = gift(post, place)
    process_event(fee_event(session))
    charge = so.charge(payment_intent_id=session["payment_intent"], amount_refunded=2500)
    assert_outcome(post(so.event(charge, "charge.refunded")), "recorded")
    refunds = db.session.scalars(
        select(Donation.amount_minor).where(Donation.kind == DonationKind.REFUND)
    ).all()
    assert refunds == [-2500]  # the whole gift, whatever its fee
    assert everywhere(place, raised) == [0] * 5
    assert everywhere(place, fees_of) == [63] * 5  # Stripe keeps its fee on a refund
    assert totals.drift() == []


def test_rebuilt_totals_keep_the_fees(db, post, place):
    session = gift(post, place)
    process_event(fee_event(session, fee=90))
    rebuild()
    assert everywhere(place, fees_of) == [90] * 5
    assert everywhere(place, raised) == [2500] * 5
    assert totals.drift() == []


# --- what staff and the public see -----------------------------------------------------


def cell(html: str, table_id: str, row_slug: str, figure: str) -> str:
    table = re.search(rf'<table id="{table_id}".*?</table>', html, re.S).group(0)
    row = re.search(rf'<tr data-row="{row_slug}">.*?</tr>', table, re.S).group(0)
    return re.search(rf'data-figure="{figure}">([^<]*)<', row).group(1)


def test_the_dashboard_shows_gross_fees_net_and_cost_per_euro(db, client, post, place, login_as):
    session = gift(post, place, amount=4000)
    process_event(fee_event(session, fee=85))
    staff = MembershipFactory(organisation=place["org"]).agent
    db.session.commit()
    login_as(staff)
    client.get("/lang/en")
    html = client.get(f"/staff/{place['org'].slug}/dashboard/").text
    for table, slug in (
        ("cause-totals", place["cause"].slug),
        ("event-totals", place["event"].slug),
        ("page-totals", place["page"].slug),
    ):
        assert cell(html, table, slug, "fees") == "€0.85"
        assert cell(html, table, slug, "net") == "€39.15"
        assert cell(html, table, slug, "cost") == "€0.021"  # 85 / 4000
    assert re.search(r'id="cause-net">€39.15<', html)
    assert re.search(r'data-live="cause-raised">€40<', html)  # gross, as the goal counts it
    assert "Fees per €1 raised" in html


def test_public_figures_stay_gross_and_open_data_carries_fees_per_cause_and_day(
    db, client, post, place
):
    session = gift(post, place, amount=4000)
    process_event(fee_event(session, fee=85))
    db.session.commit()
    page = client.get(f"/api/v1/pages/{place['page'].slug}").get_json()
    assert page["raised"]["amount_minor"] == 4000
    rows = client.get("/open/daily.json").get_json()["daily"]
    (row,) = [r for r in rows if r["cause"] == place["cause"].slug]
    assert (row["raised_minor"], row["fees_minor"], row["donation_count"]) == (4000, 85, 1)
    csv = client.get("/open/daily.csv").get_data(as_text=True)
    assert csv.splitlines()[0] == "cause,date,raised_minor,donation_count,fees_minor,covers_minor"
    package = client.get("/open/datapackage.json").get_json()
    (daily_schema,) = [r for r in package["resources"] if r["name"] == "daily"]
    names = [f["name"] for f in daily_schema["schema"]["fields"]]
    assert "fees_minor" in names
    pages = client.get("/open/daily_pages.json").get_json()["daily_pages"]
    assert pages and all("fees_minor" not in r for r in pages)


def test_the_demo_payment_books_its_fee(db, client, app, place, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    data = {"amount": "25", "other_amount": "", "project": "", "message": ""}
    response = client.post(f"/p/{place['page'].slug}/give", data=data)
    reference = urlsplit(response.headers["Location"]).path.split("/")[2]
    client.post(f"/give/{reference}/test-payment")
    assert fee_rows(db) == [-(fees.demo_fee_minor(2500))] == [-63]  # 1.5 % + 0.25 €
    assert fees_of(TotalScope.PAGE, place["page"].id) == 63
    assert raised(TotalScope.PAGE, place["page"].id) == 2500
    assert totals.drift() == []


# --- concurrency (real commits, own database) ------------------------------------------


@pytest.mark.slow
def test_the_same_fee_read_at_once_by_several_workers_is_booked_once(app, tmp_path):
    from campaigns.giving.payments import record_event
    from extensions import db as _db
    from tests.conftest import own_database, race
    from tests.factories import CauseFactory, OrganisationFactory, PageFactory

    with own_database(app, tmp_path, "fees") as own:
        with own.app_context():
            page = PageFactory(cause=CauseFactory(organisation=OrganisationFactory()))
            session = so.checkout_session(amount=2500, page=page.slug, cause=page.cause.slug)
            _db.session.commit()
            page_id = page.id
            record_event(so.event(session, "checkout.session.completed"))
        txn = so.balance_transaction(amount=2500, fee=63)
        event = fees.fee_event(txn, payment_intent=session["payment_intent"], account=None)
        # The same event delivered twice at once, and the same transaction under other ids.
        deliveries = [event, event, event] + [{**event, "id": f"fee_copy_{n}"} for n in range(3)]
        outcomes = race(own.app_context, lambda e: record_event(e).value, deliveries)

        with own.app_context():
            booked = _db.session.scalars(
                select(Donation.amount_minor).where(Donation.kind == DonationKind.FEE)
            ).all()
            assert booked == [-63], outcomes
            assert outcomes.count("recorded") == 1
            assert totals.figures_one(TotalScope.PAGE, page_id).fees_minor == 63
            assert totals.drift() == []
