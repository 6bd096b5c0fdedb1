"""Hundreds of open live streams do not take the threads page views need
(``relais serve``: streams capped per process, page threads kept apart)."""

from __future__ import annotations

import sys
import urllib.request

import pytest

from extensions import db as _db
from tests.conftest import free_port, own_database
from tests.factories import CauseFactory
from tests.served import get, output, server_process, stop
from tests.streams_client import open_stream, status_of

STREAMS = 300
TOKEN = "scrape-the-streams"


@pytest.mark.slow
def test_with_300_streams_open_page_views_still_answer(app, tmp_path):
    with own_database(app, tmp_path, "streams") as own:
        with own.app_context():
            cause = CauseFactory(slug="night", title="Twestival night")
            _db.session.commit()
            path = f"/api/v1/causes/{cause.slug}/stream"
        port = free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": own.config["SQLALCHEMY_DATABASE_URI"],
            "RELAIS_INSTANCE": str(tmp_path / "instance"),
            "PORT": str(port),
            "LIVE_MAX_STREAMS": str(STREAMS),
            "LIVE_RATE_LIMIT": "10000 per minute",  # every stream comes from 127.0.0.1
            "LIVE_HEARTBEAT_SECONDS": "5",
            "METRICS_TOKEN": TOKEN,
        }
        command = [sys.executable, "-c", "from app import main; main()", "serve", "--workers", "1"]
        logs = tmp_path / "logs"
        base = f"http://127.0.0.1:{port}"
        streams = []
        with server_process(command, env=env, cwd=app.root_path, port=port, logs=logs) as server:
            try:
                for _ in range(STREAMS):
                    sock, seen = open_stream(port, path)
                    streams.append(sock)
                    assert status_of(seen) == 200 and b"event: totals" in seen, seen[:300]
                # Every stream open and waiting: pages, the cause and the API still answer.
                for url in ("/", "/c/night", "/c/night/leaderboard", "/api/v1/causes/night"):
                    status, body = get(base + url)
                    assert status == 200, (url, body[:300])
                # One more stream is told to come back later, without a thread held.
                sock, seen = open_stream(port, path)
                sock.close()
                assert status_of(seen) == 503 and b"Retry-After:" in seen
                request = urllib.request.Request(  # noqa: S310 - loopback
                    base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    scraped = response.read().decode()
                assert f"relais_live_streams_open {float(STREAMS)}" in scraped
            finally:
                for sock in streams:
                    sock.close()
            assert stop(server) == 0, output(logs)
