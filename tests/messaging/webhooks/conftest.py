"""A real webhook receiver on loopback, and an organisation's endpoint pointing at it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from messaging.webhooks import services as webhooks
from tests.stripe_objects import signed


class Receiver:
    """What an organisation's receiver does: answers with the next scripted
    status (200 once the script is used up), keeps every request, and counts as
    delivered each event id it answered 2xx for once (it drops duplicates)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.delivered: dict[str, str] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append(
                        {"headers": dict(self.headers.items()), "body": body, "status": status}
                    )
                    if 200 <= status < 300:
                        receiver.delivered.setdefault(self.headers["webhook-id"], body)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/relais"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verified(self, secret: str) -> list[dict]:
        """Every request's payload, each signature checked by the library."""
        return [Webhook(secret).verify(r["body"], r["headers"]) for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def endpoint(db, org, admin, receiver):
    """Eau Vive's endpoint at the receiver, for every event."""
    made = webhooks.create_endpoint(
        admin,
        org,
        {
            "url": receiver.url,
            "description": "CRM",
            "event_types": list(webhooks.events.CATALOGUE),
        },
    )
    db.session.commit()
    return made


STRIPE_SECRET = "whsec_test_relais"


@pytest.fixture
def post_stripe(app, client, monkeypatch):
    """Sign an event like Stripe and post it to Relais' Stripe webhook."""
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)

    def post_event(event: dict):
        body, headers = signed(event, STRIPE_SECRET)
        response = client.post("/webhooks/stripe", data=body, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    return post_event
