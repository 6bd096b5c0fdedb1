"""Stripe Connect: each organisation's money on its own Stripe account.

Stripe's HTTP API is intercepted with ``responses`` (the real stripe client
runs, so the ``Stripe-Account`` header it sends is what is checked), and
Connect events are Stripe's own objects, signed and posted to the webhook."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import func, select

from agents.services import set_operator
from campaigns.giving import connect
from campaigns.giving.models import Donation, StripeEvent
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from tests import stripe_objects as so
from tests.factories import (
    AgentFactory,
    CauseFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)

API = "https://api.stripe.com/v1"
PLATFORM_SECRET = "whsec_test_platform"
CONNECT_SECRET = "whsec_test_connect"
pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


@pytest.fixture
def post(app, client, monkeypatch):
    """Sign like Stripe (the Connect endpoint's secret by default) and post."""
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", PLATFORM_SECRET)
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", CONNECT_SECRET)

    def post_event(event: dict, *, secret: str = CONNECT_SECRET):
        body, headers = so.signed(event, secret)
        return client.post("/webhooks/stripe", data=body, headers=headers)

    return post_event


def connected_org(db, slug: str, *, enabled: bool = True):
    org = OrganisationFactory(
        slug=slug,
        name=slug.title(),
        connected_account_id=so.stripe_id("acct"),
        connect_charges_enabled=enabled,
        connect_details_submitted=enabled,
    )
    cause = CauseFactory(organisation=org, slug=f"{slug}-cause")
    page = PageFactory(cause=cause, slug=f"{slug}-page")
    return {"org": org, "cause": cause, "page": page, "account": org.connected_account_id}


@pytest.fixture
def two(db):
    """Two organisations, each with its own connected account."""
    places = {"a": connected_org(db, "alpha"), "b": connected_org(db, "beta")}
    db.session.commit()
    return places


def session_of(place, amount: int, **kw) -> dict:
    return so.checkout_session(
        amount=amount, page=place["page"].slug, cause=place["cause"].slug, **kw
    )


def paid(session: dict, account: str | None) -> dict:
    return so.event(session, "checkout.session.completed", account=account)


def raised(scope: TotalScope, scope_id: int) -> int:
    return totals.figures_one(scope, scope_id).raised_minor


def assert_outcome(response, outcome: str) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"received": True, "outcome": outcome}


# --- money lands with the organisation owning the account ------------------------


def test_two_organisations_receive_their_own_money_and_an_unknown_account_is_kept(
    db, client, post, two, login_as
):
    a, b = two["a"], two["b"]
    assert_outcome(post(paid(session_of(a, 2500), a["account"])), "recorded")
    assert_outcome(post(paid(session_of(a, 1000), a["account"])), "recorded")
    assert_outcome(post(paid(session_of(b, 4000), b["account"])), "recorded")

    assert raised(TotalScope.ORGANISATION, a["org"].id) == 3500
    assert raised(TotalScope.ORGANISATION, b["org"].id) == 4000
    assert raised(TotalScope.PAGE, a["page"].id) == 3500
    assert raised(TotalScope.CAUSE, b["cause"].id) == 4000
    accounts = dict(
        db.session.execute(
            select(Donation.organisation_id, func.min(Donation.stripe_account_id)).group_by(
                Donation.organisation_id
            )
        ).all()
    )
    assert accounts == {a["org"].id: a["account"], b["org"].id: b["account"]}

    # A third account that no organisation connected: kept, answered 200, nothing counted.
    stranger = so.stripe_id("acct")
    event = paid(session_of(a, 9900), stranger)
    assert_outcome(post(event), "anomaly")
    kept = db.session.get(StripeEvent, event["id"])
    assert kept.organisation_id is None and kept.stripe_account_id == stranger
    assert kept.payload["id"] == event["data"]["object"]["id"]  # the whole object is kept
    assert (kept.amount_minor, kept.currency) == (9900, "EUR")
    assert raised(TotalScope.ORGANISATION, a["org"].id) == 3500
    assert_outcome(post(event), "duplicate")  # stored once: Stripe may stop retrying
    assert totals.drift() == []

    # The operator sees it; an organisation's staff never do.
    operator = AgentFactory()
    set_operator(operator, True)
    staff = MembershipFactory(organisation=a["org"]).agent
    db.session.commit()
    login_as(operator)
    page = client.get("/operator/stripe")
    assert page.status_code == 200
    assert f'data-event="{event["id"]}"' in page.text and stranger in page.text
    login_as(staff)
    assert client.get("/operator/stripe").status_code == 403
    dashboard = client.get("/staff/alpha/dashboard/")
    assert dashboard.status_code == 200 and event["id"] not in dashboard.text


