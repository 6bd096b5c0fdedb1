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

Signed-in people get the same treatment from inside the view
(``for_signed_in``): the body of a page is kept per address, language and the
viewer's *relation* to it, which the view names — ``None`` when the page is
the same for every signed-in viewer (most viewers of most pages), the viewer's
own id when they own it, host it, are staff or have pages that could join it.
Only the personal parts are made for each request: the menu (``_you.html``,
between the ``relais:you`` marks of ``base.html``) and the CSRF token of the
viewer's session. A viewer who has just changed something (a POST) is never
shown a copy older than that change, and a flashed message is always rendered.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from functools import wraps
from typing import NamedTuple

from flask import Flask, current_app, g, make_response, render_template, request, session
from flask.globals import request_ctx
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from campaigns.runtime import logs, metrics

MAX_ENTRIES = 512


class _Kept(NamedTuple):
    """A signed-in page without its personal parts: the menu cut out between
    ``before`` and ``after``, the CSRF token replaced by ``CSRF_HOLE``."""

    expires: float
    made: float  # time.time(), compared with the viewer's last change
    before: str
    after: str
    headers: list


WAIT_SECONDS = 30  # for a render under way, when there is no copy to serve meanwhile
_entries: OrderedDict[tuple[str, str], tuple[float, bytes, int, list]] = OrderedDict()
_rendering: dict[tuple[str, str], threading.Event] = {}
_lock = threading.Lock()
SIGNED_IN_MAX_ENTRIES = 2048
_signed_in: OrderedDict[tuple, _Kept] = OrderedDict()
YOU_START, YOU_END = "<!--relais:you-->", "<!--/relais:you-->"
CSRF_HOLE = "\x00relais-csrf\x00"  # never in a rendered page: "\x00" is escaped by Jinja
WROTE = "_relais_wrote"  # in the session: when this viewer last changed something


def clear() -> None:
    with _lock:
        _entries.clear()
        _signed_in.clear()
        _wire.clear()
        _menus.clear()


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


def _anonymous_key() -> tuple[str, str]:
    # Not get_locale(): it would be fixed for the whole request before the
    # view tells Babel the organisation's language. Without a cookie the
    # language is the browser's choice, else the organisation's ("-").
    languages = current_app.config.get("LANGUAGES", ("fr", "en"))
    return (
        request.host + request.script_root + request.full_path,  # absolute links differ
        request.accept_languages.best_match(languages) or "-",
    )


def _fresh_hit():
    """A fresh copy, served before the other ``before_request`` hooks: the rate
    limit, the login and identity, the unit of work, made for one visitor,
    have nothing to do with a page rendered for everyone. The request id and
    the metrics' timer are taken as for any request. A stale or missing copy
    goes on to the view, which renders it (once)."""
    if not _cacheable_request() or request.endpoint is None:
        return None
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "relais_anonymous_cache", False):
        return None
    if getattr(view, "relais_framable", False):
        return None
    key, now = _anonymous_key(), time.monotonic()
    with _lock:
        hit = _entries.get(key)
        if hit is None or hit[0] <= now:
            return None
        _entries.move_to_end(key)
    logs.take_request_id()
    metrics.start_timer()
    # For the WSGI layer: the headers this hit leaves with are those of the next ones.
    request.environ[_HIT] = (key, hit, request.endpoint)
    return _served(hit, "hit")


