"""The last good render of the public pages, kept for when the database is down.

A cause, a page, a leaderboard and the home page, rendered for an anonymous
visitor, are kept per address and language: on disk in this node's instance
folder, and in Redis when ``REDIS_URL`` is set, so a node can serve a page only
the other node rendered. At most one copy per address and language every
``LAST_GOOD_SECONDS`` per process (0: nothing is kept). While the database
cannot be reached, ``campaigns.runtime.degraded`` serves these copies with a
"figures as of" notice.

Nothing personal is kept: only plain GETs by nobody signed in, with no
credentials, no message flashed and no filter in the query string; the CSRF
token of the visitor's session is blanked out of the copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path

from flask import Flask, current_app, g, make_response, request
from flask.globals import request_ctx
from flask_babel import get_locale
from flask_login import current_user

log = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 24 * 3600  # in Redis; the disk copy stays until replaced
REDIS_BACKOFF_SECONDS = 30
MAX_THROTTLE_ENTRIES = 20_000
_saved: dict[tuple[str, str], float] = {}  # (path, language) -> when this process last kept it
_lock = threading.Lock()


@dataclass(frozen=True)
class Render:
    path: str
    language: str
    saved_at: datetime
    body: str

    def blob(self) -> bytes:
        data = {
            "path": self.path,
            "language": self.language,
            "saved_at": self.saved_at.isoformat(),
            "body": self.body,
        }
        return zlib.compress(json.dumps(data).encode(), 1)

    @classmethod
    def from_blob(cls, blob: bytes) -> Render:
        data = json.loads(zlib.decompress(blob))
        saved_at = datetime.fromisoformat(data["saved_at"])
        return cls(data["path"], data["language"], saved_at, data["body"])


def kept(*, filters: tuple[str, ...] = ()):
    """Keep the view's anonymous renders; ``filters`` are the query arguments
    that change what the page lists (a filtered render is not kept)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            response = make_response(view(*args, **kwargs))
            if _keepable(response, filters):
                try:
                    save(request.script_root + request.path, str(get_locale()), _clean(response))
                except Exception:  # a copy not kept never fails the page
                    log.exception("last good render of %s not kept", request.path)
            return response

        wrapper.relais_last_good = True
        return wrapper

    return decorate


def _keepable(response, filters: tuple[str, ...]) -> bool:
    if current_app.config.get("LAST_GOOD_SECONDS", 0) <= 0:
        return False
    return (
        request.method == "GET"
        and response.status_code == 200
        and response.mimetype == "text/html"
        and not response.direct_passthrough
        and "X-Relais-Cache" not in response.headers  # a copy rendered earlier
        and "Authorization" not in request.headers
        and not current_user.is_authenticated
        and not request_ctx.flashes  # a message meant for this visitor only
        and not any(request.args.get(name) for name in filters)
    )


def _clean(response) -> str:
    body = response.get_data(as_text=True)
    token = g.get("csrf_token")  # Flask-WTF's signed token of this visitor's session
    return body.replace(token, "") if token else body


# --- the store ----------------------------------------------------------------------


def _name(path: str, language: str) -> str:
    return hashlib.sha256(f"{path}\n{language}".encode()).hexdigest()[:40]


def folder(app: Flask | None = None) -> Path:
    app = app or current_app
    return Path(app.config.get("LAST_GOOD_FOLDER") or Path(app.instance_path) / "last-good")


def save(path: str, language: str, body: str, *, now: float | None = None) -> bool:
    """Keep ``body`` as the last good render of ``path`` in ``language`` unless
    this process kept one less than ``LAST_GOOD_SECONDS`` ago."""
    now = time.monotonic() if now is None else now
    key = (path, language)
    with _lock:
        last = _saved.get(key)
        if last is not None and now - last < current_app.config["LAST_GOOD_SECONDS"]:
            return False
        if len(_saved) >= MAX_THROTTLE_ENTRIES:
            _saved.clear()
        _saved[key] = now
    blob = Render(path, language, datetime.now(UTC), body).blob()
    _write_file(folder() / f"{_name(path, language)}.last", blob)
    client = _redis()
    if client is not None:
        try:
            client.set(_redis_key(path, language), blob, ex=KEEP_SECONDS)
        except Exception as error:
            _redis_failed(error)
    return True


def load(path: str, languages: list[str]) -> Render | None:
    """The newest kept render of ``path``, in the first of ``languages`` that
    has one (Redis and this node's disk both asked)."""
    for language in languages:
        found = [r for r in (_read_redis(path, language), _read_file(path, language)) if r]
        if found:
            return max(found, key=lambda render: render.saved_at)
    return None


def forget() -> None:
    """Forget when this process last kept each page (tests)."""
    with _lock:
        _saved.clear()


def _write_file(target: Path, blob: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside, then renamed: a reader never sees half a page.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_file(path: str, language: str) -> Render | None:
    try:
        return Render.from_blob((folder() / f"{_name(path, language)}.last").read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zlib.error):
        log.warning("unreadable last good render of %s (%s)", path, language)
        return None


# --- Redis, when configured -----------------------------------------------------------


def _redis_key(path: str, language: str) -> str:
    prefix = current_app.config.get("REDIS_PREFIX") or "relais:"
    return f"{prefix}last-good:{_name(path, language)}"


def _state() -> dict:
    return current_app.extensions.setdefault("relais.last_good", {"down_until": 0.0})


def _redis():
    """This process's client, or None when Redis is not configured or failed
    a moment ago (pages are not slowed by a Redis that is down)."""
    url = current_app.config.get("REDIS_URL")
    state = _state()
    if not url or time.monotonic() < state["down_until"]:
        return None
    if "client" not in state:
        import redis

        state["client"] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return state["client"]


def _redis_failed(error: Exception) -> None:
    _state()["down_until"] = time.monotonic() + REDIS_BACKOFF_SECONDS
    log.warning("Redis did not keep or give a last good render: %s", error)


def _read_redis(path: str, language: str) -> Render | None:
    client = _redis()
    if client is None:
        return None
    try:
        blob = client.get(_redis_key(path, language))
    except Exception as error:
        _redis_failed(error)
        return None
    try:
        return Render.from_blob(blob) if blob else None
    except (ValueError, KeyError, zlib.error):
        return None