def test_money_paid_into_one_account_never_credits_another_organisations_cause(db, post, two):
    a, b = two["a"], two["b"]
    # Paid into alpha's account, but its metadata names beta's page and cause.
    event = paid(session_of(b, 5000), a["account"])
    assert_outcome(post(event), "anomaly")
    kept = db.session.get(StripeEvent, event["id"])
    assert kept.organisation_id == a["org"].id  # on alpha's list: the money is in its account
    assert raised(TotalScope.ORGANISATION, b["org"].id) == 0
    assert raised(TotalScope.ORGANISATION, a["org"].id) == 0
    assert totals.drift() == []


def test_a_refund_from_another_account_than_the_gifts_is_an_anomaly(db, post, two):
    a, b = two["a"], two["b"]
    session = session_of(a, 2500)
    assert_outcome(post(paid(session, a["account"])), "recorded")
    charge = so.charge(
        payment_intent_id=session["payment_intent"], amount=2500, amount_refunded=1000
    )
    assert_outcome(post(so.event(charge, "charge.refunded", account=b["account"])), "anomaly")
    assert raised(TotalScope.PAGE, a["page"].id) == 2500
    assert_outcome(post(so.event(charge, "charge.refunded", account=a["account"])), "recorded")
    assert raised(TotalScope.PAGE, a["page"].id) == 1500
    assert totals.drift() == []


def test_the_sites_own_endpoint_keeps_working_without_connect(db, app, client, monkeypatch):
    """One organisation, no Connect, no Connect secret: exactly as before."""
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", PLATFORM_SECRET)
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", "")
    place = connected_org(db, "solo")
    place["org"].connected_account_id = None
    db.session.commit()
    body, headers = so.signed(paid(session_of(place, 2500), None), PLATFORM_SECRET)
    assert_outcome(client.post("/webhooks/stripe", data=body, headers=headers), "recorded")
    gift = db.session.scalars(select(Donation)).one()
    assert gift.stripe_account_id is None
    # A Connect-signed body is refused while no Connect secret is set.
    body, headers = so.signed(paid(session_of(place, 100), None), CONNECT_SECRET)
    assert client.post("/webhooks/stripe", data=body, headers=headers).status_code == 400


def test_both_endpoints_secrets_are_accepted_and_a_bad_signature_is_refused(db, post, two):
    a = two["a"]
    assert_outcome(post(paid(session_of(a, 700), None), secret=PLATFORM_SECRET), "recorded")
    assert_outcome(post(paid(session_of(a, 800), a["account"])), "recorded")
    assert post(paid(session_of(a, 900), a["account"]), secret="whsec_other").status_code == 400
    assert raised(TotalScope.ORGANISATION, a["org"].id) == 1500


# --- calls to Stripe run on the organisation's account ---------------------------


def give(client, page, amount: str = "25"):
    data = {"amount": amount, "other_amount": "", "project": "", "message": ""}
    return client.post(f"/p/{page.slug}/give", data=data)


def test_checkout_runs_on_the_connected_account_once_charges_are_enabled(db, client, stripe_api):
    enabled = connected_org(db, "ready")
    onboarding = connected_org(db, "later", enabled=False)
    db.session.commit()
    for n in (1, 2):
        stripe_api.add(
            responses.POST,
            f"{API}/checkout/sessions",
            json={"id": f"cs_test_{n}", "object": "checkout.session", "url": f"https://s.test/{n}"},
        )
    assert give(client, enabled["page"]).headers["Location"] == "https://s.test/1"
    assert give(client, onboarding["page"]).headers["Location"] == "https://s.test/2"
    first, second = (call.request for call in stripe_api.calls)
    assert first.headers["Stripe-Account"] == enabled["account"]
    assert first.headers["Authorization"] == "Bearer sk_test_relais"
    # Not enabled yet: the site's own account, as before Connect.
    assert "Stripe-Account" not in second.headers


def test_a_refund_is_asked_of_the_account_the_gift_was_paid_into(
    db, client, post, two, stripe_api, login_as
):
    a = two["a"]
    session = session_of(a, 2500)
    assert_outcome(post(paid(session, a["account"])), "recorded")
    gift = db.session.scalars(select(Donation)).one()
    staff = MembershipFactory(organisation=a["org"]).agent
    db.session.commit()
    refund = so.refund("ch_x", session["payment_intent"], 1000)
    stripe_api.add(responses.POST, f"{API}/refunds", json=refund)
    login_as(staff)
    response = client.post(
        f"/staff/alpha/donations/{gift.id}/refund",
        data={"amount": "10", "reason": "Asked by the donor"},
    )
    assert response.status_code == 303, response.text
    (call,) = stripe_api.calls
    assert call.request.headers["Stripe-Account"] == a["account"]
    assert parse_qs(call.request.body)["payment_intent"] == [session["payment_intent"]]


