"""``relais serve``: gunicorn's settings, and a real server in a child process."""

from __future__ import annotations

import sys

import pytest

from campaigns.runtime import serve
from campaigns.runtime.serve import PAGE_THREADS, RelaisServer, server_options
from extensions import db as _db
from tests.conftest import free_port, own_database
from tests.factories import CauseFactory
from tests.served import get, output, server_process, stop


def test_each_worker_has_a_thread_per_live_stream_plus_threads_for_pages():
    options, warnings = server_options({"LIVE_MAX_STREAMS": 50}, "127.0.0.1", 8000, None, None)
    assert options["worker_class"] == "gthread"
    assert options["threads"] == 50 + PAGE_THREADS
    assert options["bind"] == ["127.0.0.1:8000"]
    assert warnings == []


def test_one_worker_without_redis_several_with_it(monkeypatch):
    monkeypatch.setattr(serve, "cpus", lambda: 16)
    alone, _ = server_options({}, "127.0.0.1", 8000, None, None)
    shared, _ = server_options({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "::1", 8000, None, None)
    assert alone["workers"] == 1
    assert shared["workers"] == serve.MAX_DEFAULT_WORKERS
    assert shared["bind"] == ["[::1]:8000"]


def test_choices_that_hurt_live_pages_are_told():
    _, warnings = server_options({"LIVE_MAX_STREAMS": 200}, "127.0.0.1", 8000, 3, 8)
    assert len(warnings) == 2
    assert "REDIS_URL" in warnings[0]
    assert "LIVE_MAX_STREAMS=200" in warnings[1]


def test_options_come_from_the_environment(runner, monkeypatch):
    """HOST, PORT, WEB_WORKERS and WEB_THREADS reach gunicorn's own settings."""
    seen = {}

    def run(self):
        seen.update(
            bind=self.cfg.bind,
            workers=self.cfg.workers,
            threads=self.cfg.threads,
            worker=self.cfg.worker_class_str,
        )

    monkeypatch.setattr(RelaisServer, "run", run)
    env = {"HOST": "127.0.0.2", "PORT": "8123", "WEB_WORKERS": "1", "WEB_THREADS": "240"}
    result = runner.invoke(args=["serve"], env=env)
    assert result.exit_code == 0, result.output
    assert seen == {"bind": ["127.0.0.2:8123"], "workers": 1, "threads": 240, "worker": "gthread"}
    result = runner.invoke(args=["serve", "--port", "9000"], env=env)
    assert result.exit_code == 0, result.output
    assert seen["bind"] == ["127.0.0.2:9000"]


@pytest.mark.parametrize(
    ("name", "value"), [("PORT", "abc"), ("PORT", "70000"), ("WEB_WORKERS", "0")]
)
def test_a_bad_option_is_one_clear_line(runner, monkeypatch, name, value):
    monkeypatch.setattr(RelaisServer, "run", lambda self: pytest.fail("the server started"))
    result = runner.invoke(args=["serve"], env={name: value})
    assert result.exit_code == 2
    assert name in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_relais_serve_serves_the_database_then_stops_cleanly_on_sigterm(app, tmp_path):
    with own_database(app, tmp_path, "serve") as own:
        with own.app_context():
            CauseFactory(slug="served", title="Wells for Lyon")
            _db.session.commit()
        port = free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": own.config["SQLALCHEMY_DATABASE_URI"],
            "RELAIS_INSTANCE": str(tmp_path / "instance"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
        command = [sys.executable, "-c", "from app import main; main()", "serve", "--workers", "2"]
        logs = tmp_path / "logs"
        with server_process(command, env=env, cwd=app.root_path, port=port, logs=logs) as server:
            base = f"http://127.0.0.1:{port}"
            assert get(base + "/")[0] == 200
            status, body = get(base + "/c/served")
            assert status == 200
            assert "Wells for Lyon" in body
            assert stop(server) == 0, output(logs)
        log = output(logs)
        assert f"Relais on http://127.0.0.1:{port}/ with 2 worker(s)" in log
        assert "Using worker: gthread" in log
        assert "without REDIS_URL" in log  # two workers, no Redis: told
        assert '"GET /c/served HTTP/1.1" 200' in log  # the access log
