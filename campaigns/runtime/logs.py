"""One logging set-up for every Relais process: web, scheduler, worker, commands.

Readable lines on stderr by default, one JSON object a line with
``RELAIS_LOG_FORMAT=json``; ``RELAIS_LOG_LEVEL`` sets the level. A request
takes its id from ``X-Request-ID`` (when it is a sane one) or gets a new one;
the response sends it back in the same header and every line logged during
the request carries it, so one request's lines can be found together.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_HANDLER_NAME = "relais"
_EXTENSION = "relais.logs"
# What every LogRecord has: anything else was passed with extra={...}.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
    "request_tag",
}

log = logging.getLogger(__name__)


def current_request_id() -> str | None:
    """The id of the request being handled, None outside a request."""
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-03 10:15:02,114 INFO messaging.outbox [4f1c…] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id,
    whatever was passed with ``extra=``, and the traceback as ``exc_info``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        entry.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners and click's
    runner swap it), never to a stream closed since."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(app: Flask) -> None:
    """The process's log handler in the app's format and level, and the app's
    request ids; calling it again (another app, the same app) changes nothing more."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    json_lines = app.config.get("RELAIS_LOG_FORMAT") == "json"
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root.setLevel(app.config.get("RELAIS_LOG_LEVEL", "INFO"))
    # APScheduler says "Running job…" and "executed successfully" for every run;
    # the scheduler logs its own line per run, with the duration.
    if root.level > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Flask's own handler would print every app.logger line a second time.
    app.logger.removeHandler(default_handler)
    if _EXTENSION in app.extensions:
        return
    # migrations/env.py reads this: logging is set up, alembic.ini must not redo it.
    app.extensions[_EXTENSION] = handler
    # First of all before_request functions, so that their lines carry the id too.
    app.before_request_funcs.setdefault(None, []).insert(0, take_request_id)
    app.after_request(_return_request_id)


def take_request_id() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER, ""))


def request_id_from(given: str) -> str:
    """The proxy's request id when it is a sane one, else a new one."""
    return given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _return_request_id(response):
    request_id = current_request_id()
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def log_start(app: Flask, process: str) -> None:
    """One line at a process's start: what it is and the settings that matter,
    never a secret."""
    config = app.config
    stripe_key = config.get("STRIPE_SECRET_KEY") or ""
    facts = {
        "pid": os.getpid(),
        "env": config.get("RELAIS_ENV"),
        "database": without_password(config.get("SQLALCHEMY_DATABASE_URI") or ""),
        "redis": without_password(config.get("REDIS_URL") or "") or "off",
        "smtp": without_password(config.get("SMTP_URL") or "") or "off (mail is kept)",
        "public_url": config.get("PUBLIC_URL") or "-",
        "trusted_proxies": config.get("TRUSTED_PROXIES"),
        "stripe": "live" if "_live_" in stripe_key else "test" if stripe_key else "demo",
        "log": f"{config.get('RELAIS_LOG_FORMAT')}/{config.get('RELAIS_LOG_LEVEL')}",
    }
    log.info(
        "relais %s starting: %s",
        process,
        " ".join(f"{k}={v}" for k, v in facts.items()),
        extra={"relais_process": process, "settings": facts},
    )


def without_password(url: str) -> str:
    """``url`` with its password, if any, replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()
