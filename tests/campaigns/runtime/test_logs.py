"""Logging: no logger of the project silenced by a migration, one format for
every process, a request id on every line of its request."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from flask import Flask

from app import create_app
from campaigns.runtime import logs
from messaging.scheduling.scheduler import Job, run_job
from tests.conftest import app_config, fresh_database_url

PROJECT = ("campaigns", "messaging", "agents", "app", "relais")
# Loggers the issue found silenced after `relais demo`'s upgrade.
WATCHED = (
    "messaging.outbox.delivery",
    "campaigns.standings.live",
    "campaigns.standings.ranks",
    "messaging.automatic.services",
)


def project_loggers() -> dict[str, logging.Logger]:
    return {
        name: logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and name.split(".")[0] in PROJECT
    }


@pytest.fixture
def root_logging(app):
    """The process's logging as the session's app set it up, put back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    formatters = [(h, h.formatter) for h in handlers]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for handler, formatter in formatters:
        handler.setFormatter(formatter)


def unmigrated_app(tmp_path, **extra) -> Flask:
    url = fresh_database_url("sqlite", tmp_path, "logs")
    return create_app({**app_config(url, tmp_path), **extra})


def enable_all() -> None:
    for logger in project_loggers().values():
        logger.disabled = False


def assert_none_disabled() -> None:
    loggers = project_loggers()
    assert set(WATCHED) <= set(loggers)
    assert [name for name, logger in loggers.items() if logger.disabled] == []


def test_no_project_logger_is_disabled_after_relais_db_upgrade(tmp_path, root_logging):
    app = unmigrated_app(tmp_path)
    enable_all()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert_none_disabled()
    assert "relais" in [h.get_name() for h in logging.getLogger().handlers]


def test_alembic_logging_set_up_disables_no_logger_either(tmp_path, root_logging):
    """An app whose logging Relais did not set up gets alembic.ini's, which
    must leave the project's loggers on."""
    app = unmigrated_app(tmp_path)
    app.extensions.pop("relais.logs")
    enable_all()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert_none_disabled()


def test_no_project_logger_is_disabled_after_the_demo_upgrade(tmp_path, root_logging):
    app = unmigrated_app(tmp_path)
    enable_all()
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "Demo data created." in result.output
    assert_none_disabled()
    assert "relais" in [h.get_name() for h in logging.getLogger().handlers]


def logging_app(**config) -> Flask:
    app = create_app({"TESTING": True, **config})

    @app.get("/_log")
    def view():
        logging.getLogger("campaigns.somewhere").warning("inside the view")
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            logging.getLogger("messaging.somewhere").exception("it failed", extra={"page": 7})
        return "ok"

    return app


def lines_with(text: str, err: str) -> list[str]:
    return [line for line in err.splitlines() if text in line]


def test_a_request_keeps_its_id_and_every_line_of_it_carries_it(capsys, root_logging):
    client = logging_app().test_client()
    capsys.readouterr()
    response = client.get("/_log", headers={"X-Request-ID": "abc"})
    assert response.headers["X-Request-ID"] == "abc"
    err = capsys.readouterr().err
    (line,) = lines_with("inside the view", err)
    assert "WARNING campaigns.somewhere [abc] inside the view" in line
    (line,) = lines_with("it failed", err)
    assert "[abc]" in line
    assert "ZeroDivisionError" in err  # the traceback follows the line

    logging.getLogger("campaigns.somewhere").warning("outside a request")
    (line,) = lines_with("outside a request", capsys.readouterr().err)
    assert "[" not in line


