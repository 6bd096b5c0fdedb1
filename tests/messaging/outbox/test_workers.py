"""Real `relais worker` processes on PostgreSQL against the loopback SMTP
server: two workers deliver every row exactly once; a worker killed mid-batch
loses nothing (at least once, a resend keeps its Message-ID)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from messaging.outbox.models import OutboxMessage
from messaging.outbox.queue import enqueue
from tests.conftest import TEST_DATABASE_URL, drop_database, make_migrated_app
from tests.factories import AgentFactory, OrganisationFactory

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)"),
]


@pytest.fixture
def pg_app(tmp_path, mailbox, worker_id):
    name = f"relais_outbox_{worker_id}_{os.getpid()}"
    app = make_migrated_app("postgresql", tmp_path, name, mailbox.url)
    yield app
    with app.app_context():
        _db.engine.dispose()
    drop_database("postgresql", name)


def seed(app, count: int, prefix: str) -> None:
    with app.app_context():
        org = OrganisationFactory()
        agents = [AgentFactory() for _ in range(10)]
        _db.session.commit()
        enqueue(
            [
                {
                    "dedupe_key": f"{prefix}:{i}",
                    "organisation_id": org.id,
                    "agent_id": agents[i % 10].id,
                    "channel": "email",
                    "recipient": f"supporter{i}@example.org",
                    "subject": f"News {i}",
                    "body_text": f"Message {i}",
                }
                for i in range(count)
            ]
        )
        _db.session.commit()


def worker(app, tmp_path, *args, **env):
    return subprocess.Popen(
        [sys.executable, "-c", "from app import main; main()", "worker", "--once", *args],
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SMTP_URL": app.config["SMTP_URL"],
            "RELAIS_INSTANCE": str(tmp_path),
            "SECRET_KEY": "test-secret",
            "OUTBOX_RATE_LIMITS": "email=0",  # as fast as it goes
            **env,
        },
        cwd=app.root_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def statuses(app) -> Counter:
    with app.app_context():
        rows = _db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
        _db.session.rollback()
        return Counter({str(status): n for status, n in rows})


def row_message_ids(app) -> set[str]:
    with app.app_context():
        ids = set(_db.session.scalars(select(OutboxMessage.message_id)))
        _db.session.rollback()
        return ids


def received_ids(mailbox) -> list[str]:
    with mailbox.lock:
        return [m["message"]["Message-ID"].strip() for m in mailbox.messages]


def test_two_workers_deliver_a_thousand_emails_exactly_once(pg_app, tmp_path, mailbox):
    seed(pg_app, 1000, "fanout")
    procs = [worker(pg_app, tmp_path, "--batch", "50") for _ in range(2)]
    # Generous: on a loaded machine two interpreters start slowly; it is a bound, not a measure.
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err

    received = received_ids(mailbox)
    assert len(received) == 1000
    assert len(set(received)) == 1000
    assert set(received) == row_message_ids(pg_app)
    assert statuses(pg_app) == {"sent": 1000}
    per_worker = [int(re.search(r"sent (\d+)", out).group(1)) for out, _ in outputs]
    assert sum(per_worker) == 1000


def test_a_killed_worker_loses_no_email(pg_app, tmp_path, mailbox):
    seed(pg_app, 300, "kill")
    # Slowed down (100/s) so it is surely killed in the middle of a batch.
    victim = worker(pg_app, tmp_path, "--batch", "50", OUTBOX_RATE_LIMITS="email=100")
    deadline = time.monotonic() + 30
    while len(mailbox.messages) < 60 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=10)
    before = statuses(pg_app)
    assert before["in_flight"] > 0, before  # it died holding claimed rows
    assert before["queued"] > 0

    time.sleep(1.1)  # the dead worker's lease (1 s here) runs out
    survivor = worker(pg_app, tmp_path, OUTBOX_LEASE_SECONDS="1")
    out, err = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, err
    assert "recovered_requeued" in out

    assert statuses(pg_app) == {"sent": 300}
    received = received_ids(mailbox)
    expected = row_message_ids(pg_app)
    assert set(received) == expected  # every email arrived at least once
    # A duplicate is only the message the victim was sending, with the same Message-ID.
    assert len(received) - len(expected) <= 1
