"""Degraded mode: what Relais answers while its database cannot be reached.

- Public cause, page, leaderboard and home views (``last_good.kept``) are
  served from their last good render with a "figures as of HH:MM" notice, and
  the page's give form replaced by a sentence saying giving is paused.
- Everything else that needs the database — giving, checkout, signing in and
  up, the API, Stripe's webhooks — answers 503 with ``Retry-After``: a page
  (or JSON) that says what is paused and to try again in a few minutes. The
  webhook's 5xx makes Stripe deliver the event again later.
- Nothing is half-written: the unit of work rolled back what it began, and
  nothing in here touches the database (everyone is served as a visitor).

``/healthz`` still answers and ``/readyz`` says 503 with the database's error.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
from flask import Flask, current_app, g, jsonify, render_template, request, session
from flask_babel import force_locale, format_datetime, format_time
from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from campaigns.runtime import last_good, metrics
from extensions import db

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 120
LOG_EVERY_SECONDS = 30
ANSWERS = "relais.error_answers"  # app.extensions: answer(error) -> response | None
NOTICE_MARK = "<!--relais:notice-->"
GIVE_START, GIVE_END = "<!--relais:give-->", "<!--/relais:give-->"
# GET forms that are no use while nothing can be saved: said at once, not on submit.
PAUSED_FORMS = ("security.login", "security.register", "security.forgot_password")
# What SQLite says when its file cannot be used (its other OperationalErrors are bugs).
SQLITE_UNAVAILABLE = (
    "unable to open database file",
    "database is locked",
    "disk i/o error",
    "database or disk is full",
    "readonly database",
)

_logged = {"at": 0.0}
_log_lock = threading.Lock()


def unavailable(error: BaseException | None) -> bool:
    """The database cannot be reached or used now (an error or what caused it)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
            return True  # the pool waited for a connection in vain
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        original = getattr(error, "orig", None) or error
        if isinstance(original, psycopg.OperationalError | psycopg.InterfaceError):
            return True
        if isinstance(original, sqlite3.OperationalError):
            message = str(original).lower()
            return any(words in message for words in SQLITE_UNAVAILABLE)
        error = error.__cause__ or error.__context__
    return False


def answer(error: BaseException):
    """The degraded answer to ``error``, or None when the database is not the cause."""
    if not unavailable(error):
        return None
    _as_a_visitor()
    _log(error)
    if request.method in ("GET", "HEAD") and _kept_view():
        render = last_good.load(request.script_root + request.path, _languages())
        if render is not None:
            metrics.DEGRADED_ANSWERS.labels("last_good").inc()
            return _stale(render)
    kind = _kind()
    metrics.DEGRADED_ANSWERS.labels(kind).inc()
    message = _message(kind)
    if request.path.startswith(("/api/", "/webhooks/")):
        response = jsonify({"error": message, "status": 503})
    else:
        response = current_app.make_response(render_template("paused.html", message=message))
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _as_a_visitor() -> None:
    """Forget the broken transaction and the signed-in agent: the answer is
    rendered without one more query (the header would load the agent)."""
    with contextlib.suppress(Exception):  # the connection is gone: nothing to roll back
        db.session.rollback()
    g._login_user = current_app.login_manager.anonymous_user()


def _log(error: BaseException) -> None:
    now = time.monotonic()
    with _log_lock:
        if now - _logged["at"] < LOG_EVERY_SECONDS:
            return
        _logged["at"] = now
    first = str(getattr(error, "orig", None) or error).strip().splitlines()
    log.warning(
        "the database cannot be reached (%s: %s): serving last good pages, pausing the rest",
        type(error).__name__,
        first[0] if first else "",
    )


def _kept_view() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "relais_last_good", False))


def _languages() -> list[str]:
    """The visitor's language first (switch, then browser), then the others."""
    languages = list(current_app.config["LANGUAGES"])
    wanted = session.get("locale")
    if wanted not in languages:
        wanted = request.accept_languages.best_match(languages)
    if wanted in languages:
        languages.remove(wanted)
        languages.insert(0, wanted)
    return languages


def _kind() -> str:
    endpoint = request.endpoint or ""
    if endpoint.startswith("giving."):
        return "giving"
    if endpoint.startswith("security."):
        return "sign_in"
    if endpoint.startswith("webhooks."):
        return "webhook"
    if request.method in ("GET", "HEAD"):
        return "page"
    return "change"


def _message(kind: str) -> str:
    later = _("Please try again in a few minutes.")
    return (
        {
            "giving": _(
                "Giving is paused for a few minutes while we fix a problem: no payment was taken."
            ),
            "sign_in": _(
                "Signing in and signing up are paused for a few minutes while we fix a problem."
            ),
            "webhook": _("Relais cannot record events right now; deliver this one again later."),
            "page": _("This page cannot be shown for a few minutes while we fix a problem."),
            "change": _(
                "Saving is paused for a few minutes while we fix a problem: nothing was changed."
            ),
        }[kind]
        + " "
        + later
    )


def _stale(render: last_good.Render):
    with force_locale(render.language):
        saved = render.saved_at
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        if saved.astimezone(zone).date() == datetime.now(zone).date():
            when = format_time(saved, "short")
        else:
            when = format_datetime(saved, "short")
        notice = _(
            "Relais is having a problem: this is a saved copy of the page, with figures "
            "as of %(time)s. Giving and signing in are paused for a few minutes.",
            time=when,
        )
        paused = _message("giving")
    body = render.body
    html = f'<p class="notice notice-warning" role="status">{escape(notice)}</p>'
    body = body.replace(NOTICE_MARK, html, 1) if NOTICE_MARK in body else html + body
    start, end = body.find(GIVE_START), body.find(GIVE_END)
    if 0 <= start < end:
        body = body[:start] + f"<p>{escape(paused)}</p>" + body[end + len(GIVE_END) :]
    response = current_app.response_class(body, status=200, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Relais-Degraded"] = f"last-good; saved-at={saved.isoformat()}"
    response.headers["Content-Language"] = render.language
    return response


def _probe_paused_forms() -> None:
    # A sign-in form that could not be submitted says so at once, not on submit.
    if request.method == "GET" and request.endpoint in PAUSED_FORMS:
        try:
            db.session.execute(text("SELECT 1"))
        finally:
            db.session.rollback()


def init_app(app: Flask) -> None:
    answers = app.extensions.setdefault(ANSWERS, [])
    if answer not in answers:
        answers.append(answer)
    app.before_request(_probe_paused_forms)
