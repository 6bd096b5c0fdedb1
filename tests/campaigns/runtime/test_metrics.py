"""/metrics for the operator's scraper only, and error reports to Sentry."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import create_app
from tests.conftest import app_config

TOKEN = "scrape-me-please"


@pytest.fixture
def with_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)


def test_metrics_are_a_404_while_no_token_is_set(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_metrics_need_the_token(client, with_token, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "relais_" not in response.get_data(as_text=True)


def test_metrics_show_requests_and_the_outbox(client, with_token, db):
    client.get("/")
    client.get("/no-such-page")

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    body = response.get_data(as_text=True)
    assert 'relais_http_requests_total{endpoint="campaigns.home",method="GET",status="200"}' in body
    assert 'status="404"' in body
    assert "# TYPE relais_outbox_messages gauge" in body
    assert "relais_webhook_events_total" in body and "relais_live_streams_open" in body


class Receiver(BaseHTTPRequestHandler):
    events: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        Receiver.events.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_an_unexpected_error_is_reported_to_sentry_without_personal_data(app, tmp_path):
    import sentry_sdk

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://public@127.0.0.1:{server.server_port}/1"
    reporting = create_app(
        {**app_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path), "SENTRY_DSN": dsn}
    )

    def explode():
        raise RuntimeError("boom for sentry")

    reporting.add_url_rule("/explode", "explode", explode)
    try:
        cookie = "session=" + "-".join(["agent", "cookie", "value"])  # not in this source
        response = reporting.test_client().get("/explode", headers={"Cookie": cookie})
        assert response.status_code == 500
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.init(dsn=None)  # the SDK is process-wide: later tests report nothing
        server.shutdown()
    sent = b"\n".join(Receiver.events)
    assert b"boom for sentry" in sent
    assert b"agent-cookie-value" not in sent
    envelope = json.loads(sent.split(b"\n")[0])
    assert "event_id" in envelope
