"""The one way to build an absolute address, in a request or in a job."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for

LOCALHOST = "http://localhost"


def absolute_url(endpoint: str, *, fallback: str | None = LOCALHOST, **values) -> str | None:
    """``PUBLIC_URL`` when it is set (a proxy may hide the public address), else
    the request's own host, else ``fallback`` (a job has no request to ask):
    ``None`` gives no address at all, ``""`` a path."""
    base = current_app.config.get("PUBLIC_URL") or ""
    if has_request_context():
        if not base:
            return url_for(endpoint, _external=True, **values)
        return base.rstrip("/") + url_for(endpoint, **values)
    if not base and fallback is None:
        return None
    root = current_app.config.get("APPLICATION_ROOT") or "/"
    path = current_app.url_map.bind("localhost", script_name=root).build(endpoint, values)
    return (base or fallback).rstrip("/") + path
