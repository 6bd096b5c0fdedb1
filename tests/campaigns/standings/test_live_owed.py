"""A node that took gifts while it could not reach Redis tells the other nodes
once it can: the notices it kept are published with the first one that goes
through, never dropped (a real Redis; the "outage" is this node's own verdict,
as in the few seconds after an error when it does not try)."""

from __future__ import annotations

import json
import uuid

import pytest
import redis
from flask import Flask

from campaigns.standings import live, ranks
from tests.campaigns.standings.test_ranks import REDIS_URL, needs_redis
from tests.conftest import drop_redis_keys

pytestmark = needs_redis


@pytest.fixture
def node():
    app = Flask("node")
    app.config.update(REDIS_URL=REDIS_URL, REDIS_PREFIX=f"relais-test:{uuid.uuid4().hex}:")
    yield app
    live.hub(app).close()
    drop_redis_keys(REDIS_URL, app.config["REDIS_PREFIX"])


def next_notice(pubsub) -> dict | None:
    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    return json.loads(message["data"]) if message else None


def test_notices_kept_while_redis_was_away_go_out_with_the_next_one(node):
    other_node = redis.Redis.from_url(REDIS_URL).pubsub()
    other_node.subscribe(live.channel(node))
    other_node.get_message(timeout=2)  # the subscription's confirmation
    try:
        ranks.report_down(redis.ConnectionError("connection refused"), node)
        live.publish(node, {1: {10, 11}})  # this node's own streams hear of it
        assert next_notice(other_node) is None  # not through Redis: it is away

        ranks.note_reachable(node)
        live.publish(node, {2: {20}})
        assert next_notice(other_node) == {"1": [10, 11], "2": [20]}
        live.publish(node, {2: {21}})
        assert next_notice(other_node) == {"2": [21]}  # what was owed went out once
    finally:
        other_node.close()
