"""The unit of work: one commit at the boundary, a rollback on any error,
after-commit hooks only after a commit, a PostgreSQL deadlock run again, and
simultaneous users of the embedded SQLite default all served."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable

import pytest
from flask import Blueprint, abort
from sqlalchemy import func, select, text

from agents.models import Agent, MembershipRole
from campaigns import unit_of_work
from campaigns.audit import AuditEntry
from campaigns.giving.models import PendingGift
from campaigns.organisations.models import Organisation
from extensions import db as _db
from tests.conftest import TEST_DATABASE_URL, drop_app, drop_database, make_migrated_app
from tests.factories import (
    PASSWORD,
    AgentFactory,
    CauseFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
)

# --- commit once, roll back on error -----------------------------------------------------


@pytest.fixture
def probe_app(tmp_path):
    """An app on its own SQLite file (real commits) with probe views that write
    an organisation, then answer, fail or refuse."""
    name = f"relais_uow_{uuid.uuid4().hex[:8]}"
    app = make_migrated_app("sqlite", tmp_path, name)
    probe = Blueprint("probe", __name__)

    def write(slug: str) -> None:
        _db.session.add(Organisation(slug=slug, name=slug))
        _db.session.flush()

    @probe.post("/probe/ok/<slug>")
    def ok(slug):
        write(slug)
        return "ok"

    @probe.post("/probe/boom/<slug>")
    def boom(slug):
        write(slug)
        raise RuntimeError("the view failed after writing")

    @probe.post("/probe/refused/<slug>")
    def refused(slug):
        write(slug)
        return "bad input", 422

    @probe.post("/probe/abort/<slug>")
    def aborted(slug):
        write(slug)
        abort(404)

    # Routes added after create_app are wrapped the same way.
    app.register_blueprint(probe)
    unit_of_work.init_app(app)
    try:
        yield app
    finally:
        drop_app(app, "sqlite", name)


def organisations(app) -> set[str]:
    with app.app_context():
        return set(_db.session.scalars(select(Organisation.slug)))


def count_commits(app) -> list[int]:
    commits: list[int] = []
    unit_of_work.on_commit(app, lambda _app, _session: commits.append(1))
    return commits


def test_a_view_is_committed_once_at_the_boundary(probe_app):
    commits = count_commits(probe_app)
    response = probe_app.test_client().post("/probe/ok/kept")
    assert response.status_code == 200
    assert commits == [1]
    assert organisations(probe_app) == {"kept"}


@pytest.mark.parametrize("route, status", [("boom", 500), ("refused", 422), ("abort", 404)])
def test_a_view_that_fails_or_refuses_changes_nothing(probe_app, route, status):
    commits = count_commits(probe_app)
    response = probe_app.test_client().post(f"/probe/{route}/gone")
    assert response.status_code == status
    assert commits == []
    assert organisations(probe_app) == set()


def test_every_view_of_the_app_is_a_unit_of_work(app):
    assert all(getattr(v, "relais_unit_of_work", False) for v in app.view_functions.values())


def test_a_job_runs_as_one_unit_committed_or_rolled_back(probe_app):
    with probe_app.app_context():
        unit_of_work.run_transaction(lambda: _db.session.add(Organisation(slug="job", name="J")))

        def failing():
            _db.session.add(Organisation(slug="failed", name="F"))
            _db.session.flush()
            raise ValueError("the job failed")

        with pytest.raises(ValueError):
            unit_of_work.run_transaction(failing)
    assert organisations(probe_app) == {"job"}


# --- after commit --------------------------------------------------------------------------


def test_after_commit_callbacks_run_after_the_commit_and_never_after_a_rollback(probe_app):
    ran: list[str] = []
    with probe_app.app_context():

        def queue_then(outcome: str):
            def work():
                _db.session.add(Organisation(slug=outcome, name=outcome))
                unit_of_work.after_commit(lambda: ran.append(outcome))
                assert ran == []  # not before the commit
                if outcome == "rolled-back":
                    raise LookupError(outcome)

            return work

        with pytest.raises(LookupError):
            unit_of_work.run_transaction(queue_then("rolled-back"))
        unit_of_work.run_transaction(queue_then("committed"))
        unit_of_work.run_transaction(lambda: None)  # a later commit runs nothing again
    assert ran == ["committed"]


def test_a_callback_queued_by_a_refused_request_never_runs(probe_app):
    ran: list[str] = []
    probe = Blueprint("probe_hooks", __name__)

    @probe.post("/probe/hook/<int:status>")
    def hook(status):
        unit_of_work.after_commit(lambda: ran.append(status))
        return "done", status

    probe_app.register_blueprint(probe)
    unit_of_work.init_app(probe_app)
    client = probe_app.test_client()
    client.post("/probe/hook/422")
    client.post("/probe/hook/200")
    assert ran == [200]


# --- a PostgreSQL deadlock is run again ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_deadlocked_request_is_run_again_and_both_commit(tmp_path):
    name = f"relais_uow_deadlock_{os.getpid()}"
    app = make_migrated_app("postgresql", tmp_path, name)
    attempts: dict[int, int] = {1: 0, 2: 0}
    barrier = threading.Barrier(2)
    probe = Blueprint("probe_deadlock", __name__)

    @probe.post("/probe/cross/<int:first>/<int:second>")
    def cross(first, second):
        attempts[first] += 1
        _db.session.execute(text("UPDATE probe SET n = n + 1 WHERE id = :i"), {"i": first})
        if attempts[first] == 1:
            barrier.wait(timeout=20)  # both hold one row, then want the other's
        _db.session.execute(text("UPDATE probe SET n = n + 1 WHERE id = :i"), {"i": second})
        return "crossed"

    app.register_blueprint(probe)
    unit_of_work.init_app(app)
    try:
        with app.app_context():
            _db.session.execute(text("CREATE TABLE probe (id int PRIMARY KEY, n int NOT NULL)"))
            _db.session.execute(text("INSERT INTO probe VALUES (1, 0), (2, 0)"))
            _db.session.commit()
        statuses = in_threads(
            [
                lambda: app.test_client().post("/probe/cross/1/2").status_code,
                lambda: app.test_client().post("/probe/cross/2/1").status_code,
            ]
        )
        assert statuses == [200, 200]
        assert max(attempts.values()) >= 2  # PostgreSQL aborted one; it ran again
        with app.app_context():
            rows = _db.session.execute(text("SELECT id, n FROM probe ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(1, 2), (2, 2)]
            _db.engine.dispose()
    finally:
        drop_database("postgresql", name)


# --- simultaneous users on the embedded SQLite default -------------------------------------


def in_threads(calls: list[Callable[[], object]]) -> list[object]:
    """Each call in its own thread, all released at once; what each returned
    (or the class name of what it raised), in the order given."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = call()
        except Exception as exc:  # reported to the test thread
            results[index] = type(exc).__name__

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.fixture
def sqlite_file_app(tmp_path):
    """The embedded default: an SQLite file (WAL, busy timeout), real commits."""
    name = f"relais_uow_busy_{uuid.uuid4().hex[:8]}"
    app = make_migrated_app("sqlite", tmp_path, name)
    with app.app_context():
        org = OrganisationFactory(slug="eau-vive")
        PageFactory(cause=CauseFactory(organisation=org), slug="lyon-runs")
        _db.session.commit()
    try:
        yield app
    finally:
        drop_app(app, "sqlite", name)