def cached_for_anonymous(view):
    """Serve ``view``'s page from the cache when the request is anonymous."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not _cacheable_request():
            return view(*args, **kwargs)
        key = _anonymous_key()
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

    wrapper.relais_anonymous_cache = True  # kept by the decorators above it (functools.wraps)
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


# --- hits before Flask ---------------------------------------------------------

_HIT = "relais.page_cache.hit"  # in the WSGI environ: (key, entry, endpoint) of a hit


class _Wire(NamedTuple):
    """A hit as it left the app (every ``after_request`` hook applied), less its
    request id: the next requests for the same copy get these bytes as they are."""

    key: tuple[str, str]  # the copy's key in ``_entries``
    entry: tuple  # the copy itself: a new render makes a new one
    status: str
    headers: list
    endpoint: str


WIRE_MAX_ENTRIES = 4096
_wire: OrderedDict[tuple, _Wire] = OrderedDict()


def _raw_key(environ: dict) -> tuple:
    """What a request's copy depends on, as the WSGI server gives it. Two
    spellings of one address or language are two keys for one copy, which is
    checked to be the current one before it is served."""
    return (
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST") or environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        environ.get("HTTP_ACCEPT_LANGUAGE", ""),
        environ.get("HTTP_ORIGIN", ""),
    )


class FastHits:
    """The app's WSGI entry: a fresh anonymous copy that Flask has already
    served once is answered here, without a request context, the session, the
    URL map or any hook: the same body and headers (security policy included)
    with the request's own id, counted in the metrics under its view. Anything
    else, and the first hit of each copy, goes on to Flask."""

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or "HTTP_COOKIE" in environ
            or "HTTP_AUTHORIZATION" in environ
            or self.app.config.get("PUBLIC_PAGE_CACHE_SECONDS", 0) <= 0
        ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        raw = _raw_key(environ)
        with _lock:
            wire = _wire.get(raw)
            if (
                wire is not None
                and wire.entry[0] > time.monotonic()
                and _entries.get(wire.key) is wire.entry
            ):
                _wire.move_to_end(raw)
                _entries.move_to_end(wire.key)
            else:
                wire = None
        if wire is None:
            return self.wsgi_app(environ, self._keeping(raw, environ, start_response))
        request_id = logs.request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(wire.status, [*wire.headers, (logs.REQUEST_ID_HEADER, request_id)])
        metrics.count_request("GET", wire.endpoint, 200, started)
        return [wire.entry[1]]

    @staticmethod
    def _keeping(raw: tuple, environ: dict, start_response):
        """``start_response``, keeping the headers of a hit that Flask served."""

        def keeping(status, headers, exc_info=None):
            hit = environ.get(_HIT)
            if hit is not None and exc_info is None and status.startswith("200"):
                key, entry, endpoint = hit
                sent = [(n, v) for n, v in headers if n.lower() != "x-request-id"]
                with _lock:
                    _wire[raw] = _Wire(key, entry, status, sent, endpoint)
                    _wire.move_to_end(raw)
                    while len(_wire) > WIRE_MAX_ENTRIES:
                        _wire.popitem(last=False)
            return start_response(status, headers, exc_info)

        return keeping


# --- signed-in viewers ------------------------------------------------------

_menus: dict[tuple, str] = {}


def _menu() -> str:
    """The signed-in part of the menu (``_you.html``), with ``CSRF_HOLE`` for the
    token: it names no one, so it is the same for every viewer of the same
    language and staff standing, and made once per process for each."""
    key = (request.host + request.script_root, str(get_locale()), current_user.has_memberships)
    menu = _menus.get(key)
    if menu is None:
        menu = render_template("_you.html").replace(generate_csrf(), CSRF_HOLE)
        with _lock:
            if len(_menus) > MAX_ENTRIES:
                _menus.clear()
            _menus[key] = menu
    return menu


def for_signed_in(relation, render):
    """``render()``'s page for a signed-in viewer, from the copy kept for the
    viewer's ``relation`` to the page when there is one (see the module's
    docstring). Call it from the view, once the page is found: the language is
    known then. Anything else (anonymous, not a GET, a flashed message, the
    cache off) is simply rendered."""
    seconds = current_app.config.get("PUBLIC_PAGE_CACHE_SECONDS", 0)
    if (
        seconds <= 0
        or request.method != "GET"
        or "Authorization" in request.headers
        or not current_user.is_authenticated
        or session.get("_flashes")
        or request_ctx.flashes
    ):
        return render()
    key = (request.host + request.script_root + request.full_path, str(get_locale()), relation)
    wrote = session.get(WROTE, 0)
    now = time.monotonic()
    with _lock:
        hit = _signed_in.get(key)
        if hit is not None and hit.expires > now and hit.made > wrote:
            _signed_in.move_to_end(key)
        else:
            hit = None
    if hit is not None:
        return _personalised(hit)
    response = make_response(render())
    kept = _kept(response, now + seconds)
    if kept is not None:
        with _lock:
            _signed_in[key] = kept
            _signed_in.move_to_end(key)
            while len(_signed_in) > SIGNED_IN_MAX_ENTRIES:
                _signed_in.popitem(last=False)
    return response


def _kept(response, expires: float) -> _Kept | None:
    if response.status_code != 200 or response.direct_passthrough:
        return None
    if response.mimetype != "text/html":
        return None
    body = response.get_data(as_text=True)
    start, end = body.find(YOU_START), body.find(YOU_END)
    if start < 0 or end < start or CSRF_HOLE in body:
        return None
    token = g.get("csrf_token")  # Flask-WTF's signed token of this viewer's session
    before, after = body[: start + len(YOU_START)], body[end:]
    if token:
        before, after = before.replace(token, CSRF_HOLE), after.replace(token, CSRF_HOLE)
    headers = [
        (name, value)
        for name, value in response.headers.items()
        if name.lower() not in ("set-cookie", "content-length", "vary")
    ]
    return _Kept(expires, time.time(), before, after, headers)


def _personalised(kept: _Kept):
    body = kept.before + _menu() + kept.after
    if CSRF_HOLE in body:
        body = body.replace(CSRF_HOLE, generate_csrf())
    response = current_app.response_class(body, status=200, headers=kept.headers)
    response.headers["X-Relais-Cache"] = "hit-signed-in"
    response.vary.add("Cookie")
    return response


def _note_change(response):
    """A signed-in POST that went through: copies made before it are not shown to
    this viewer again, so they see what they just did."""
    if (
        request.method == "POST"
        and response.status_code < 400
        and "Authorization" not in request.headers
        and current_user.is_authenticated
    ):
        session[WROTE] = time.time()
    return response


def init_app(app: Flask) -> None:
    app.after_request(_note_change)
    # Before every other hook (the unit of work later puts its own, a no-op
    # for a GET, in front of it).
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_hit)
    app.wsgi_app = FastHits(app, app.wsgi_app)
