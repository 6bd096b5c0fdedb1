"""Redis stopped while ``REDIS_URL`` is set: the site keeps answering (ranks
from SQL, rate limits in memory, live updates on each node), warns once, and
heals when Redis is back (ranks rebuilt, live updates across nodes again).
A real redis-server on its own port, killed and started in the test."""

from __future__ import annotations

import logging
import os
import uuid
from contextlib import ExitStack

import pytest
import requests

from app import create_app
from campaigns.standings import leaderboards, rank_reads
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db
from tests.campaigns.standings.test_live import SECRET, EventStream, post_gift, setup_cause
from tests.conftest import BACKENDS, app_config, drop_app, fresh_database_url, serving
from tests.redis_process import RedisProcess, needs_redis_server

pytestmark = [needs_redis_server, pytest.mark.slow]
EN = {"Accept-Language": "en"}


def raised_in(data: dict) -> int:
    return data["raised"]["amount_minor"]


def next_raising_to(stream: EventStream, amount: int) -> dict:
    """Messages until one shows the cause at ``amount`` (a resubscribed node
    may first send what it had)."""
    for _ in range(10):
        message = stream.next(within=30)
        assert message is not None, "the stream ended"
        if raised_in(message["data"]) == amount:
            return message
    pytest.fail(f"no message with the cause at {amount}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_with_redis_stopped_the_site_answers_and_heals_when_it_returns(backend, tmp_path, caplog):
    server = RedisProcess(tmp_path / "redis").start()
    name = f"relais_redis_down_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    config = {
        **app_config(fresh_database_url(backend, tmp_path, name), tmp_path),
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": server.url,
        "REDIS_PREFIX": f"relais-test:{uuid.uuid4().hex}:",
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": server.url,
        "RATELIMIT_AUTH": "3 per minute",
        "LIVE_HEARTBEAT_SECONDS": 1,
        "LIVE_COALESCE_SECONDS": 0.1,
    }
    import flask_migrate

    node_a = create_app(config)
    with node_a.app_context():
        flask_migrate.upgrade()
    node_b = create_app(config)  # a second node on the same database and Redis
    try:
        with ExitStack() as stack:
            a, b = (stack.enter_context(serving(node)) for node in (node_a, node_b))
            cause, page, _event = setup_cause(node_a)
            assert requests.get(f"{a}/c/{cause}/leaderboard", timeout=30).status_code == 200
            post_gift(a, cause, page, 1000, "before@example.org")

            caplog.set_level(logging.INFO)
            server.kill()

            # Every door still opens: no 500.
            assert requests.get(f"{a}/open/", timeout=30).status_code == 200
            board = requests.get(f"{a}/c/{cause}/leaderboard", headers=EN, timeout=30)
            assert board.status_code == 200 and "€10" in board.text
            give = requests.post(
                f"{a}/p/{page}/give", data={"amount": "25"}, allow_redirects=False, timeout=30
            )
            assert give.status_code == 303
            # Rate limits still hold, counted in memory.
            login = f"{b}/account/login"
            attempts = [
                requests.post(
                    login, data={"email": "x@example.org", "password": "wrong-one"}, timeout=30
                ).status_code
                for _ in range(4)
            ]
            assert 500 not in attempts and attempts[-1] == 429, attempts

            # Live updates reach the streams of the node that took the gift.
            on_a = stack.enter_context(_closing(EventStream(f"{a}/api/v1/causes/{cause}/stream")))
            assert raised_in(on_a.next()["data"]) == 1000
            on_b = stack.enter_context(_closing(EventStream(f"{b}/api/v1/causes/{cause}/stream")))
            assert raised_in(on_b.next()["data"]) == 1000
            post_gift(a, cause, page, 2000, "during@example.org")
            assert raised_in(next_raising_to(on_a, 3000)["data"]) == 3000

            warned = [
                r
                for r in caplog.records
                if r.levelno >= logging.WARNING
                and r.name.startswith("campaigns.")
                and "Redis" in r.getMessage()
            ]
            assert len(warned) == 2, [r.getMessage() for r in warned]  # one per node
            assert "rate limits are kept in memory" in warned[0].getMessage()

            # Redis is back, with the sets it had before the outage (stale).
            server.start()
            next_raising_to(on_b, 3000)  # node B catches up when it subscribes again
            post_gift(a, cause, page, 4000, "after@example.org")
            assert raised_in(next_raising_to(on_b, 7000)["data"]) == 7000  # across nodes again

            with node_b.app_context():
                cause_id = _cause_id(cause)
                assert totals.figures_one(TotalScope.CAUSE, cause_id).raised_minor == 7000
                from_redis = rank_reads.board(cause_id, "pages", limit=10)
                from_sql = leaderboards.sql_board(cause_id, "pages", limit=10)
                assert [(r[0], r[1], r[3]) for r in from_redis] == [
                    (e.page_id, e.raised_minor, e.rank) for e in from_sql
                ]
                assert from_redis[0][1] == 7000
    finally:
        for node in (node_a, node_b):
            from campaigns.standings import live

            live.hub(node).close()
        server.kill()
        drop_app(node_a, backend, name)


def _cause_id(slug: str) -> int:
    from sqlalchemy import select

    from campaigns.organisations.models import Cause

    return db.session.scalar(select(Cause.id).where(Cause.slug == slug))


class _closing:
    def __init__(self, stream: EventStream):
        self.stream = stream

    def __enter__(self) -> EventStream:
        return self.stream

    def __exit__(self, *exc) -> None:
        self.stream.close()
