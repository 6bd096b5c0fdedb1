"""A few seconds' cache of the busiest public pages, for anonymous visitors.

On a campaign day a cause page is asked for by thousands of people who all
get the same HTML in their language. Its figures move live through the SSE
stream, whose first message is the current snapshot, so a page rendered a few
seconds ago is brought up to date as soon as it opens. Only plain GETs with no
cookie and no credentials are cached, and only a 200 that did not touch the
session (no CSRF token, no flash): nothing personal can be served to someone
else. One small LRU per process; ``PUBLIC_PAGE_CACHE_SECONDS`` = 0 turns it off.

One render per page at a time: while one request renders an expired page,
the others are served the copy it replaces (a render of the leaderboard of a
202-event night takes a second of CPU; without this, every visitor arriving
in that second rendered it too, and the renders queued behind each other).
Only when there is no copy at all do they wait for the render under way.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from functools import wraps

from flask import current_app, make_response, request, session

MAX_ENTRIES = 512
WAIT_SECONDS = 30  # for a render under way, when there is no copy to serve meanwhile
_entries: OrderedDict[tuple[str, str], tuple[float, bytes, int, list]] = OrderedDict()
_rendering: dict[tuple[str, str], threading.Event] = {}
_lock = threading.Lock()


def clear() -> None:
    with _lock:
        _entries.clear()


def _served(entry: tuple, label: str):
    _expires, body, status, headers = entry
    response = current_app.response_class(body, status=status, headers=headers)
    response.headers["X-Relais-Cache"] = label
    return response


def _cacheable_request() -> bool:
    return (
        request.method == "GET"
        and not request.cookies
        and "Authorization" not in request.headers
        and current_app.config.get("PUBLIC_PAGE_CACHE_SECONDS", 0) > 0
    )


def cached_for_anonymous(view):
    """Serve ``view``'s page from the cache when the request is anonymous."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _cacheable_request():
            return view(*args, **kwargs)
        # Not get_locale(): it would be fixed for the whole request before the
        # view tells Babel the organisation's language. Without a cookie the
        # language is the browser's choice, else the organisation's ("-").
        languages = current_app.config.get("LANGUAGES", ("fr", "en"))
        key = (
            request.host + request.script_root + request.full_path,  # absolute links differ
            request.accept_languages.best_match(languages) or "-",
        )
        now = time.monotonic()
        with _lock:
            hit = _entries.get(key)
            if hit is not None and hit[0] > now:
                _entries.move_to_end(key)
                return _served(hit, "hit")
            under_way = _rendering.get(key)
            if under_way is None:
                _rendering[key] = threading.Event()
            elif hit is not None:
                return _served(hit, "stale")  # its new copy is being rendered
        if under_way is not None:
            under_way.wait(WAIT_SECONDS)
            with _lock:
                hit = _entries.get(key)
            return _served(hit, "hit") if hit is not None else view(*args, **kwargs)
        try:
            return _render(view, key, now, *args, **kwargs)
        finally:
            with _lock:
                _rendering.pop(key).set()

    return wrapper


def _render(view, key: tuple[str, str], now: float, *args, **kwargs):
    """The view's response, kept when it is a 200 that nothing personal went into."""
    response = make_response(view(*args, **kwargs))
    if (
        response.status_code == 200
        and not response.direct_passthrough
        and not session.modified
        and "Set-Cookie" not in response.headers
    ):
        seconds = current_app.config["PUBLIC_PAGE_CACHE_SECONDS"]
        entry = (now + seconds, response.get_data(), 200, list(response.headers.items()))
        with _lock:
            _entries[key] = entry
            _entries.move_to_end(key)
            while len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
    return response
