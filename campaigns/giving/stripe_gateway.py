"""The one door to Stripe: Checkout Sessions, refunds, the lists reconciliation
reads, the payments the fee job reads, Connect's accounts and onboarding links,
and the webhook's signature. No other module imports ``stripe``.

Every call about money takes ``stripe_account``: an organisation's connected
account (``acct_…``, sent as Stripe's ``Stripe-Account`` header, so the call
runs on that account), or None for the site's own account.

Callers hand plain dicts in and get plain dicts back, and see only this
module's exceptions, never the library's. ``gateway()`` answers with the
``StripeGateway`` that ``init_app`` configured when ``STRIPE_SECRET_KEY`` is
set, else with the ``DemoGateway``, which plays Stripe's part in the demo (no
money moves) through the same methods. The key is read from the app's config
on every call, never set on the library: nothing global changes at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import stripe
from flask import Flask, current_app, url_for

EXTENSION = "relais.stripe_gateway"
# The Stripe API version the library speaks (and the demo's events carry).
API_VERSION = stripe.api_version
# Stripe is called while a request waits (and, for a refund, while the gift's
# row is locked): fail in seconds, not the library's 80 s.
TIMEOUT = (4, 10)
# The library's own default, made explicit. Retries are safe: every write
# carries an idempotency key, and lists only read.
MAX_NETWORK_RETRIES = 2


class GatewayError(Exception):
    """Stripe did not do what was asked. ``message`` is Stripe's own word for
    it (may be empty), ``code`` its error code; neither is meant for users."""

    def __init__(self, message: str = "", *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code


class GatewayUnavailable(GatewayError):
    """No answer, or Stripe's own failure: what was asked may or may not have
    happened (asking again with the same idempotency key is safe)."""


class GatewayRefused(GatewayError):
    """Stripe answered and refused (a card error, an invalid request)."""


class IdempotencyConflict(GatewayRefused):
    """The idempotency key was used before with other parameters."""


class KeyRejected(GatewayRefused):
    """Stripe did not accept the API key, or the key may not do this."""


class GatewayNotConfigured(GatewayError):
    """No Stripe key (or no webhook secret) on a site that may not stand in for Stripe."""


class BadSignature(GatewayError):
    """The webhook's ``Stripe-Signature`` is missing, wrong or too old."""


class BadPayload(GatewayError):
    """The webhook's body, although signed, is not a Stripe event in JSON."""


class Gateway(Protocol):
    is_demo: bool

    def create_checkout_session(
        self, params: dict, *, idempotency_key: str, stripe_account: str | None = None
    ) -> dict:
        """A Checkout Session for ``params``; its ``id`` and ``url`` at least."""

    def create_refund(
        self, params: dict, *, idempotency_key: str, stripe_account: str | None = None
    ) -> dict:
        """A refund for ``params``; its ``id`` and ``status`` at least."""

    def list_checkout_sessions(
        self, params: dict, *, stripe_account: str | None = None
    ) -> Iterator[dict]:
        """Every Checkout Session ``params`` select, page after page."""

    def list_refunds(self, params: dict, *, stripe_account: str | None = None) -> Iterator[dict]:
        """Every refund ``params`` select, page after page."""

    def list_disputes(self, params: dict, *, stripe_account: str | None = None) -> Iterator[dict]:
        """Every dispute ``params`` select, page after page."""

    def retrieve_payment_intent(
        self, payment_intent_id: str, params: dict, *, stripe_account: str | None = None
    ) -> dict:
        """One PaymentIntent (``params``: ``expand``)."""

    def create_account(self, params: dict, *, idempotency_key: str) -> dict:
        """A connected account for an organisation; its ``id`` at least."""

    def create_account_link(self, params: dict) -> dict:
        """A one-time onboarding link to a connected account; its ``url``."""

    def retrieve_account(self, account_id: str) -> dict:
        """A connected account as Stripe sees it now (``charges_enabled``, …)."""

    def cancel_subscription(
        self, subscription_id: str, *, stripe_account: str | None = None
    ) -> dict:
        """Stop a subscription now (a monthly gift); its ``id`` and ``status``."""


@contextmanager
def _translated():
    """The library's exceptions as the gateway's."""
    try:
        yield
    except stripe.IdempotencyError as exc:
        raise IdempotencyConflict(_said(exc), code=exc.code) from exc
    except (stripe.CardError, stripe.InvalidRequestError) as exc:
        raise GatewayRefused(_said(exc), code=exc.code) from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        raise KeyRejected(_said(exc), code=exc.code) from exc
    except stripe.StripeError as exc:
        raise GatewayUnavailable(_said(exc) or str(exc), code=exc.code) from exc


