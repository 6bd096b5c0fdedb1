"""The Stripe gateway: the one module that talks to Stripe, its own exceptions,
its demo stand-in, and nothing global changed by importing the app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import requests
import responses
import stripe

from campaigns.giving import stripe_gateway
from tests import stripe_objects as so

ROOT = Path(__file__).resolve().parents[3]
GATEWAY = ROOT / "campaigns" / "giving" / "stripe_gateway.py"
SESSIONS = "https://api.stripe.com/v1/checkout/sessions"
REFUNDS = "https://api.stripe.com/v1/refunds"


def imports_stripe(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(name == "stripe" or name.startswith("stripe.") for name in names):
            return True
    return False


def test_only_the_gateway_imports_stripe():
    sources = [ROOT / "app.py", ROOT / "extensions.py"]
    for package in ("campaigns", "messaging", "agents"):
        sources += sorted((ROOT / package).rglob("*.py"))
    importing = [
        str(path.relative_to(ROOT))
        for path in sources
        if imports_stripe(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert importing == ["campaigns/giving/stripe_gateway.py"]


def test_the_import_check_sees_every_form_of_import():
    for line in ("import stripe", "import stripe.error as e", "from stripe import Webhook"):
        assert imports_stripe(ast.parse(line)), line
    for line in ("import stripe_gateway", "from campaigns.giving import stripe_gateway"):
        assert not imports_stripe(ast.parse(line)), line


def test_building_the_app_changes_nothing_global_in_the_library(app):
    """The client, its timeouts and retries belong to the app's gateway."""
    assert stripe.api_key is None
    assert stripe.default_http_client is None
    gateway = app.extensions[stripe_gateway.EXTENSION]
    assert isinstance(gateway, stripe_gateway.StripeGateway)


def test_no_key_is_the_demo_and_production_without_a_key_refuses(app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    with app.test_request_context():
        demo = stripe_gateway.gateway()
        assert demo.is_demo
        session = demo.create_checkout_session(
            {"client_reference_id": "abc"}, idempotency_key="pending-gift-abc"
        )
        assert session == {
            "id": "cs_test_abc",
            "object": "checkout.session",
            "url": "/give/abc/test-payment",
        }
        assert list(demo.list_refunds({})) == []
        monkeypatch.setitem(app.config, "RELAIS_ENV", "production")
        refusing = stripe_gateway.gateway()
        with pytest.raises(stripe_gateway.GatewayNotConfigured):
            refusing.create_refund({"amount": 100}, idempotency_key="k")
        with pytest.raises(stripe_gateway.GatewayNotConfigured):
            refusing.list_checkout_sessions({})


def test_the_key_of_the_moment_goes_with_each_call(app, stripe_api, monkeypatch):
    stripe_api.add(responses.POST, SESSIONS, json={"id": "cs_1", "url": "https://x.test/1"})
    with app.app_context():
        gateway = stripe_gateway.gateway()
        assert gateway.create_checkout_session({"mode": "payment"}, idempotency_key="k1") == {
            "id": "cs_1",
            "url": "https://x.test/1",
        }
        monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_other")
        gateway.create_checkout_session({"mode": "payment"}, idempotency_key="k2")
    first, second = (call.request for call in stripe_api.calls)
    assert first.headers["Authorization"] == "Bearer sk_test_relais"
    assert first.headers["Idempotency-Key"] == "k1"
    assert second.headers["Authorization"] == "Bearer sk_test_other"


@pytest.mark.parametrize(
    ("answer", "raised", "message"),
    [
        ({"body": requests.exceptions.ConnectionError("down")}, "GatewayUnavailable", None),
        (
            {"status": 500, "json": {"error": {"type": "api_error", "message": "Oops"}}},
            "GatewayUnavailable",
            None,
        ),
        (
            {
                "status": 402,
                "json": {
                    "error": {
                        "type": "card_error",
                        "code": "expired_card",
                        "message": "Your card has expired.",
                    }
                },
            },
            "GatewayRefused",
            "Your card has expired.",
        ),
        (
            {"status": 400, "json": {"error": {"type": "idempotency_error", "message": "Keys…"}}},
            "IdempotencyConflict",
            None,
        ),
        (
            {"status": 401, "json": {"error": {"type": "invalid_request_error", "message": "No"}}},
            "KeyRejected",
            None,
        ),
    ],
)
def test_stripe_errors_come_out_as_the_gateways_own(app, stripe_api, answer, raised, message):
    stripe_api.add(responses.POST, REFUNDS, **answer)
    with app.app_context(), pytest.raises(stripe_gateway.GatewayError) as caught:
        stripe_gateway.gateway().create_refund({"amount": 100}, idempotency_key="k")
    assert type(caught.value).__name__ == raised
    assert not isinstance(caught.value, stripe.StripeError)
    if message is not None:
        assert caught.value.message == message
    assert len(stripe_api.calls) == 1  # no retry in tests: each answer is used once


def test_a_failure_on_a_later_page_is_the_gateways_too(app, stripe_api):
    first = {"object": "list", "url": "/v1/refunds", "has_more": True, "data": [{"id": "re_1"}]}
    stripe_api.get(REFUNDS, json=first)
    stripe_api.get(REFUNDS, body=requests.exceptions.ConnectionError("down"))
    with app.app_context():
        refunds = stripe_gateway.gateway().list_refunds({"limit": 1})
        assert next(refunds) == {"id": "re_1"}
        with pytest.raises(stripe_gateway.GatewayUnavailable):
            next(refunds)


def test_a_webhook_is_verified_into_a_plain_dict(app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "whsec_gateway")
    event = {"id": "evt_1", "object": "event", "type": "charge.refunded", "data": {}}
    body, headers = so.signed(event, "whsec_gateway")
    signature = headers["Stripe-Signature"]
    with app.app_context():
        data = stripe_gateway.verify_event(body.encode(), signature)
        assert type(data) is dict and data == event
        with pytest.raises(stripe_gateway.BadSignature):
            stripe_gateway.verify_event(body.encode(), signature.replace("v1=", "v1=0"))
        with pytest.raises(stripe_gateway.BadSignature):
            stripe_gateway.verify_event(body.encode(), None)
        unnamed, headers = so.signed({"object": "event"}, "whsec_gateway")
        with pytest.raises(stripe_gateway.BadPayload):
            stripe_gateway.verify_event(unnamed.encode(), headers["Stripe-Signature"])
        monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "")
        with pytest.raises(stripe_gateway.GatewayNotConfigured):
            stripe_gateway.verify_event(body.encode(), signature)