@pytest.mark.parametrize("given", [None, "", "a b", "x" * 129, "abc\u00e9", "<script>"])
def test_a_request_without_a_sane_id_gets_a_new_one(given, root_logging):
    client = logging_app().test_client()
    headers = {} if given is None else {"X-Request-ID": given}
    first = client.get("/_log", headers=headers).headers["X-Request-ID"]
    second = client.get("/_log", headers=headers).headers["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_error_pages_carry_the_request_id_too(root_logging):
    client = logging_app().test_client()
    response = client.get("/no/such/page", headers={"X-Request-ID": "req-404.1_x"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "req-404.1_x"


def test_json_mode_writes_one_json_object_a_line(capsys, root_logging):
    client = logging_app(RELAIS_LOG_FORMAT="json").test_client()
    capsys.readouterr()
    client.get("/_log", headers={"X-Request-ID": "abc"})
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    view = next(e for e in entries if e["message"] == "inside the view")
    assert view["request_id"] == "abc"
    assert (view["level"], view["logger"]) == ("WARNING", "campaigns.somewhere")
    failure = next(e for e in entries if e["message"] == "it failed")
    assert failure["request_id"] == "abc" and failure["page"] == 7
    assert "ZeroDivisionError" in failure["exc_info"]


def test_configuring_twice_adds_no_second_handler_or_hook(root_logging):
    app = create_app({"TESTING": True})
    hooks = len(app.before_request_funcs[None])
    logs.configure_logging(app)
    logs.configure_logging(create_app({"TESTING": True}))
    names = [h.get_name() for h in logging.getLogger().handlers]
    assert names.count("relais") == 1
    assert len(app.before_request_funcs[None]) == hooks


def test_the_start_line_names_the_settings_and_no_secret(caplog):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://relais:hunter2@db/relais",
            "SMTP_URL": "smtp+starttls://mailer:pa55@smtp.example.org:587",
            "STRIPE_SECRET_KEY": "sk_live_abcdef",
            "SECRET_KEY": "top-secret",
        }
    )
    with caplog.at_level(logging.INFO, logger="campaigns.runtime.logs"):
        logs.log_start(app, "worker")
    (record,) = caplog.records
    message = record.getMessage()
    assert message.startswith("relais worker starting: ")
    assert "database=postgresql+psycopg://relais:***@db/relais" in message
    assert "smtp=smtp+starttls://mailer:***@smtp.example.org:587" in message
    assert "stripe=live" in message
    for secret in ("hunter2", "pa55", "sk_live_abcdef", "top-secret"):
        assert secret not in message and secret not in json.dumps(record.settings)


def fine() -> None:
    logging.getLogger("campaigns.somewhere").info("job body")


def broken() -> None:
    raise RuntimeError("the job broke")


def test_each_job_run_is_logged_with_its_duration_and_a_failure_with_its_traceback(app, caplog):
    with caplog.at_level(logging.INFO, logger="messaging.scheduling.scheduler"):
        run_job(app, Job("fine-job", f"{__name__}:fine", seconds=60))
        run_job(app, Job("broken-job", f"{__name__}:broken", seconds=60))
    ran, failed = [r for r in caplog.records if r.name == "messaging.scheduling.scheduler"]
    assert ran.levelname == "INFO" and ran.job_id == "fine-job"
    assert ran.duration_seconds >= 0 and ran.getMessage().startswith("job fine-job ran in ")
    assert failed.levelname == "ERROR" and failed.job_id == "broken-job"
    assert failed.exc_info[0] is RuntimeError


def test_the_worker_logs_its_start_and_each_batch(runner, org, caplog):
    from messaging.outbox.queue import enqueue
    from tests.factories import AgentFactory

    agent = AgentFactory()
    row = {"organisation_id": org.id, "agent_id": agent.id, "recipient": agent.email}
    enqueue(
        [
            {**row, "dedupe_key": "logs:1", "channel": "email", "subject": "Hi", "body_text": "."},
            {**row, "dedupe_key": "logs:2", "channel": "copy", "body_text": "Share this"},
        ]
    )
    with caplog.at_level(logging.INFO):
        result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert any(r.getMessage().startswith("relais worker starting: ") for r in caplog.records)
    (batch,) = [r for r in caplog.records if r.name == "messaging.outbox.cli"]
    assert batch.counts == {"sent": 1, "skipped": 1} and batch.failed == 0


def test_the_scheduler_logs_its_start_and_when_it_leads(app, tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "RELAIS_INSTANCE": str(tmp_path),
        "RELAIS_LOG_FORMAT": "json",
    }
    scheduler = subprocess.Popen(
        [sys.executable, "-c", "from app import main; main()", "scheduler", "--poll", "0.2"],
        env=env,
        cwd=app.root_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        messages = []
        for line in scheduler.stderr:  # ends if the process dies
            messages.append(json.loads(line)["message"])
            if messages[-1].startswith("scheduler leading: "):
                break
    finally:
        scheduler.kill()
        scheduler.wait(timeout=10)
    assert messages[0].startswith("relais scheduler starting: ")
    assert "database=" in messages[0] and "env=development" in messages[0]
    assert "deliver-outbox" in messages[-1]
