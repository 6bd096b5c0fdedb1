"""One scheduler leads; another waits and takes over when the first is gone."""

import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from campaigns.runtime import heartbeats
from extensions import db
from messaging.scheduling.leader import Leadership
from messaging.scheduling.scheduler import JOBS
from tests.conftest import TEST_DATABASE_URL, free_port


def test_jobs_have_fixed_unique_ids():
    ids = [job.id for job in JOBS]
    assert len(ids) == len(set(ids))
    assert {"issue-receipts", "deliver-outbox", "reconcile-stripe"} <= set(ids)
    # Receipts are outbox rows now: the job that mailed them alone is gone.
    assert "deliver-pending-mail" not in ids


def test_only_one_leader_at_a_time(app):
    with app.app_context():
        first, second = Leadership(db.engine), Leadership(db.engine)
        assert first.try_acquire()
        try:
            assert not second.try_acquire()
        finally:
            first.release()
        assert second.try_acquire()
        second.release()


def test_a_second_scheduler_process_waits_then_takes_over(app, tmp_path):
    """Two real `relais scheduler` processes on one database: the second only
    leads once the first has been killed."""
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "RELAIS_INSTANCE": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "SMTP_URL": "",
    }
    command = [sys.executable, "-c", "from app import main; main()", "scheduler", "--poll", "0.2"]

    def start():
        return subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, text=True, cwd=app.root_path
        )

    def first_line(proc):
        return proc.stdout.readline().strip()

    leader = start()
    try:
        assert first_line(leader).startswith("Scheduler leading")
        follower = start()
        try:
            assert first_line(follower).startswith("Another scheduler is running")
            leader.kill()
            leader.wait(timeout=10)
            deadline = time.monotonic() + 20
            line = first_line(follower)
            assert line.startswith("Scheduler leading"), line
            assert time.monotonic() < deadline
        finally:
            follower.kill()
            follower.wait(timeout=10)
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait(timeout=10)


# Advisory locks are per database, pg_locks is the whole cluster's: other
# workers' databases hold their own (schedulers, refund locks) at the same time.
LOCK_HOLDER = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = :high AND objid = :low "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
LOCKS_HELD = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _holder_pid(connection) -> int | None:
    from messaging.scheduling.leader import ADVISORY_KEY

    return connection.execute(
        text(LOCK_HOLDER), {"high": ADVISORY_KEY >> 32, "low": ADVISORY_KEY & 0xFFFFFFFF}
    ).scalar()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_leader_whose_lock_connection_dropped_knows_it_no_longer_leads(app):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the advisory lock is PostgreSQL's")
    with app.app_context():
        leader, other = Leadership(db.engine), Leadership(db.engine)
        assert leader.try_acquire() and leader.holds()
        with db.engine.connect() as connection:
            # What a PostgreSQL restart does to the leader's session.
            connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": _holder_pid(connection)}
            )
            connection.commit()
        assert not leader.holds()
        assert other.try_acquire()
        other.release()
        leader.release()  # nothing left to release: no error


def test_a_database_that_cannot_be_reached_is_waited_for_not_a_crash():
    from sqlalchemy import create_engine

    down = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    assert Leadership(down).try_acquire() is False


@pytest.mark.slow
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_after_its_lock_connection_drops_the_leader_stops_and_the_follower_leads(app, tmp_path):
    """Two real schedulers; the leader's lock connection is cut (as a PostgreSQL
    restart would): within seconds the follower leads and the old leader waits,
    so there are never two leaders. Heartbeats tell who leads."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the advisory lock is PostgreSQL's")
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "RELAIS_INSTANCE": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "SMTP_URL": "",
    }
    command = [sys.executable, "-c", "from app import main; main()", "scheduler"]
    command += ["--poll", "0.2", "--check", "0.2"]

    def start():
        return subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, text=True, cwd=app.root_path
        )

    first = start()
    second = None
    try:
        assert first.stdout.readline().startswith("Scheduler leading")
        second = start()
        assert second.stdout.readline().startswith("Another scheduler is running")
        with app.app_context():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                led = heartbeats.summary()["scheduler"]
                if led["has_leader"] and led["alive"] >= 2:
                    break
                time.sleep(0.2)
            assert led["has_leader"] and led["alive"] >= 2, led  # killed ones linger a minute
            with db.engine.connect() as connection:
                connection.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": _holder_pid(connection)}
                )
                connection.commit()
        # Whichever takes it (the follower, or the old leader once more), within
        # seconds exactly one session holds the lock, and it is a live scheduler.
        with app.app_context(), db.engine.connect() as connection:
            deadline = time.monotonic() + 10
            holders = 0
            while time.monotonic() < deadline:
                holders = connection.execute(text(LOCKS_HELD)).scalar()
                if holders == 1:
                    break
                time.sleep(0.1)
            assert holders == 1
        assert first.poll() is None and second.poll() is None  # neither crashed
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def _advisory_holders(connection, database: str) -> int:
    return connection.execute(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = :name)"
        ),
        {"name": database},
    ).scalar()


def _terminate_all(connection, database: str) -> int:
    """What a PostgreSQL restart does to every session of ``database``."""
    ended = connection.execute(
        text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": database},
    ).scalar()
    connection.commit()
    return ended


@pytest.mark.slow
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_after_a_database_restart_both_schedulers_survive_and_one_leads(app, tmp_path):
    """Every session of the schedulers' database is cut, again and again for
    three seconds (a restart: each new session dies too): neither scheduler
    exits, within seconds exactly one holds the lock, and one started next waits."""
    from sqlalchemy import make_url

    from tests.conftest import own_database

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the advisory lock is PostgreSQL's")
    with own_database(app, tmp_path, "sched") as own:
        url = own.config["SQLALCHEMY_DATABASE_URI"]
        database = make_url(url).database
        env = {
            "DATABASE_URL": url,
            "RELAIS_INSTANCE": str(tmp_path),
            "PATH": "/usr/bin:/bin",
            "SMTP_URL": "",
        }
        command = [sys.executable, "-c", "from app import main; main()", "scheduler"]
        command += ["--poll", "0.2", "--check", "0.2"]

        def start():
            return subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                cwd=app.root_path,
            )

        def one_leader_within(seconds: float) -> int:
            with own.app_context(), db.engine.connect() as connection:
                deadline = time.monotonic() + seconds
                holders = -1
                while time.monotonic() < deadline:
                    holders = _advisory_holders(connection, database)
                    if holders == 1:
                        break
                    time.sleep(0.1)
                return holders

        processes = [start()]
        try:
            assert processes[0].stdout.readline().startswith("Scheduler leading")
            processes.append(start())
            assert processes[1].stdout.readline().startswith("Another scheduler is running")
            with own.app_context(), db.engine.connect() as connection:
                assert _terminate_all(connection, database) >= 2
                restarting = time.monotonic() + 3
                while time.monotonic() < restarting:
                    _terminate_all(connection, database)
                    time.sleep(0.02)
            assert one_leader_within(15) == 1
            assert [p.poll() for p in processes] == [None, None]  # neither exited
            processes.append(start())
            assert processes[2].stdout.readline().startswith("Another scheduler is running")
            assert one_leader_within(5) == 1
            assert [p.poll() for p in processes] == [None, None, None]
        finally:
            for proc in processes:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=20)
            with own.app_context():
                db.engine.dispose()