def stripe_list(url: str, objects: list[dict]) -> dict:
    return {"object": "list", "url": url, "has_more": False, "data": objects}


def test_reconciliation_asks_every_account_and_records_each_organisations_money(
    db, runner, two, stripe_api
):
    a, b = two["a"], two["b"]
    missed_a, missed_b = session_of(a, 1200), session_of(b, 3400)
    answers = {None: [], a["account"]: [missed_a], b["account"]: [missed_b]}

    def sessions(request):
        import json

        account = request.headers.get("Stripe-Account")
        return 200, {}, json.dumps(stripe_list("/v1/checkout/sessions", answers[account]))

    stripe_api.add_callback(responses.GET, f"{API}/checkout/sessions", callback=sessions)
    stripe_api.get(f"{API}/refunds", json=stripe_list("/v1/refunds", []))
    stripe_api.get(f"{API}/disputes", json=stripe_list("/v1/disputes", []))
    result = runner.invoke(args=["stripe", "reconcile", "--since", "2d"])
    assert result.exit_code == 0, result.output
    asked = [c.request.headers.get("Stripe-Account") for c in stripe_api.calls]
    assert asked.count(None) == 3 and asked.count(a["account"]) == 3
    assert asked.count(b["account"]) == 3
    assert raised(TotalScope.ORGANISATION, a["org"].id) == 1200
    assert raised(TotalScope.ORGANISATION, b["org"].id) == 3400
    assert totals.drift() == []


# --- onboarding: the staff screen, Account Links, account.updated ----------------


@pytest.fixture
def alone(db):
    org = OrganisationFactory(slug="gamma", name="Gamma")
    admin = MembershipFactory(organisation=org).agent
    db.session.commit()
    return org, admin


def test_an_admin_connects_the_organisations_account_through_stripes_onboarding(
    db, client, login_as, alone, stripe_api
):
    org, admin = alone
    created = so.account()
    stripe_api.add(responses.POST, f"{API}/accounts", json=created)
    stripe_api.add(responses.POST, f"{API}/account_links", json=so.account_link(created["id"]))
    login_as(admin)
    screen = client.get("/staff/gamma/stripe/")
    assert screen.status_code == 200
    assert 'data-state="not_connected"' in screen.text
    assert 'action="/staff/gamma/stripe/connect"' in screen.text
    # The button's answer redirects to Stripe: the page's form-action lets it.
    csp = screen.headers["Content-Security-Policy"]
    assert "https://connect.stripe.com" in csp.split("form-action")[1].split(";")[0]

    response = client.post("/staff/gamma/stripe/connect")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("https://connect.stripe.com/setup/s/")
    new_account, link = (call.request for call in stripe_api.calls)
    assert "Stripe-Account" not in new_account.headers  # made by the platform
    assert new_account.headers["Idempotency-Key"] == f"relais-connect-{org.id}-gamma"
    sent = parse_qs(new_account.body)
    assert sent["controller[stripe_dashboard][type]"] == ["full"]
    assert sent["controller[fees][payer]"] == ["account"]
    link_sent = {k: v[0] for k, v in parse_qs(link.body).items()}
    assert link_sent["account"] == created["id"]
    assert link_sent["type"] == "account_onboarding"
    assert urlsplit(link_sent["return_url"]).path == "/staff/gamma/stripe/return"
    assert urlsplit(link_sent["refresh_url"]).path == "/staff/gamma/stripe/refresh"
    db.session.refresh(org)
    assert org.connected_account_id == created["id"]
    assert connect.state_of(org) == connect.ConnectState.ONBOARDING
    assert 'data-state="onboarding"' in client.get("/staff/gamma/stripe/").text

    # A link that expired: Stripe sends the admin to the refresh URL, a new link.
    stripe_api.add(responses.POST, f"{API}/account_links", json=so.account_link(created["id"]))
    again = client.get("/staff/gamma/stripe/refresh")
    assert again.status_code == 303 and "connect.stripe.com" in again.headers["Location"]
    # Back from Stripe: asked where the account stands, and kept.
    done = so.account(created["id"], charges_enabled=True, details_submitted=True)
    stripe_api.add(responses.GET, f"{API}/accounts/{created['id']}", json=done)
    back = client.get("/staff/gamma/stripe/return")
    assert back.status_code == 303
    db.session.refresh(org)
    assert connect.state_of(org) == connect.ConnectState.ENABLED
    assert 'data-state="enabled"' in client.get("/staff/gamma/stripe/").text
    # Connecting again makes no second account.
    stripe_api.add(responses.POST, f"{API}/account_links", json=so.account_link(created["id"]))
    client.post("/staff/gamma/stripe/connect")
    assert [c.request.url.split("?")[0] for c in stripe_api.calls].count(f"{API}/accounts") == 1


