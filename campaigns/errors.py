"""Errors a service raises, and how the web and API show them."""

from __future__ import annotations

import json
import re
import time

from flask import Flask, Request, Response, abort, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import BuildError, IntegerConverter

from campaigns.urls import absolute_url
from extensions import limiter


class ServiceError(Exception):
    """Base for refusals a user should see as a sentence."""

    status = 400
    kind: str | None = None  # the API's problem type (STATUS_PROBLEMS by default)

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class ValidationError(ServiceError):
    """Field-level problems: ``errors`` maps a field name to what to do."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class PermissionDenied(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def has_nul(request) -> bool:
    """NUL cannot be stored in PostgreSQL text and is never meaningful input."""
    if "\x00" in request.path:
        return True
    for values in (request.args, request.form):
        if any("\x00" in value for _, value in values.items(multi=True)):
            return True
    # JSON spells it \u0000; the webhook body is Stripe's and is checked there.
    return request.is_json and b"\\u0000" in request.get_data().lower()


SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_path(value, path: str = "") -> str | None:
    """Where a lone surrogate sits in parsed JSON (``goal.note.1``), if anywhere.

    JSON may spell one (``"\\ud800"``) although no UTF-8 text can hold it: the
    database driver would fail on it later, mid-transaction."""
    if isinstance(value, str):
        return (path or "body") if SURROGATE.search(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and SURROGATE.search(key):
            return here
        found = _surrogate_path(item, here)
        if found:
            return found
    return None


class RequestJSON(DefaultJSONProvider):
    """Flask's JSON, with nesting too deep for Python's parser made a
    ``ValueError`` (so a 400, not a RecursionError and a 500)."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


class RelaisRequest(Request):
    """Request bodies that no view can use are refused where they are read.

    Code that only peeks at the body (``silent=True``) gets ``None`` instead:
    Flask-Login's request loader looks for a token in every JSON body, and it
    runs again while the error page is rendered (the language depends on who is
    logged in), so raising there would fail the error page too."""

    def get_json(self, force=False, silent=False, cache=True):
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RequestEntityTooLarge:  # over MAX_CONTENT_LENGTH: a 413
            if silent:
                return None
            raise
        where = _surrogate_path(value)
        if where:
            if silent:
                return None
            raise ValidationError({where: _("This text holds a character that is not valid.")})
        return value


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: ids past what a key can hold are a 404, not
    an overflow in the database driver (a 500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


# --- problem documents (RFC 9457) -------------------------------------------------

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The kind of problem each status means, unless the raiser names another one.
STATUS_PROBLEMS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    422: "validation",
    429: "rate-limited",
    500: "server-error",
    503: "unavailable",
}
# Every kind of problem and its status (those a raiser names, with the status's own).
PROBLEM_STATUS = {
    **{kind: status for status, kind in STATUS_PROBLEMS.items()},
    "token-expired": 401,
    "insufficient-scope": 403,
}


def problem_titles() -> dict[str, str]:
    """The title of each kind of problem, in the request's language (a function:
    translations are chosen per request)."""
    return {
        "bad-request": _("The request cannot be read"),
        "unauthorized": _("A valid access token is needed"),
        "token-expired": _("The access token has expired"),
        "forbidden": _("Not allowed"),
        "insufficient-scope": _("This token can only read"),
        "not-found": _("Not found"),
        "method-not-allowed": _("Method not allowed"),
        "conflict": _("Conflict with the current state"),
        "too-large": _("Request too large"),
        "validation": _("Some fields need fixing"),
        "rate-limited": _("Too many requests"),
        "server-error": _("Something went wrong on our side"),
        "unavailable": _("Unavailable for now"),
    }


def problem_type(kind: str) -> str:
    """The problem's ``type``: its entry in the API reference."""
    try:
        return absolute_url("api.docs", _anchor=f"problem-{kind}")
    except BuildError:  # an app without the reference: the generic type
        return "about:blank"


