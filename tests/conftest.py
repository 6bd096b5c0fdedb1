"""Shared fixtures: one migrated database per backend and xdist worker, each
test inside an outer transaction, a real SMTP server on loopback."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path

import flask_migrate
import psycopg
import pytest
from aiosmtpd.controller import Controller
from flask import g
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.engine import make_url

from app import create_app
from extensions import db as _db

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
    }


def make_migrated_app(backend, directory, name, smtp_url="", **extra):
    url = fresh_database_url(backend, directory, name)
    app = create_app({**app_config(url, directory, smtp_url), **extra})
    with app.app_context():
        flask_migrate.upgrade()
    return app


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, tmp_path_factory, smtp_server, worker_id):
    directory = tmp_path_factory.mktemp(f"app-{request.param}")
    # The pid keeps two test runs on one PostgreSQL server apart.
    name = f"relais_test_{worker_id}_{os.getpid()}"
    app = make_migrated_app(request.param, directory, name, smtp_server.url)
    yield app
    with app.app_context():
        _db.engine.dispose()
    drop_database(request.param, name)


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