def test_only_an_admin_connects_and_stripes_refusal_changes_nothing(
    db, client, login_as, alone, stripe_api
):
    org, _admin = alone
    staffer = MembershipFactory(organisation=org, role="staff").agent
    db.session.commit()
    login_as(staffer)
    assert 'data-state="not_connected"' in client.get("/staff/gamma/stripe/").text
    assert client.post("/staff/gamma/stripe/connect").status_code == 403
    assert len(stripe_api.calls) == 0
    login_as(_admin)
    stripe_api.add(
        responses.POST,
        f"{API}/accounts",
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "Connect is not enabled"}},
    )
    refused = client.post("/staff/gamma/stripe/connect")
    assert refused.status_code == 303
    assert "Connect is not enabled" in client.get("/staff/gamma/stripe/").text
    db.session.refresh(org)
    assert org.connected_account_id is None


def test_connect_is_not_offered_without_a_stripe_key(db, client, login_as, alone, app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    _org, admin = alone
    login_as(admin)
    screen = client.get("/staff/gamma/stripe/")
    assert "Stripe Connect is not available" in screen.text
    refused = client.post("/staff/gamma/stripe/connect")
    assert refused.status_code == 303
    assert "STRIPE_SECRET_KEY" in client.get("/staff/gamma/stripe/").text


def test_account_updated_follows_stripe_and_an_older_word_changes_nothing(db, post, two):
    a = two["a"]
    a["org"].connect_charges_enabled = False
    a["org"].connect_checked_at = None
    db.session.commit()
    now = int(time.time())
    enabled = so.account(a["account"], charges_enabled=True, details_submitted=True)
    newer = so.event(enabled, "account.updated", account=a["account"], created=now)
    older = so.event(so.account(a["account"]), "account.updated", account=a["account"])
    older["created"] = now - 60
    assert_outcome(post(newer), "recorded")
    db.session.refresh(a["org"])
    assert connect.state_of(a["org"]) == connect.ConnectState.ENABLED
    assert_outcome(post(older), "duplicate")  # delivered late: Stripe said more since
    db.session.refresh(a["org"])
    assert connect.state_of(a["org"]) == connect.ConnectState.ENABLED
    # The charity disconnects the platform: no more gifts on its account.
    gone = so.event(
        {"id": "ca_relais", "object": "application", "name": "Relais"},
        "account.application.deauthorized",
        account=a["account"],
        created=now + 10,
    )
    assert_outcome(post(gone), "recorded")
    db.session.refresh(a["org"])
    assert connect.account_for(a["org"]) is None
    # ...and an account.updated of an account nobody holds is kept too.
    unknown = so.event(so.account(), "account.updated", account=so.stripe_id("acct"))
    assert_outcome(post(unknown), "anomaly")
    assert (
        db.session.scalar(
            select(func.count()).where(
                StripeEvent.outcome == "anomaly", StripeEvent.organisation_id.is_(None)
            )
        )
        == 1
    )
    assert db.session.scalar(select(func.count()).select_from(Donation)) == 0


def test_an_operator_is_made_from_the_command_line(db, runner):
    agent = AgentFactory(email="ops@example.org")
    db.session.commit()
    result = runner.invoke(args=["agents", "operator", "ops@example.org"])
    assert result.exit_code == 0, result.output
    from agents.services import is_operator

    assert is_operator(agent)
    runner.invoke(args=["agents", "operator", "ops@example.org", "--remove"])
    db.session.refresh(agent)
    assert not is_operator(agent)


def test_the_anomalies_command_lists_what_no_organisation_owns(db, post, runner, two):
    stranger = so.stripe_id("acct")
    event = paid(session_of(two["a"], 100), stranger)
    assert_outcome(post(event), "anomaly")
    result = runner.invoke(args=["stripe", "anomalies"])
    assert result.exit_code == 0, result.output
    assert event["id"] in result.output and stranger in result.output
    assert "1 open events no organisation owns." in result.output
