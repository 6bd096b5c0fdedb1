"""/metrics for the operator's scraper only, and error reports to Sentry."""

from __future__ import annotations

import gzip
import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import create_app
from tests.conftest import app_config, free_port, own_database
from tests.served import get, output, server_process, stop

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


# --- the counters move when the thing happens ------------------------------------


def scrape(client) -> dict[tuple, float]:
    """Every sample of one scrape: (name, sorted labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.mark.filterwarnings("ignore:Connection is already established")
def test_webhooks_and_gifts_are_counted_once_committed(app, client, with_token, db, monkeypatch):
    from tests import stripe_objects as so
    from tests.factories import CauseFactory, OrganisationFactory, PageFactory

    secret = "whsec_metrics"
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", secret)
    page = PageFactory(cause=CauseFactory(organisation=OrganisationFactory()))
    db.session.commit()
    paid = so.event(
        so.checkout_session(page=page.slug, cause=page.cause.slug), "checkout.session.completed"
    )
    before = scrape(client)

    body, headers = so.signed(paid, secret)
    assert client.post("/webhooks/stripe", data=body, headers=headers).status_code == 200
    assert client.post("/webhooks/stripe", data=body, headers=headers).status_code == 200
    body, headers = so.signed(paid, "whsec_someone_else")
    assert client.post("/webhooks/stripe", data=body, headers=headers).status_code == 400

    after = scrape(client)
    assert moved(before, after, "relais_webhook_events_total", outcome="recorded") == 1
    assert moved(before, after, "relais_webhook_events_total", outcome="duplicate") == 1
    assert moved(before, after, "relais_webhook_events_total", outcome="bad_signature") == 1
    assert moved(before, after, "relais_webhook_seconds_count") == 3
    assert moved(before, after, "relais_gifts_recorded_total", kind="gift") == 1


def test_a_gift_rolled_back_is_not_counted(app, client, with_token, db):
    from campaigns.giving.ledger import record_gift
    from tests.factories import CauseFactory, OrganisationFactory

    cause = CauseFactory(organisation=OrganisationFactory())
    db.session.commit()
    before = scrape(client)
    record_gift(page=None, cause=cause, amount_minor=500)
    db.session.rollback()
    record_gift(page=None, cause=cause, amount_minor=700)
    db.session.commit()
    assert moved(before, scrape(client), "relais_gifts_recorded_total", kind="gift") == 1


def test_outbox_deliveries_latency_and_dead_letters(
    app, client, with_token, db, mailbox, monkeypatch
):
    from messaging.outbox.delivery import deliver
    from messaging.outbox.leases import claim
    from messaging.outbox.queue import enqueue
    from tests.factories import AgentFactory, OrganisationFactory

    org, agent = OrganisationFactory(), AgentFactory(email="camille@example.org", locale="en")
    db.session.commit()

    def row(key: str) -> dict:
        return {
            "dedupe_key": key,
            "organisation_id": org.id,
            "agent_id": agent.id,
            "channel": "email",
            "recipient": agent.email,
            "subject": "You moved up",
            "body_text": "Lyon just passed Marseille.",
        }

    before = scrape(client)
    enqueue([row("sent-one")])
    assert [deliver(i, "w1") for i in claim("w1", 10)] == ["sent"]

    async def refuse(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such user"

    monkeypatch.setattr(type(mailbox), "handle_RCPT", refuse, raising=False)
    enqueue([row("dead-one")])
    assert [deliver(i, "w1") for i in claim("w1", 10)] == ["dead"]

    after = scrape(client)
    assert moved(before, after, "relais_outbox_sent_total", channel="email") == 1
    assert moved(before, after, "relais_outbox_delivery_seconds_count", channel="email") == 1
    dead = {"channel": "email", "outcome": "dead"}
    assert moved(before, after, "relais_outbox_failures_total", **dead) == 1
    assert after[("relais_outbox_dead_letters", (("channel", "email"),))] >= 1
    assert after[("relais_outbox_messages", (("channel", "email"), ("status", "sent")))] >= 1


def test_live_streams_open_go_up_and_down(app, client, with_token, db):
    from campaigns.standings import live
    from tests.factories import CauseFactory

    cause = CauseFactory()
    db.session.commit()
    hub = live.hub(app)
    before = scrape(client)
    streams = [hub.subscribe(cause.id) for _ in range(3)]
    assert moved(before, scrape(client), "relais_live_streams_open") == 3
    for stream in streams:
        hub.unsubscribe(stream)
    hub.unsubscribe(streams[0])  # twice: counted once
    assert moved(before, scrape(client), "relais_live_streams_open") == 0


def test_scheduled_job_runs_failures_and_durations(app, client, with_token, db, monkeypatch):
    from messaging.scheduling import scheduler

    def broken():
        raise RuntimeError("the job broke")

    monkeypatch.setattr(scheduler, "_resolve", lambda path: broken if "broken" in path else int)
    before = scrape(client)
    scheduler.run_job(app, scheduler.Job("fine-job", "x:fine", seconds=60))
    scheduler.run_job(app, scheduler.Job("broken-job", "x:broken", seconds=60))
    after = scrape(client)
    assert moved(before, after, "relais_job_runs_total", job="fine-job", outcome="ok") == 1
    assert moved(before, after, "relais_job_runs_total", job="broken-job", outcome="failed") == 1
    assert moved(before, after, "relais_job_seconds_count", job="broken-job") == 1


@pytest.mark.slow
def test_relais_serve_merges_the_samples_of_its_two_workers(app, tmp_path):
    """Under gunicorn each worker counts in its own process; every scrape,
    whichever worker answers it, shows what both counted."""
    from prometheus_client.parser import text_string_to_metric_families

    with own_database(app, tmp_path, "metrics") as own:
        port = free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": own.config["SQLALCHEMY_DATABASE_URI"],
            "RELAIS_INSTANCE": str(tmp_path / "instance"),
            "PORT": str(port),
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "samples"),
        }
        command = [sys.executable, "-c", "from app import main; main()", "serve", "--workers", "2"]
        logs = tmp_path / "logs"
        base = f"http://127.0.0.1:{port}"
        with server_process(command, env=env, cwd=app.root_path, port=port, logs=logs) as server:
            sent = 200
            for _ in range(sent):  # a new connection each: the kernel spreads them
                assert get(base + "/healthz")[0] == 200
            scrapes = []
            for _ in range(10):
                request = urllib.request.Request(  # noqa: S310 - loopback
                    base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    samples = [
                        sample
                        for family in text_string_to_metric_families(response.read().decode())
                        for sample in family.samples
                    ]
                answered = sum(
                    s.value
                    for s in samples
                    if s.name == "relais_http_requests_total"
                    and s.labels.get("endpoint") == "health.healthz"
                )
                pids = {s.labels["pid"] for s in samples if s.name == "relais_process_up"}
                scrapes.append((answered, len(pids)))
            assert stop(server) == 0, output(logs)
        # Three processes report: gunicorn's master (it built the app once) and two workers.
        assert scrapes == [(sent, 3)] * 10, scrapes
