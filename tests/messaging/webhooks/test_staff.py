"""The staff screen /staff/<org>/webhooks/: endpoints, their deliveries, the
buttons; refused input changes nothing; an endpoint that keeps failing is
disabled with a notice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaigns.audit import AuditEntry
from campaigns.fund_use.models import Expense
from campaigns.offline import services as offline
from campaigns.offline.models import OfflineGift
from campaigns.pages import services as pages
from extensions import db as _db
from messaging.outbox.delivery import drain
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus
from messaging.webhooks import services as webhooks
from messaging.webhooks.models import WebhookEndpoint
from tests import stripe_objects as so
from tests.factories import (
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
    ProjectFactory,
    spend,
)

pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


def endpoints_count() -> int:
    return _db.session.scalar(select(func.count()).select_from(WebhookEndpoint))


def deliveries(*where) -> list[OutboxMessage]:
    return list(
        _db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == Channel.WEBHOOK, *where)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def test_staff_register_an_endpoint_and_see_its_secret(client, db, org, staffer, as_agent):
    as_agent(staffer)
    response = client.post(
        "/staff/eau-vive/webhooks/new",
        data={
            "url": "http://127.0.0.1:9/hooks",
            "description": "Our CRM",
            "event_types": ["gift.recorded", "page.published"],
        },
    )
    assert response.status_code == 302
    (endpoint,) = db.session.scalars(select(WebhookEndpoint)).all()
    assert endpoint.event_types == ["gift.recorded", "page.published"]
    assert endpoint.organisation_id == org.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert webhooks.secret_of(endpoint) in page
    assert "Our CRM" in page
    listing = client.get("/staff/eau-vive/webhooks/").get_data(as_text=True)
    assert "http://127.0.0.1:9/hooks" in listing


@pytest.mark.parametrize(
    ("data", "local", "message"),
    [
        ({"url": "not a url", "event_types": ["gift.recorded"]}, True, "cannot contain spaces"),
        ({"url": "ftp://example.org/x", "event_types": ["gift.recorded"]}, True, "full address"),
        ({"url": "https://example.org/hooks"}, True, "Choose at least one"),
        ({"url": "https://example.org/h", "event_types": ["gift.nope"]}, True, "Choose at least"),
        ({"url": "http://example.org/h", "event_types": ["gift.recorded"]}, False, "https://"),
        ({"url": "http://127.0.0.1/h", "event_types": ["gift.recorded"]}, False, "https://"),
        ({"url": "https://127.0.0.1/h", "event_types": ["gift.recorded"]}, False, "private"),
        ({"url": "https://10.1.2.3/h", "event_types": ["gift.recorded"]}, False, "private"),
        ({"url": "https://169.254.169.254/", "event_types": ["gift.recorded"]}, False, "private"),
        ({"url": "https://[::1]/h", "event_types": ["gift.recorded"]}, False, "private"),
        ({"url": "https://db.internal/h", "event_types": ["gift.recorded"]}, False, "private"),
        ({"url": "https://localhost/h", "event_types": ["gift.recorded"]}, False, "private"),
    ],
)
def test_bad_input_is_refused_clearly_and_saves_nothing(
    app, client, db, org, staffer, as_agent, monkeypatch, data, local, message
):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOCAL", local)
    as_agent(staffer)
    response = client.post("/staff/eau-vive/webhooks/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert endpoints_count() == 0


def test_a_public_https_address_is_accepted_in_production(app, db, org, staffer, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOCAL", False)
    made = webhooks.create_endpoint(
        staffer, org, {"url": "https://hooks.example.org/relais", "event_types": ["page.closed"]}
    )
    assert made.url == "https://hooks.example.org/relais"


def test_a_refused_edit_changes_nothing(client, db, endpoint, staffer, as_agent):
    as_agent(staffer)
    before = (endpoint.url, list(endpoint.event_types))
    response = client.post(
        f"/staff/eau-vive/webhooks/{endpoint.id}/edit",
        data={"url": "https://example.org/new", "event_types": []},
    )
    assert response.status_code == 422
    db.session.refresh(endpoint)
    assert (endpoint.url, list(endpoint.event_types)) == before
    ok = client.post(
        f"/staff/eau-vive/webhooks/{endpoint.id}/edit",
        data={"url": "https://example.org/new", "event_types": ["page.closed"]},
    )
    assert ok.status_code == 302
    db.session.refresh(endpoint)
    assert endpoint.url == "https://example.org/new" and endpoint.event_types == ["page.closed"]


def test_staff_of_another_organisation_cannot_reach_an_endpoint(
    client, db, endpoint, outsider, as_agent
):
    as_agent(outsider)
    # Through their own organisation: not theirs, so it does not exist there.
    assert client.get(f"/staff/autre/webhooks/{endpoint.id}").status_code == 404
    assert client.post(f"/staff/autre/webhooks/{endpoint.id}/rotate").status_code == 404
    assert client.post(f"/staff/autre/webhooks/{endpoint.id}/delete").status_code == 404
    # Through Eau Vive's screens: not their organisation.
    assert client.get("/staff/eau-vive/webhooks/").status_code == 403
    assert client.get(f"/staff/eau-vive/webhooks/{endpoint.id}").status_code == 403
    assert client.post(f"/staff/eau-vive/webhooks/{endpoint.id}/delete").status_code == 403
    assert endpoints_count() == 1


def test_send_a_test_event_and_send_a_delivery_again_with_the_same_id(
    client, db, endpoint, staffer, receiver, as_agent
):
    as_agent(staffer)
    assert client.post(f"/staff/eau-vive/webhooks/{endpoint.id}/test").status_code == 302
    assert drain("worker") == {"sent": 1}
    (delivery,) = deliveries()
    assert delivery.subject == "webhook.test"
    screen = client.get(f"/staff/eau-vive/webhooks/{endpoint.id}").get_data(as_text=True)
    assert delivery.message_id in screen
    response = client.post(f"/staff/eau-vive/webhooks/{endpoint.id}/deliveries/{delivery.id}/again")
    assert response.status_code == 302
    # Waiting to go: a second click is refused, nothing is queued twice.
    client.post(f"/staff/eau-vive/webhooks/{endpoint.id}/deliveries/{delivery.id}/again")
    assert drain("worker") == {"sent": 1}
    assert drain("worker") == {}
    secret = webhooks.secret_of(endpoint)
    assert len(receiver.verified(secret)) == 2
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.message_id}
    assert len({r["body"] for r in receiver.requests}) == 1
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "webhook.send_again")
        )
        == 1
    )


def test_disable_enable_and_delete(client, db, endpoint, staffer, as_agent, page):
    as_agent(staffer)
    assert client.post(f"/staff/eau-vive/webhooks/{endpoint.id}/disable").status_code == 302
    db.session.refresh(endpoint)
    assert not endpoint.is_enabled
    pages.close_page(page.owner, page)
    assert deliveries() == []  # a disabled endpoint is sent nothing
    client.post(f"/staff/eau-vive/webhooks/{endpoint.id}/enable")
    db.session.refresh(endpoint)
    assert endpoint.is_enabled
    other = PageFactory(cause=page.cause)
    pages.close_page(other.owner, other)
    assert len(deliveries()) == 1
    db.session.commit()
    assert client.post(f"/staff/eau-vive/webhooks/{endpoint.id}/delete").status_code == 302
    assert endpoints_count() == 0
    (kept,) = deliveries()
    assert kept.status == OutboxStatus.CANCELLED and kept.webhook_endpoint_id is None


def test_an_endpoint_that_keeps_failing_is_disabled_and_its_admins_told(
    app,
    client,
    db,
    org,
    endpoint,
    admin,
    staffer,
    receiver,
    as_agent,
    monkeypatch,
    post_stripe,
    page,
):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 1)
    monkeypatch.setitem(app.config, "WEBHOOK_DISABLE_AFTER_DEAD", 2)
    monkeypatch.setitem(app.config, "WEBHOOK_DISABLE_AFTER_HOURS", 0)
    receiver.statuses = [500] * 10
    for amount in (1000, 2000):
        session = so.checkout_session(amount=amount, page=page.slug, cause=page.cause.slug)
        post_stripe(so.event(session, "checkout.session.completed"))
        drain("worker")
    db.session.refresh(endpoint)
    assert endpoint.consecutive_dead == 2
    assert not endpoint.is_enabled and "HTTP 500" in endpoint.disabled_reason
    (notice,) = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.trigger == "webhook_off")
    ).all()
    assert notice.recipient == admin.email and notice.channel == Channel.EMAIL
    assert endpoint.url in notice.body_text
    # No new delivery while it is off; the screen says why.
    session = so.checkout_session(amount=3000, page=page.slug, cause=page.cause.slug)
    post_stripe(so.event(session, "checkout.session.completed"))
    assert len(deliveries()) == 2
    as_agent(staffer)
    screen = client.get("/staff/eau-vive/webhooks/").get_data(as_text=True)
    assert "Relais disabled" in screen and "HTTP 500" in screen


def test_one_failure_among_successes_disables_nothing(
    app, db, endpoint, receiver, monkeypatch, post_stripe, page
):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 1)
    monkeypatch.setitem(app.config, "WEBHOOK_DISABLE_AFTER_DEAD", 2)
    monkeypatch.setitem(app.config, "WEBHOOK_DISABLE_AFTER_HOURS", 0)
    receiver.statuses = [500, 200, 500]
    for amount in (1000, 2000, 3000):
        session = so.checkout_session(amount=amount, page=page.slug, cause=page.cause.slug)
        post_stripe(so.event(session, "checkout.session.completed"))
        drain("worker")
    db.session.refresh(endpoint)
    assert endpoint.is_enabled and endpoint.consecutive_dead == 1


def test_the_other_news_become_events(db, org, cause, page, admin, staffer, endpoint):
    draft = PageFactory(cause=cause, status="draft", published_at=None)
    pages.publish_page(draft.owner, draft)
    project = ProjectFactory(cause=cause)
    expense = spend(staffer, project, 120_00, "Well #34")
    gift = OfflineGift(
        page_id=page.id,
        recorded_by_id=page.owner_id,
        amount_minor=4000,
        currency="EUR",
        method="cash",
    )
    db.session.add(gift)
    db.session.flush()
    offline.confirm_offline_gift(staffer, gift)
    offline.confirm_offline_gift(staffer, gift)  # confirmed once
    assert [d.subject for d in deliveries()] == [
        "page.published",
        "expense.published",
        "offline_gift.confirmed",
    ]
    assert isinstance(expense, Expense)


def test_nothing_is_queued_for_an_organisation_without_endpoints(db, page, staffer):
    other = OrganisationFactory(slug="sans")
    MembershipFactory(organisation=other)
    pages.close_page(page.owner, page)
    assert deliveries() == []


def test_a_delivery_waiting_when_its_endpoint_is_disabled_is_skipped_not_sent(
    db, endpoint, staffer, receiver, page
):
    pages.close_page(page.owner, page)
    webhooks.set_enabled(staffer, endpoint, False)
    db.session.commit()
    assert drain("worker") == {"skipped": 1}
    assert receiver.requests == []
    (row,) = deliveries()
    assert row.status == OutboxStatus.SKIPPED and "disabled" in row.last_error
    # A person sends it again once the endpoint is back.
    webhooks.set_enabled(staffer, endpoint, True)
    webhooks.send_again(staffer, endpoint, row.id)
    db.session.commit()
    assert drain("worker") == {"sent": 1}
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [row.message_id]