def problem_body(
    status: int, detail: str, *, kind: str | None = None, errors: dict | None = None
) -> dict:
    """The fields of a problem document."""
    kind = kind or STATUS_PROBLEMS.get(status, "server-error" if status >= 500 else "bad-request")
    body = {
        "type": problem_type(kind),
        "title": problem_titles()[kind],
        "status": status,
        "detail": detail,
        "instance": request.path,
        "error": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def as_problem(response: Response) -> Response:
    """An API error answer a view built as plain JSON (the live stream's 503
    when it is full), made the problem document every other error is; its
    fields and headers are kept."""
    body = response.get_json(silent=True)
    if not isinstance(body, dict) or "type" in body:
        return response
    detail = body.get("error") or body.get("detail") or ""
    errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
    fixed = {**body, **problem_body(response.status_code, str(detail), errors=errors)}
    response.set_data(json.dumps(fixed))
    response.mimetype = PROBLEM_MEDIA_TYPE
    return response


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: dict | None = None,
    headers: dict | None = None,
):
    """An error answer of the API: ``application/problem+json`` (RFC 9457),
    keeping the ``error`` (the sentence) and ``status`` fields answers had before,
    and ``errors`` (field by field) for invalid input."""
    response = jsonify(problem_body(status, detail, kind=kind, errors=errors))
    response.status_code = status
    response.mimetype = PROBLEM_MEDIA_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# The scope of the one limit shared by every API write (``json_api.write_limit``).
API_WRITES_SCOPE = "api-writes"


def retry_after() -> tuple[int, bool]:
    """Seconds until the limit this request went over lets it through again
    (counted as Flask-Limiter counts its ``Retry-After``), and whether that
    limit is the one of API writes."""
    limit = limiter.current_limit
    if limit is None:
        return 60, False
    return max(1, int(limit.reset_at - time.time())), API_WRITES_SCOPE in limit.key


# Headers of an HTTP error that its problem document keeps (405's Allow, for one).
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def init_app(app: Flask) -> None:
    # Before any blueprint is registered: rules pick their converters when added.
    app.url_map.converters["int"] = IdConverter
    app.json = RequestJSON(app)
    app.request_class = RelaisRequest

    @app.before_request
    def refuse_nul():
        if not request.path.startswith("/webhooks/") and has_nul(request):
            abort(400)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        messages = {
            400: _("The request could not be understood. Check the form and try again."),
            401: _("Please log in first."),
            403: _("You are not allowed to do that."),
            404: _("We could not find that page. Check the address or go back to the home page."),
            405: _("That action is not possible here."),
            413: _("That file is too large. Choose a smaller one."),
            429: _("Too many attempts. Please wait a minute and try again."),
        }
        code = exc.code or 500
        message = messages.get(code, exc.description or "")
        if wants_json():
            if code == 429:
                seconds, writes = retry_after()
                if writes:
                    message = _(
                        "Too many requests in a short time (API writes are counted per token). "
                        "Try again in %(n)s seconds.",
                        n=seconds,
                    )
                else:
                    message = _(
                        "Too many requests in a short time. Try again in %(n)s seconds.",
                        n=seconds,
                    )
            kept = {name: value for name, value in exc.get_headers() if name in KEPT_HEADERS}
            if exc.response is not None:
                kept.update(
                    (name, exc.response.headers[name])
                    for name in KEPT_HEADERS
                    if name in exc.response.headers
                )
            if code == 429:
                kept.setdefault("Retry-After", str(seconds))
            return problem(code, message, headers=kept)
        return render_template("error.html", code=exc.code, message=message), exc.code

    @app.after_request
    def api_errors_are_problems(response: Response) -> Response:
        if (
            response.status_code >= 400
            and request.path.startswith("/api/")
            and response.mimetype == "application/json"
        ):
            return as_problem(response)
        return response

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if wants_json():
            errors = exc.errors if isinstance(exc, ValidationError) else None
            return problem(exc.status, exc.message, kind=exc.kind, errors=errors)
        return render_template("error.html", code=exc.status, message=exc.message), exc.status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        # Another package's answer to errors it knows (the database is down: degraded mode).
        for answer in app.extensions.get("relais.error_answers", ()):
            response = answer(exc)
            if response is not None:
                return response
        app.logger.exception("unexpected error")
        message = _("Something went wrong on our side. Please try again in a moment.")
        if wants_json():
            return problem(500, message)
        return render_template("error.html", code=500, message=message), 500