def _said(exc: stripe.StripeError) -> str:
    return exc.user_message or exc.code or ""


class StripeGateway:
    """Stripe itself, through one configured client (HTTP timeouts, retries)."""

    is_demo = False

    def __init__(self, *, timeout=TIMEOUT, max_network_retries: int = MAX_NETWORK_RETRIES):
        # The key given here is never used: every call names the app's key.
        self._client = stripe.StripeClient(
            "",
            http_client=stripe.RequestsClient(timeout=timeout),
            max_network_retries=max_network_retries,
        )

    def _options(
        self, idempotency_key: str | None = None, stripe_account: str | None = None
    ) -> dict:
        options = {"api_key": current_app.config.get("STRIPE_SECRET_KEY") or ""}
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        if stripe_account:
            options["stripe_account"] = stripe_account
        return options

    def create_checkout_session(
        self, params: dict, *, idempotency_key: str, stripe_account: str | None = None
    ) -> dict:
        with _translated():
            session = self._client.v1.checkout.sessions.create(
                params, self._options(idempotency_key, stripe_account)
            )
        return session.to_dict()

    def create_refund(
        self, params: dict, *, idempotency_key: str, stripe_account: str | None = None
    ) -> dict:
        with _translated():
            refund = self._client.v1.refunds.create(
                params, self._options(idempotency_key, stripe_account)
            )
        return refund.to_dict()

    def list_checkout_sessions(
        self, params: dict, *, stripe_account: str | None = None
    ) -> Iterator[dict]:
        options = self._options(stripe_account=stripe_account)
        return self._each(lambda: self._client.v1.checkout.sessions.list(params, options))

    def list_refunds(self, params: dict, *, stripe_account: str | None = None) -> Iterator[dict]:
        options = self._options(stripe_account=stripe_account)
        return self._each(lambda: self._client.v1.refunds.list(params, options))

    def list_disputes(self, params: dict, *, stripe_account: str | None = None) -> Iterator[dict]:
        options = self._options(stripe_account=stripe_account)
        return self._each(lambda: self._client.v1.disputes.list(params, options))

    def retrieve_payment_intent(
        self, payment_intent_id: str, params: dict, *, stripe_account: str | None = None
    ) -> dict:
        with _translated():
            intent = self._client.v1.payment_intents.retrieve(
                payment_intent_id, params, self._options(stripe_account=stripe_account)
            )
        return intent.to_dict()

    def create_account(self, params: dict, *, idempotency_key: str) -> dict:
        with _translated():
            account = self._client.v1.accounts.create(params, self._options(idempotency_key))
        return account.to_dict()

    def create_account_link(self, params: dict) -> dict:
        # A link is single-use and short-lived: asking again makes a new one.
        with _translated():
            link = self._client.v1.account_links.create(params, self._options())
        return link.to_dict()

    def retrieve_account(self, account_id: str) -> dict:
        with _translated():
            account = self._client.v1.accounts.retrieve(account_id, None, self._options())
        return account.to_dict()

    def cancel_subscription(
        self, subscription_id: str, *, stripe_account: str | None = None
    ) -> dict:
        # Cancelling is idempotent at Stripe too: a canceled one stays canceled.
        with _translated():
            subscription = self._client.v1.subscriptions.cancel(
                subscription_id, None, self._options(stripe_account=stripe_account)
            )
        return subscription.to_dict()

    @staticmethod
    def _each(first_page) -> Iterator[dict]:
        # Pages are asked for as the caller goes: a failure on any page is the
        # gateway's exception too.
        with _translated():
            for item in first_page().auto_paging_iter():
                yield item.to_dict()