def logged_in(app, uniquifier: str):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with client.session_transaction() as session:
        session["_user_id"] = uniquifier
        session["_fresh"] = True
        session["_id"] = uuid.uuid4().hex
    return client


def test_fifteen_donors_pressing_give_at_once_are_all_sent_to_pay(sqlite_file_app):
    app = sqlite_file_app

    def give():
        response = app.test_client().post("/p/lyon-runs/give", data={"amount": "25"})
        return response.status_code

    assert in_threads([give] * 15) == [303] * 15
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(PendingGift)) == 15


def test_fifteen_staff_csv_exports_at_once_are_all_served_and_traced(sqlite_file_app):
    app = sqlite_file_app
    with app.app_context():
        org = _db.session.scalars(select(Organisation)).one()
        staff = [
            MembershipFactory(organisation=org, role=MembershipRole.STAFF).agent.fs_uniquifier
            for _ in range(15)
        ]
        _db.session.commit()
    clients = [logged_in(app, uniquifier) for uniquifier in staff]

    def export(client):
        def call():
            response = client.get("/staff/eau-vive/dashboard/exports/donations.csv")
            lines = response.get_data(as_text=True).splitlines()
            return response.status_code, len(lines)

        return call

    # Each file is served whole: its header and no gift yet.
    assert in_threads([export(c) for c in clients]) == [(200, 1)] * 15
    with app.app_context():
        traced = _db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "export.donations")
        )
        assert traced == 15


