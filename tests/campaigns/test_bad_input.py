"""Hostile input at the shared mechanisms: JSON parsing, body size, image checks.

Each case once answered 500; each must be a 4xx that says why and writes nothing.
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from sqlalchemy import func, select

from agents.services import create_token
from campaigns.giving.models import Donation, StripeEvent
from campaigns.pages.models import Page
from campaigns.photos import PhotoError, process
from tests import stripe_objects as so
from tests.factories import AgentFactory, CauseFactory, OrganisationFactory, PageFactory


def tiny_png(width: int, height: int) -> bytes:
    """A PNG header that declares width × height pixels, with no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.fixture
def cause(db):
    return CauseFactory(organisation=OrganisationFactory(slug="eau-vive"), slug="twestival")


@pytest.fixture
def token(db):
    _, clear = create_token(AgentFactory())
    db.session.commit()
    return {"Authorization": f"Bearer {clear}"}


def page_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Page))


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize(
    "path", ["/api/v1/pages", "/webhooks/stripe", "/account/login", "/c/twestival/pages/new"]
)
def test_deeply_nested_json_is_a_400(as_agent, client, db, cause, token, path):
    as_agent(AgentFactory())  # logged in, so that the page form reads its body
    before = page_count(db)

    response = client.post(
        path, data=nested(100_000), content_type="application/json", headers=token
    )

    assert response.status_code == 400
    assert page_count(db) == before


def test_json_over_the_size_limit_is_a_413_with_a_json_body(app, client, db, cause, token):
    db.session.commit()
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"title": "' + b"x" * (limit + 10) + b'"}'

    response = client.post(
        "/api/v1/pages", data=body, content_type="application/json", headers=token
    )

    assert response.status_code == 413
    assert response.is_json and response.get_json()["status"] == 413


def test_a_lone_surrogate_is_a_422_naming_the_field(client, db, cause, token):
    db.session.commit()
    before = page_count(db)
    body = (
        '{"cause": "twestival", "kind": "personal", "title": "Run \\ud800 run", '
        '"goal": {"amount_minor": 5000}}'
    )

    response = client.post(
        "/api/v1/pages", data=body, content_type="application/json", headers=token
    )

    assert response.status_code == 422
    assert "title" in response.get_json()["errors"]
    assert page_count(db) == before


def test_a_lone_surrogate_deep_in_a_body_names_its_path(client, db, cause, token):
    db.session.commit()
    body = '{"cause": "twestival", "goal": {"amount_minor": 5000, "note": ["ok", "\\udfff"]}}'

    response = client.post(
        "/api/v1/pages", data=body, content_type="application/json", headers=token
    )

    assert response.status_code == 422
    assert "goal.note.1" in response.get_json()["errors"]


def test_a_tiny_png_declaring_fifty_thousand_pixels_square_is_refused(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        upload = type("Upload", (), {"stream": io.BytesIO(tiny_png(50_000, 50_000))})()
        with pytest.raises(PhotoError, match="too many pixels"):
            process(upload)


def test_the_page_form_answers_a_png_bomb_with_its_size_message(as_agent, client, db, cause):
    as_agent(AgentFactory())
    before = page_count(db)

    response = client.post(
        f"/c/{cause.slug}/pages/new",
        data={
            "kind": "personal",
            "title": "Bomb",
            "goal": "500",
            "photo": (io.BytesIO(tiny_png(50_000, 50_000)), "bomb.png"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert "too many pixels" in response.get_data(as_text=True)
    assert page_count(db) == before


def test_a_signed_but_deeply_nested_stripe_event_is_a_400(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "whsec_test_relais")
    body, headers = so.signed(nested(100_000).decode(), "whsec_test_relais")

    response = client.post("/webhooks/stripe", data=body, headers=headers)

    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 0


# --- signed but malformed Stripe events: ignored or an anomaly, never a 500 -----------

SECRET = "whsec_test_relais"


@pytest.fixture
def post_body(app, client, monkeypatch):
    """Sign a raw JSON body like Stripe and post it."""

    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)

    def post(body: str):
        body, headers = so.signed(body, SECRET)
        return client.post("/webhooks/stripe", data=body, headers=headers)

    return post


@pytest.fixture
def paid_page(db):
    page = PageFactory(cause=CauseFactory(organisation=OrganisationFactory(currency="EUR")))
    db.session.commit()
    return page


def _session(page, **kw):
    return so.checkout_session(page=page.slug, cause=page.cause.slug, **kw)


def _events(db):
    return db.session.scalars(select(StripeEvent)).all()


def _gifts(db):
    return db.session.scalars(select(Donation)).all()


def test_an_event_created_far_in_the_future_is_recorded(post_body, db, paid_page):
    event = so.event(_session(paid_page), "checkout.session.completed", created=10**15)

    response = post_body(json.dumps(event))

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "recorded"
    assert [e.stripe_created_at for e in _events(db)] == [None]


@pytest.mark.parametrize(
    "event_id",
    ["evt_\ud800abc", "evt_" + "a" * 296, "evt_\x00abc"],
    ids=["surrogate", "300", "nul"],
)
def test_an_event_id_stripe_never_makes_is_ignored_and_writes_nothing(
    post_body, db, paid_page, event_id
):
    event = so.event(_session(paid_page), "checkout.session.completed", event_id=event_id)

    response = post_body(json.dumps(event))

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored"
    assert _events(db) == [] and _gifts(db) == []


def test_a_lone_surrogate_in_the_donor_name_keeps_the_gift(post_body, db, paid_page):
    event = so.event(_session(paid_page, name="Ada \udc80 Donor"), "checkout.session.completed")

    response = post_body(json.dumps(event))

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "recorded"
    [gift] = _gifts(db)
    assert gift.donor_name == "Ada \ufffd Donor" and gift.amount_minor == 2500


def test_an_infinite_amount_refunded_is_an_anomaly(post_body, db, paid_page):
    charge = so.charge(payment_intent_id=so.stripe_id("pi"), amount_refunded=123456789)
    body = json.dumps(so.event(charge, "charge.refunded")).replace("123456789", "1e400")

    response = post_body(body)

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "anomaly"
    [row] = _events(db)
    assert row.payload["amount_refunded"] is None
