"""One scheduler leads; another waits and takes over when the first is gone."""

import subprocess
import sys
import time

from extensions import db
from messaging.scheduling.leader import Leadership
from messaging.scheduling.scheduler import JOBS


def test_jobs_have_fixed_unique_ids():
    ids = [job.id for job in JOBS]
    assert len(ids) == len(set(ids))
    assert {"issue-receipts", "deliver-pending-mail", "reconcile-stripe"} <= set(ids)


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
