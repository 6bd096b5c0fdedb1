"""The API reference page, read from the OpenAPI document: operations by tag,
their parameters, bodies and answers, the schemas and the kinds of problem."""

from __future__ import annotations

import json

from flask_babel import gettext as _
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from campaigns.errors import PROBLEM_STATUS, problem_titles

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


def reference(document: dict) -> dict:
    """What ``templates/campaigns/api_reference.html`` shows."""
    by_tag: dict[str, list[dict]] = {tag["name"]: [] for tag in document.get("tags", [])}
    for path, methods in document["paths"].items():
        for method in METHOD_ORDER:
            op = methods.get(method)
            if op is not None:
                by_tag.setdefault(op["tags"][0], []).append(_operation(path, method, op))
    titles = problem_titles()
    return {
        "title": document["info"]["title"],
        "version": document["info"]["version"],
        "openapi": document["openapi"],
        # Our own text; markdown-it escapes any HTML in it ("html": False).
        "introduction": Markup(  # noqa: S704
            MarkdownIt("commonmark", {"html": False}).render(document["info"]["description"])
        ),
        "tags": [
            {"name": tag["name"], "description": tag.get("description", ""), "operations": ops}
            for tag in document.get("tags", [])
            if (ops := by_tag.get(tag["name"]))
        ],
        "schemas": [
            _schema(name, schema)
            for name, schema in sorted(document["components"]["schemas"].items())
        ],
        "problems": [
            {"kind": kind, "title": titles[kind], "status": status}
            for kind, status in sorted(PROBLEM_STATUS.items(), key=lambda item: item[1])
        ],
    }


def _operation(path: str, method: str, op: dict) -> dict:
    security = op.get("security")
    if security == [] or security is None:
        access = "public"
    elif {} in security:
        access = "token optional"
    else:
        access = "write token"
    body = op.get("requestBody", {}).get("content", {})
    return {
        "id": op["operationId"],
        "method": method.upper(),
        "path": path,
        "summary": op.get("summary", ""),
        "description": op.get("description", ""),
        "access": access,
        "parameters": [
            {
                "name": p["name"],
                "where": p["in"],
                "required": p.get("required", False),
                "type": type_text(p.get("schema", {})),
                "description": p.get("description") or p.get("schema", {}).get("description", ""),
            }
            for p in op.get("parameters", [])
        ],
        "body": [
            {"media_type": media_type, "type": type_text(item.get("schema", {}))}
            for media_type, item in body.items()
        ],
        "responses": [
            {
                "status": code,
                "description": answer.get("description", ""),
                "content": [
                    {"media_type": media_type, "type": type_text(item.get("schema", {}))}
                    for media_type, item in answer.get("content", {}).items()
                ],
                "headers": list(answer.get("headers", {})),
            }
            for code, answer in sorted(op["responses"].items())
        ],
    }


def _schema(name: str, schema: dict) -> dict:
    required = set(schema.get("required", []))
    return {
        "name": name,
        "description": schema.get("description", ""),
        "type": type_text(schema) if "properties" not in schema else "",
        "closed": schema.get("additionalProperties") is False,
        "fields": [
            {
                "name": field,
                "required": field in required,
                "type": type_text(value),
                "description": value.get("description", ""),
            }
            for field, value in schema.get("properties", {}).items()
        ],
    }


def type_text(schema: dict) -> Markup:
    """A schema in a few words, with links to the named schemas."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return Markup('<a href="#schema-{0}"><code>{0}</code></a>').format(name)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return escape(_(" or ")).join(type_text(option) for option in schema[combinator])
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        values = Markup(", ").join(_code(value) for value in schema["enum"])
        return escape(_("one of {values}")).format(values=values)
    kind = schema.get("type", "any")
    if kind == "array":
        return escape(_("list of {type}")).format(type=type_text(schema.get("items", {})))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return escape(_("map of {type}")).format(type=type_text(schema["additionalProperties"]))
    words = [escape(kind if isinstance(kind, str) else _(" or ").join(kind))]
    if "format" in schema:
        words.append(Markup("({})").format(schema["format"]))
    bounds = _bounds(schema)
    if bounds:
        words.append(Markup("<small>{}</small>").format(bounds))
    if "pattern" in schema:
        words.append(
            escape(_("matching {pattern}")).format(pattern=_code(schema["pattern"], raw=True))
        )
    return Markup(" ").join(words)


def _code(value, *, raw: bool = False) -> Markup:
    text = value if raw else json.dumps(value, ensure_ascii=False)
    return Markup("<code>{}</code>").format(text)


def _bounds(schema: dict) -> str:
    if "minLength" in schema or "maxLength" in schema:
        low, high = schema.get("minLength"), schema.get("maxLength")
        if low is not None and high is not None:
            return _("%(low)s to %(high)s characters", low=low, high=high)
        if high is not None:
            return _("at most %(high)s characters", high=high)
        return _("at least %(low)s characters", low=low)
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return _("%(low)s to %(high)s", low=low, high=high)
    if high is not None:
        return _("at most %(high)s", high=high)
    if low is not None:
        return _("at least %(low)s", low=low)
    return ""
