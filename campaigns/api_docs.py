"""The OpenAPI 3.1 document of ``/api/v1``, generated from the code, and its
reference page.

spectree builds the document from the routes and the pydantic models of
``campaigns/api_schemas.py``: each API view says what it answers with
``@operation(...)``; its docstring is the operation's summary (first line) and
description. spectree only documents here: it never runs in a request (the
views parse their input themselves, with translated, field-by-field messages,
and the live stream must not be buffered), so a view's answers and its models
can only agree because the suite's schemathesis run checks every answer
against this document.

``GET /api/v1/openapi.json`` serves the document, ``GET /api/v1/docs`` a page
rendered from it on the server (no script, no CDN).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from functools import wraps

from flask import current_app, jsonify, render_template
from pydantic import BaseModel, Field
from spectree import Response, SpecTree

from campaigns import api_schemas as schemas
from campaigns.json_api import bp

spec = SpecTree(
    "flask",
    mode="strict",  # only the views marked with @operation
    annotations=False,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    validation_error_status=400,
    validation_error_model=schemas.Problem,
    page_templates={},  # the reference page below, not spectree's (they load scripts from CDNs)
    title="Relais API",
    version="1",
)

TOKEN_SCHEME = "personalToken"  # noqa: S105 - the scheme's name
READ_SECURITY = [{}, {TOKEN_SCHEME: []}]  # anonymous, or a token of either scope
WRITE_SECURITY = [{TOKEN_SCHEME: ["write"]}]

TAGS = {
    "causes": "Causes, their pages and their totals.",
    "pages": "Personal, event and team pages: reading, searching, creating, changing.",
    "leaderboards": "Ranks within a cause, read once or followed live.",
    "organisations": "The organisations that run causes.",
    "leagues": "Contests across organisations: their live board.",
    "reference": "This document and its reference page.",
}

ERRORS = {
    400: "the request cannot be read: a query parameter or the body (see errors)",
    401: "a token was sent that is not valid, was revoked or has expired (writes need one)",
    403: "not yours, or the token can only read (type insufficient-scope)",
    404: "there is nothing public at this address",
    409: "the page's state does not allow it (closed), or a concurrent change won",
    413: "the body is too large",
    422: "some fields need fixing, each named in errors; nothing was changed",
    429: "too many requests (writes are counted per token): wait Retry-After seconds",
    500: "something went wrong on our side",
    503: "too many live connections right now: retry after Retry-After seconds",
}
READ_ERRORS = (400, 401, 404, 500)
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422, 429, 500)

# Operations whose 200 is not JSON: operation id -> what the document says instead.
SPECIAL_CONTENT: dict[str, dict] = {}


def operation(
    *,
    tags: tuple[str, ...],
    answer: type[BaseModel] | None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    headers: type[BaseModel] | None = None,
    writes: bool = False,
    created: bool = False,
    accepted: type[BaseModel] | None = None,
    errors: tuple[int, ...] | None = None,
    security: list | None = None,
    content: dict | None = None,
    slug: str = "",
) -> Callable:
    """Document an API view: what it answers (``answer``, 201 if ``created``),
    what it reads and which errors it may give; ``accepted``: the 202 answer of
    a request left for someone to decide; ``slug`` says what the path's slug names."""

    def decorate(view: Callable) -> Callable:
        codes = errors or (WRITE_ERRORS if writes else READ_ERRORS)
        responses = {f"HTTP_{201 if created else 200}": answer}
        if accepted is not None:
            responses["HTTP_202"] = accepted
        for code in codes:
            model = schemas.ValidationProblem if code == 422 else schemas.Problem
            responses[f"HTTP_{code}"] = (model, ERRORS[code])
        if content is not None:
            SPECIAL_CONTENT[view.__name__] = content
        documented = spec.validate(
            query=query,
            json=body,
            headers=headers,
            resp=Response(**responses),
            tags=tags,
            security=security
            if security is not None
            else (WRITE_SECURITY if writes else READ_SECURITY),
            operation_id=view.__name__,
            path_parameter_descriptions={"slug": slug} if slug else None,
            skip_validation=True,
        )(view)

        @wraps(view)
        def run(*args, **kwargs):
            return view(*args, **kwargs)

        # spectree finds an operation's description through __wrapped__; the
        # request runs the view itself.
        run.__wrapped__ = documented
        return run

    return decorate


def describe(view: Callable, doc: str, **documented) -> None:
    """Document a route that another blueprint registers and decorates (the
    live stream, in ``standings/views.py``) without wrapping it: a stand-in of
    the same name carries ``doc`` (its summary and description) and what
    ``operation`` records, and the view's innermost function points to it
    (spectree follows ``__wrapped__``; a request never does)."""

    def stand_in(*args, **kwargs):  # never called
        raise NotImplementedError

    stand_in.__name__ = stand_in.__qualname__ = view.__name__
    stand_in.__doc__ = doc
    DESCRIPTIONS[view.__name__] = doc
    innermost = inspect.unwrap(view)
    innermost.__wrapped__ = operation(**documented)(stand_in)