def test_accounts_deleted_at_the_same_moment_are_all_deleted(sqlite_file_app):
    app = sqlite_file_app
    with app.app_context():
        org = _db.session.scalars(select(Organisation)).one()
        agents = []
        # Each holds the write lock through an argon2 check: a handful, so that a
        # loaded machine stays well inside the 10 s busy timeout.
        for n in range(6):
            agent = AgentFactory(email=f"leaving{n}@example.org", name=f"Leaving {n}")
            MembershipFactory(organisation=org, agent=agent)
            agents.append(agent.fs_uniquifier)
        _db.session.commit()
    clients = [logged_in(app, uniquifier) for uniquifier in agents]

    def leave(client):
        def call():
            data = {"understood": "y", "password": PASSWORD}
            return client.post("/me/delete", data=data).status_code

        return call

    assert in_threads([leave(c) for c in clients]) == [302] * 6
    with app.app_context():
        left = _db.session.scalar(
            select(func.count()).select_from(Agent).where(Agent.email.like("leaving%"))
        )
        assert left == 0


def test_scheduled_jobs_next_to_donors_all_commit(sqlite_file_app, caplog):
    """The gift digest and the rank snapshots read, then write: as writers from
    their first read they wait for the gives instead of failing."""
    from datetime import UTC, datetime, timedelta

    from campaigns.organisations.models import Cause, CauseStatus
    from messaging.scheduling.scheduler import Job, run_job

    app = sqlite_file_app
    with app.app_context():
        ended = CauseFactory(
            organisation=_db.session.scalars(select(Organisation)).one(),
            ends_at=datetime.now(UTC) - timedelta(days=1),
        )
        _db.session.commit()
        ended_id = ended.id

    def give():
        return app.test_client().post("/p/lyon-runs/give", data={"amount": "25"}).status_code

    def job(job_id: str, path: str):
        def call():
            run_job(app, Job(job_id, path, seconds=60))
            return job_id

        return call

    jobs = [
        job("gift-digest", "messaging.automatic.jobs:gift_digest"),
        job("rank-snapshots", "messaging.automatic.jobs:rank_snapshots"),
        job("close-ended-causes", "campaigns.organisations.jobs:close_ended_causes"),
    ]
    with caplog.at_level("INFO", logger="messaging.scheduling.scheduler"):
        outcomes = in_threads([give] * 6 + jobs)
    assert outcomes == [303] * 6 + ["gift-digest", "rank-snapshots", "close-ended-causes"]
    assert not [r for r in caplog.records if "failed" in r.getMessage()]
    with app.app_context():
        # The job no longer commits itself: its unit of work did.
        assert _db.session.get(Cause, ended_id).status == CauseStatus.CLOSED


def test_a_reading_request_that_writes_after_all_is_run_again_as_a_writer(probe_app):
    """A GET that reads, then writes (a first visit making its share links):
    when SQLite is locked at its write, the unit runs again as a writer."""
    probe = Blueprint("probe_reader", __name__)

    @probe.get("/probe/read-then-write/<int:n>")
    def read_then_write(n):
        _db.session.scalar(select(func.count()).select_from(Organisation))
        _db.session.add(Organisation(slug=f"late-{n}", name="L"))
        _db.session.flush()
        return "written"

    probe_app.register_blueprint(probe)
    unit_of_work.init_app(probe_app)

    def visit(n: int):
        return lambda: probe_app.test_client().get(f"/probe/read-then-write/{n}").status_code

    assert in_threads([visit(n) for n in range(12)]) == [200] * 12
    assert len(organisations(probe_app)) == 12
