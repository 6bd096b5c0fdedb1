"""Signed deliveries to a real receiver on loopback: once per event, across a
receiver outage and a worker that stopped; the signature checked with the
standardwebhooks library."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from campaigns.model_types import utcnow
from extensions import db as _db
from messaging.outbox import channels, webhook_delivery
from messaging.outbox.delivery import Deliverer, drain
from messaging.outbox.leases import claim_rows
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus
from messaging.webhooks import events
from messaging.webhooks import services as webhooks
from tests import stripe_objects as so

pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


def webhook_rows() -> list[OutboxMessage]:
    return list(
        _db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == Channel.WEBHOOK)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def a_gift(post_stripe, page, amount=2500) -> dict:
    session = so.checkout_session(amount=amount, page=page.slug, cause=page.cause.slug)
    assert post_stripe(so.event(session, "checkout.session.completed"))["outcome"] == "recorded"
    return session


def time_passes() -> None:
    """The retry's backoff is over."""
    _db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.QUEUED)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    _db.session.commit()


def test_a_gift_is_delivered_signed_once_across_a_receiver_outage(
    db, endpoint, receiver, post_stripe, page
):
    session = a_gift(post_stripe, page)
    # The same Stripe event again (Stripe retries): still one delivery queued.
    post_stripe(so.event(session, "checkout.session.completed"))
    (row,) = webhook_rows()
    assert row.subject == "gift.recorded" and row.message_id.startswith("evt_")

    receiver.statuses = [500, 503]  # the receiver is down
    assert drain("worker-a") == {"retry": 1}
    time_passes()
    assert drain("worker-a") == {"retry": 1}
    assert webhook_rows()[0].last_error.startswith("HTTP 503")
    time_passes()
    assert drain("worker-a") == {"sent": 1}  # back up
    assert drain("worker-a") == {}

    secret = webhooks.secret_of(endpoint)
    payloads = receiver.verified(secret)
    assert len(payloads) == 3
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {row.message_id}
    assert len({r["body"] for r in receiver.requests}) == 1  # the same bytes each time
    assert list(receiver.delivered) == [row.message_id]
    payload = payloads[-1]
    assert payload["type"] == "gift.recorded"
    data = payload["data"]
    assert data["amount_minor"] == 2500 and data["currency"] == "EUR"
    assert data["page"] == page.slug and data["cause"] == page.cause.slug
    assert data["organisation"] == "eau-vive"
    # The donor's personal data stays in Relais.
    assert "donor@example.org" not in receiver.requests[-1]["body"]
    assert "Ada Donor" not in receiver.requests[-1]["body"]
    sent = webhook_rows()[0]
    assert sent.status == OutboxStatus.SENT and sent.attempts == 3
    _db.session.refresh(endpoint)
    assert endpoint.consecutive_dead == 0 and endpoint.last_success_at is not None


def _age_leases() -> None:
    _db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.IN_FLIGHT)
        .values(claimed_at=utcnow() - timedelta(hours=1))
    )
    _db.session.commit()


def test_a_row_a_stopped_worker_claimed_is_delivered_once_by_the_next(
    db, endpoint, receiver, post_stripe, page
):
    a_gift(post_stripe, page)
    db.session.commit()
    assert len(claim_rows("worker-killed", 10)) == 1  # claimed, then the worker died
    assert drain("worker-b") == {}  # its lease is still fresh: not taken
    _age_leases()
    counts = drain("worker-b")
    assert counts["sent"] == 1 and counts["recovered_requeued"] == 1
    assert drain("worker-c") == {}  # a third worker finds nothing to do
    assert len(receiver.requests) == 1
    receiver.verified(webhooks.secret_of(endpoint))


def test_a_worker_that_stopped_after_posting_sends_the_same_webhook_id_again(
    db, endpoint, receiver, post_stripe, page
):
    a_gift(post_stripe, page)
    db.session.commit()
    ((row_id, _channel),) = claim_rows("worker-killed", 10)
    # The first worker posts, then dies before it can write down that it did.
    killed = Deliverer("worker-killed")
    _id, request = webhook_delivery.start(killed, row_id)
    channels.post_webhook(channels.webhook_session(), request.url, request.body, request.headers)
    _age_leases()
    assert drain("worker-b")["sent"] == 1
    assert len(receiver.requests) == 2
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert len(receiver.delivered) == 1  # the receiver dropped the duplicate
    receiver.verified(webhooks.secret_of(endpoint))


def test_rotating_the_secret_signs_with_both_until_the_old_one_expires(
    db, endpoint, admin, receiver, post_stripe, page
):
    old = webhooks.secret_of(endpoint)
    new = webhooks.rotate_secret(admin, endpoint)
    assert new != old and new.startswith("whsec_")
    db.session.commit()
    a_gift(post_stripe, page)
    assert drain("worker") == {"sent": 1}
    first = receiver.requests[-1]
    Webhook(new).verify(first["body"], first["headers"])
    Webhook(old).verify(first["body"], first["headers"])  # the overlap

    endpoint.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    a_gift(post_stripe, page, amount=1000)
    assert drain("worker") == {"sent": 1}
    second = receiver.requests[-1]
    Webhook(new).verify(second["body"], second["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(second["body"], second["headers"])


def test_a_refund_and_a_dispute_are_events_of_their_own(db, endpoint, receiver, post_stripe, page):
    session = a_gift(post_stripe, page)
    refund = so.charge(
        payment_intent_id=session["payment_intent"],
        amount=2500,
        amount_refunded=500,
        refund_amounts=[500],
        charge_id="ch_same",
    )
    post_stripe(so.event(refund, "charge.refunded"))
    post_stripe(so.event(refund, "charge.refunded"))  # delivered twice by Stripe
    dispute = so.dispute(
        charge_id="ch_same", payment_intent_id=session["payment_intent"], amount=2000
    )
    post_stripe(so.event(dispute, "charge.dispute.created"))
    assert [r.subject for r in webhook_rows()] == [
        "gift.recorded",
        "gift.refunded",
        "gift.disputed",
    ]
    assert drain("worker") == {"sent": 3}
    payloads = {p["type"]: p["data"] for p in receiver.verified(webhooks.secret_of(endpoint))}
    assert payloads["gift.refunded"]["refunded_minor"] == 500
    assert payloads["gift.disputed"]["disputed_minor"] == 2000
    assert payloads["gift.disputed"]["dispute_id"] == dispute["id"]
    assert payloads["gift.refunded"]["gift"]["gift_id"] == payloads["gift.recorded"]["gift_id"]


def test_only_the_events_an_endpoint_chose_are_queued(db, org, admin, receiver, page):
    from campaigns.pages import services as pages

    chosen = webhooks.create_endpoint(
        admin, org, {"url": receiver.url, "event_types": ["page.closed"]}
    )
    pages.close_page(page.owner, page)
    pages.close_page(page.owner, page)  # closed already: no second event
    rows = webhook_rows()
    assert [(r.subject, r.webhook_endpoint_id) for r in rows] == [("page.closed", chosen.id)]
    body = json.loads(rows[0].body_text)
    assert body["type"] == "page.closed" and body["data"]["page"] == page.slug
    assert rows[0].message_id == events.event_id("page.closed", f"page:{page.id}")


def test_the_worker_refuses_a_receiver_on_an_inside_address_in_production(
    app, db, receiver, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOCAL", False)
    with pytest.raises(channels.Permanent, match="not a public address"):
        channels.post_webhook(channels.webhook_session(), receiver.url, "{}", {})
    assert receiver.requests == []
