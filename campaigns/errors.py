"""Errors a service raises, and how the web and API show them."""

from __future__ import annotations

import re

from flask import Flask, Request, abort, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter


class ServiceError(Exception):
    """Base for refusals a user should see as a sentence."""

    status = 400

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
        message = messages.get(exc.code or 500, exc.description or "")
        if wants_json():
            response = jsonify({"error": message, "status": exc.code})
            response.status_code = exc.code or 500
            if exc.code == 429 and exc.response is not None:
                for header in ("Retry-After",):
                    if header in exc.response.headers:
                        response.headers[header] = exc.response.headers[header]
            return response
        return render_template("error.html", code=exc.code, message=message), exc.code

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if wants_json():
            body = {"error": exc.message}
            if isinstance(exc, ValidationError):
                body["errors"] = exc.errors
            return jsonify(body), exc.status
        return render_template("error.html", code=exc.status, message=exc.message), exc.status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        app.logger.exception("unexpected error")
        message = _("Something went wrong on our side. Please try again in a moment.")
        if wants_json():
            return jsonify({"error": message, "status": 500}), 500
        return render_template("error.html", code=500, message=message), 500
