"""The lease heartbeat: a worker renews the lease of the batch it holds while it
sends, so a slow batch stays its own; a worker killed mid-batch stops renewing
and its rows go back to the queue within one lease (seconds, not minutes)."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaigns.model_types import utcnow
from extensions import db as _db
from messaging.outbox.leases import LeaseKeeper, claim, recover_stale
from messaging.outbox.models import OutboxMessage
from messaging.outbox.queue import enqueue
from tests.conftest import BACKENDS, drop_app, make_migrated_app
from tests.factories import AgentFactory, OrganisationFactory
from tests.messaging.outbox.test_workers import (
    received_ids,
    row_message_ids,
    seed,
    statuses,
    worker,
)

LEASE = 4  # seconds; the keeper beats every third of it


def rows(count: int, org, agent) -> list[dict]:
    return [
        {
            "dedupe_key": f"lease:{i}",
            "organisation_id": org.id,
            "agent_id": agent.id,
            "channel": "email",
            "subject": f"News {i}",
        }
        for i in range(count)
    ]


def test_recover_stale_takes_back_only_rows_past_their_lease(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_LEASE_SECONDS", LEASE)
    org, agent = OrganisationFactory(), AgentFactory()
    enqueue(rows(2, org, agent))
    claimed = claim("w1", 10)
    assert len(claimed) == 2
    now = utcnow()
    assert recover_stale(now + timedelta(seconds=LEASE - 1)) == {"requeued": 0, "review": 0}
    assert recover_stale(now + timedelta(seconds=LEASE + 1)) == {"requeued": 2, "review": 0}


def test_the_lease_keeper_beats_three_times_a_lease(app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_LEASE_SECONDS", 30)
    with app.app_context():
        assert LeaseKeeper(app, "w1").interval == 10


@pytest.fixture(params=BACKENDS)
def own_app(request, tmp_path, mailbox, worker_id):
    name = f"relais_lease_{worker_id}_{os.getpid()}"
    app = make_migrated_app(request.param, tmp_path, name, mailbox.url, OUTBOX_LEASE_SECONDS=LEASE)
    yield app
    drop_app(app, request.param, name)


def recover(app) -> dict:
    with app.app_context():
        try:
            return recover_stale()
        finally:
            _db.session.remove()


def in_flight_leases(app) -> list:
    with app.app_context():
        try:
            return list(
                _db.session.scalars(
                    select(OutboxMessage.claimed_at).where(OutboxMessage.status == "in_flight")
                )
            )
        finally:
            _db.session.remove()


def wait_for(condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("gave up waiting")


@pytest.mark.slow
def test_a_working_worker_keeps_its_batch_and_a_killed_one_loses_it(own_app, tmp_path, mailbox):
    seed(own_app, 20, "lease")
    # One mail a second: the victim holds its batch of 20 far longer than the lease.
    victim = worker(
        own_app,
        tmp_path,
        "--batch",
        "20",
        OUTBOX_RATE_LIMITS="email=1",
        OUTBOX_LEASE_SECONDS=str(LEASE),
    )
    try:
        wait_for(lambda: len(mailbox.messages) >= LEASE + 2)
        # Alive past its lease (the batch was claimed more than LEASE s ago): its
        # heartbeat kept every row, none is handed to another worker.
        assert recover(own_app) == {"requeued": 0, "review": 0}
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=10)
    held = len(in_flight_leases(own_app))
    assert held > 0  # it died holding claimed rows

    # Killed: nothing renews the lease, and the rows come back within a lease or
    # so (rows renewed a moment apart may come back in two sweeps).
    recovered = 0

    def all_back() -> bool:
        nonlocal recovered
        recovered += recover(own_app)["requeued"]
        return recovered >= held

    wait_for(all_back, seconds=3 * LEASE)
    assert recovered == held
    survivor = worker(own_app, tmp_path, OUTBOX_RATE_LIMITS="email=0")
    _out, err = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, err

    assert statuses(own_app) == {"sent": 20}
    received = received_ids(mailbox)
    assert set(received) == row_message_ids(own_app)
    # A duplicate is only the message the victim was sending, with the same Message-ID.
    assert len(received) - 20 <= 1