# Docstrings of the routes ``describe`` documents: the view spectree reads has none.
DESCRIPTIONS: dict[str, str] = {}


# --- the document -------------------------------------------------------------------

INTRODUCTION = """\
Public reads need no key. A request may carry a personal access token
(`Authorization: Bearer rls_…`, made on your account page or with
`relais tokens create`); reads with it also show the pages you may edit while
they are drafts or hidden. Writes need a token of the **write** scope: a
**read** token gets 403. An expired or revoked token is a 401, on reads too.
Writes are limited per token (`API_WRITE_RATE_LIMIT`, 60 a minute by default):
past it, 429 with `Retry-After`.

Every error is a problem document (RFC 9457, `application/problem+json`):
`type`, `title`, `status`, `detail`, `instance`, plus `error` (the same
sentence as `detail`) and, for invalid input (400, 422), `errors`: what to fix,
field by field. Amounts are integers in minor units with their currency. Text
never holds NUL characters (400).
"""


def event_stream_content(data_model: type[BaseModel], event: str) -> dict:
    """An SSE media type: each event's fields, its data a JSON document."""
    return {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "description": "one event; comments (`: ping`) keep a quiet stream open",
                "required": ["event", "data"],
                "properties": {
                    "event": {"const": event},
                    "id": {"type": "string", "pattern": "^[0-9]+$"},
                    "retry": {"type": "integer", "minimum": 0},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": {"$ref": f"#/components/schemas/{data_model.__name__}"},
                    },
                },
            }
        }
    }


def _finish(raw: dict) -> dict:
    """spectree's document, with what it does not know: problem documents, the
    security scheme, response headers and the answers that are not JSON."""
    document = copy.deepcopy(raw)
    document["info"]["description"] = INTRODUCTION
    document["tags"] = [{"name": name, "description": text} for name, text in TAGS.items()]
    document["components"]["securitySchemes"] = {
        TOKEN_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "rls_…",
            "description": "a personal access token, of the read or the write scope",
        }
    }
    document.pop("security", None)
    for path in document["paths"].values():
        for op in path.values():
            op["tags"] = op.get("tags") or ["reference"]
            for parameter in op.get("parameters", []):
                parameter["schema"].pop("title", None)
                if parameter["in"] == "path":
                    parameter["schema"]["minLength"] = 1
            for code, answer in op["responses"].items():
                status = int(code)
                body = answer.get("content", {}).pop("application/json", None)
                if status >= 400 and body is not None:
                    answer["content"]["application/problem+json"] = body
                elif body is not None:
                    answer["content"]["application/json"] = body
                answer.update(_headers(status))
            doc = DESCRIPTIONS.get(op["operationId"])
            if doc is not None:
                summary, _blank, description = inspect.cleandoc(doc).partition("\n\n")
                op["summary"], op["description"] = summary, description.replace("\n", " ")
            special = SPECIAL_CONTENT.get(op["operationId"])
            if special is not None:
                op["responses"]["200"]["content"] = special
    return document


def _headers(status: int) -> dict:
    header = {
        201: ("Location", "the new page in the API", {"type": "string", "format": "uri"}),
        401: ("WWW-Authenticate", 'Bearer realm="relais" (RFC 6750)', {"type": "string"}),
        429: ("Retry-After", "seconds to wait", {"type": "string", "pattern": "^[0-9]+$"}),
        503: ("Retry-After", "seconds to wait", {"type": "string", "pattern": "^[0-9]+$"}),
    }.get(status)
    if header is None:
        return {}
    name, description, schema = header
    return {"headers": {name: {"description": description, "required": True, "schema": schema}}}


def document() -> dict:
    """The OpenAPI 3.1 document of the app's ``/api/v1`` (built once per app)."""
    extensions = current_app.extensions
    if "relais_openapi" not in extensions:
        extensions["relais_openapi"] = _finish(spec.spec)
    return extensions["relais_openapi"]


class OpenAPIDocument(BaseModel):
    openapi: str = Field(pattern=r"^3\.1\.")


@bp.get("/openapi.json")
@operation(
    tags=("reference",),
    answer=OpenAPIDocument,
    errors=(400, 500),
    security=[],
)
def openapi():
    """This OpenAPI 3.1 document."""
    return jsonify(document())


@bp.get("/docs")
@operation(
    tags=("reference",),
    answer=None,
    errors=(400, 500),
    security=[],
    content={"text/html": {"schema": {"type": "string"}}},
)
def docs():
    """The API reference: this document as a page."""
    from campaigns.api_reference import reference

    return render_template("campaigns/api_reference.html", ref=reference(document()))