class DemoGateway:
    """No Stripe key: the demo's test-payment page plays Stripe's part, and no
    money moves. Where test payments are not allowed (production), every call
    raises ``GatewayNotConfigured``."""

    is_demo = True

    def __init__(self, *, allowed: bool):
        self.allowed = allowed

    def _check(self) -> None:
        if not self.allowed:
            raise GatewayNotConfigured("STRIPE_SECRET_KEY is not set")

    def create_checkout_session(
        self, params: dict, *, idempotency_key: str, stripe_account: str | None = None
    ) -> dict:
        self._check()
        reference = params["client_reference_id"]
        return {
            "id": f"cs_test_{reference}",
            "object": "checkout.session",
            "url": url_for("giving.test_payment", reference=reference),
        }

    def create_refund(
        self, params: dict, *, idempotency_key: str, stripe_account: str | None = None
    ) -> dict:
        self._check()
        return {
            "id": f"re_test_{idempotency_key}",
            "object": "refund",
            "amount": params.get("amount"),
            "payment_intent": params.get("payment_intent"),
            "status": "succeeded",
        }

    def list_checkout_sessions(
        self, params: dict, *, stripe_account: str | None = None
    ) -> Iterator[dict]:
        return self._nothing()

    def list_refunds(self, params: dict, *, stripe_account: str | None = None) -> Iterator[dict]:
        return self._nothing()

    def list_disputes(self, params: dict, *, stripe_account: str | None = None) -> Iterator[dict]:
        return self._nothing()

    def _nothing(self) -> Iterator[dict]:
        # Nothing reaches a Stripe account that does not exist.
        self._check()
        return iter(())

    def retrieve_payment_intent(
        self, payment_intent_id: str, params: dict, *, stripe_account: str | None = None
    ) -> dict:
        # The demo's payments exist nowhere but here: their fees are booked
        # with the test payment itself (``checkout.demo_fee_event``).
        self._check()
        raise GatewayRefused("No such payment_intent", code="resource_missing")

    # Connect's onboarding happens on Stripe's own pages: nothing to stand in for.
    def create_account(self, params: dict, *, idempotency_key: str) -> dict:
        raise GatewayNotConfigured("Stripe Connect needs STRIPE_SECRET_KEY")

    def create_account_link(self, params: dict) -> dict:
        raise GatewayNotConfigured("Stripe Connect needs STRIPE_SECRET_KEY")

    def retrieve_account(self, account_id: str) -> dict:
        raise GatewayNotConfigured("Stripe Connect needs STRIPE_SECRET_KEY")

    def cancel_subscription(
        self, subscription_id: str, *, stripe_account: str | None = None
    ) -> dict:
        # The demo's monthly gifts exist only here: stopping one needs no call.
        self._check()
        return {"id": subscription_id, "object": "subscription", "status": "canceled"}


def test_payments_allowed(config) -> bool:
    """Simulated payments write real ledger rows: only in a demo or development
    site, never in production (even before Stripe keys are set)."""
    return not config.get("STRIPE_SECRET_KEY") and config.get("RELAIS_ENV") != "production"


def gateway() -> Gateway:
    """Stripe when ``STRIPE_SECRET_KEY`` is set, else the demo's stand-in."""
    config = current_app.config
    if config.get("STRIPE_SECRET_KEY"):
        return current_app.extensions[EXTENSION]
    return DemoGateway(allowed=test_payments_allowed(config))


WEBHOOK_SECRETS = ("STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET")


def verify_event(payload: bytes, signature: str | None) -> dict:
    """The event Stripe signed in a webhook, as a plain dict.

    Checked on the raw body with ``STRIPE_WEBHOOK_SECRET`` (the endpoint of the
    site's own account) or ``STRIPE_CONNECT_WEBHOOK_SECRET`` (the Connect
    endpoint, whose events name their connected ``account``): both endpoints
    may post to the same URL. Needs neither the network nor an API key, so
    the demo checks webhooks the same way. Raises ``GatewayNotConfigured``,
    ``BadSignature`` or ``BadPayload``."""
    secrets = [s for s in (current_app.config.get(name) for name in WEBHOOK_SECRETS) if s]
    if not secrets:
        raise GatewayNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    try:
        event = _construct(payload, signature, secrets)
        data = event.to_dict()
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(str(exc)) from exc
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise BadPayload(str(exc)) from exc
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
        raise BadPayload("no event id or type")
    return data


def _construct(payload: bytes, signature: str | None, secrets: list[str]):
    for secret in secrets[:-1]:
        try:
            return stripe.Webhook.construct_event(payload, signature, secret)
        except stripe.SignatureVerificationError:
            continue  # signed with the other endpoint's secret, perhaps
    return stripe.Webhook.construct_event(payload, signature, secrets[-1])


def init_app(app: Flask) -> None:
    """Configure ``app``'s one Stripe client (timeouts, retries)."""
    app.extensions[EXTENSION] = StripeGateway()
