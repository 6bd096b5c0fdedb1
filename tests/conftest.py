"""Shared fixtures: one migrated database per backend and xdist worker, each
test inside an outer transaction, a real SMTP server on loopback."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
import psycopg
import pytest
import redis
import responses
from aiosmtpd.controller import Controller
from flask import g
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from agents.models import MembershipRole
from app import create_app
from campaigns.giving import stripe_gateway
from campaigns.unit_of_work import begin_write
from extensions import db as _db
from tests.factories import CauseFactory, MembershipFactory, OrganisationFactory, PageFactory

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """What the loopback SMTP server received."""

    def __init__(self):
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append({"to": envelope.rcpt_tos, "message": msg})
        return "250 OK"

    def clear(self):
        with self.lock:
            self.messages.clear()


@pytest.fixture(scope="session")
def smtp_server():
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.url = f"smtp://127.0.0.1:{port}"
    yield sink
    controller.stop()


@pytest.fixture
def mailbox(smtp_server):
    """The messages the SMTP server received during this test."""
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def deliver_outbox(db):
    """Deliver what the outbox holds now, as a worker does after the commit:
    tests that saw mail the moment it was written call this first. Returns
    the outcome counts (``{"sent": 1}``)."""
    from messaging.outbox.delivery import drain

    def deliver():
        db.session.commit()  # what the unit of work wrote, as a worker would see it
        return drain("test-worker")

    return deliver


def fresh_database_url(backend: str, directory: Path, name: str) -> str:
    """An empty database: a new SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{directory / (name + '.db')}"
    url = make_url(TEST_DATABASE_URL)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


def drop_database(backend: str, name: str) -> None:
    if backend != "postgresql":
        return
    url = make_url(TEST_DATABASE_URL)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_config(database_url: str, directory: Path, smtp_url: str = "") -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SMTP_URL": smtp_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test-secret",
        "SECURITY_PASSWORD_SALT": "test-salt",
        "UPLOAD_FOLDER": str(directory / "uploads"),
        "SERVER_NAME": None,
        # Redis leaderboards follow commits, and these databases roll back: a test
        # that wants Redis makes its own app with a private REDIS_PREFIX.
        "REDIS_URL": "",
        # Tests read pages right after changing them: no micro-cache of public pages.
        "PUBLIC_PAGE_CACHE_SECONDS": 0,
        # No last good renders kept unless a test of degraded mode asks for them.
        "LAST_GOOD_SECONDS": 0,
        "LAST_GOOD_FOLDER": str(directory / "last-good"),
    }


def make_migrated_app(backend, directory, name, smtp_url="", **extra):
    url = fresh_database_url(backend, directory, name)
    app = create_app({**app_config(url, directory, smtp_url), **extra})
    with app.app_context():
        flask_migrate.upgrade()
    return app


def drop_app(app, backend: str, name: str) -> None:
    """Close the app's connections and drop its database."""
    with app.app_context():
        _db.engine.dispose()
    drop_database(backend, name)


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, tmp_path_factory, smtp_server, worker_id):
    directory = tmp_path_factory.mktemp(f"app-{request.param}")
    # The pid keeps two test runs on one PostgreSQL server apart.
    name = f"relais_test_{worker_id}_{os.getpid()}"
    app = make_migrated_app(request.param, directory, name, smtp_server.url)
    yield app
    drop_app(app, request.param, name)


@contextmanager
def own_database(app, tmp_path, label: str, smtp_url: str = "", **extra):
    """An app on a new database of ``app``'s backend, with real commits (no
    outer transaction): for tests of concurrent writers."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    backend = "postgresql" if uri.startswith("postgresql") else "sqlite"
    name = f"relais_{label}_{uuid.uuid4().hex[:8]}_{os.getpid()}"
    own = make_migrated_app(backend, tmp_path, name, smtp_url, **extra)
    try:
        yield own
    finally:
        drop_app(own, backend, name)


def race(context: Callable, work: Callable[..., str], args: Iterable) -> list[str]:
    """``work(arg)`` in one thread per arg, all released at once, each in its own
    ``context()`` as a writer (as the views begin) and committing: what each
    ended with, ``work``'s answer or the class name of what it raised."""
    args = list(args)
    barrier = threading.Barrier(len(args))
    outcomes: list[str] = []

    def run(arg) -> None:
        with context():
            barrier.wait()
            try:
                begin_write()  # as the views do, before their first read
                outcome = work(arg)
                _db.session.commit()
                outcomes.append(outcome)
            except Exception as exc:  # a loser may see a lock timeout or unique error
                _db.session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@contextmanager
def serving(app):
    """``app`` on a threaded loopback server; yields its base URL."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def drop_redis_keys(url: str, prefix: str) -> None:
    """Remove the keys an app with this private ``REDIS_PREFIX`` wrote."""
    server = redis.Redis.from_url(url)
    keys = list(server.scan_iter(match=prefix + "*"))
    if keys:
        server.delete(*keys)


class BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session picks the engine per table; a test's session
    must use the test's connection (and its outer transaction) for everything."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return bind if bind is not None else self.bind


@pytest.fixture
def db(app):
    """The app's db, every change rolled back after the test (views' commits
    become savepoints inside one outer transaction)."""
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        session = _db._make_scoped_session(
            {
                "class_": BoundSession,
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
            }
        )
        original = _db.session
        _db.session = session
        try:
            yield _db
        finally:
            session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app, db):
    """A test client in English (assertions read English text) that starts every
    request with an empty ``g``: the ``db`` fixture keeps one app context for the
    whole test, and Flask-Login caches the request's user on ``g``."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    open_ = client.open

    def open_with_fresh_g(*args, **kwargs):
        for name in list(vars(g)):
            g.pop(name)
        return open_(*args, **kwargs)

    client.open = open_with_fresh_g
    return client


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


@pytest.fixture
def login_as(client):
    """Log the test client in as an agent (as Flask-Security's session would)."""

    def login(agent):
        # Flask-Login caches the user on g, which lives as long as the test's
        # app context: forget it so the next request loads this agent.
        g.pop("_login_user", None)
        with client.session_transaction() as session:
            session["_user_id"] = agent.fs_uniquifier
            session["_fresh"] = True
            session["_id"] = uuid.uuid4().hex
        return agent

    return login


@pytest.fixture
def backend(db) -> str:
    """'sqlite' or 'postgresql': the database this test runs on."""
    return db.engine.dialect.name


@pytest.fixture
def as_agent(db, client, login_as):
    """Commit the fixtures, log in, and ask for English pages."""

    def login(agent):
        db.session.commit()
        login_as(agent)
        client.get("/lang/en")
        return agent

    return login


# --- an organisation with its staff: Eau Vive, its cause Twestival, a page -------
# A test file with other needs defines its own fixture of the same name.


@pytest.fixture
def org(db):
    return OrganisationFactory(slug="eau-vive", name="Eau Vive")


@pytest.fixture
def cause(db, org):
    return CauseFactory(organisation=org, slug="twestival", title="Twestival")


@pytest.fixture
def page(db, cause):
    return PageFactory(cause=cause, slug="lyon-runs", title="Lyon runs")


@pytest.fixture
def admin(db, org):
    return MembershipFactory(organisation=org, role=MembershipRole.ADMIN).agent


@pytest.fixture
def staffer(db, org):
    return MembershipFactory(organisation=org, role=MembershipRole.STAFF).agent


@pytest.fixture
def outsider(db):
    """Staff of another organisation (slug "autre"): a member, but not of Eau Vive."""
    return MembershipFactory(organisation=OrganisationFactory(slug="autre")).agent


@contextmanager
def count_queries(db, starting: str = "", *, containing: str = "", expunge: bool = True):
    """Statements run inside the block (only those starting with ``starting``, such
    as "SELECT", and containing ``containing``, if given), from an empty session
    as a real request would (the test's own objects must not hide lazy loads),
    unless ``expunge`` is false (what the transaction holds is the point)."""
    if expunge:
        db.session.expunge_all()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(starting) and containing in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def stripe_configured(app, monkeypatch):
    """A Stripe key, and the app's Stripe gateway as ``init_app`` builds it but
    without the library's own retries: each call the test answers is made once."""
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_relais")
    monkeypatch.setitem(
        app.extensions,
        stripe_gateway.EXTENSION,
        stripe_gateway.StripeGateway(max_network_retries=0),
    )


@pytest.fixture
def stripe_api(stripe_configured):
    """Stripe configured; the gateway's real stripe client talks HTTP through
    requests, which ``responses`` intercepts. Yields the mock."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
