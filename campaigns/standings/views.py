"""Server-Sent Events: live totals and ranks of a cause; its public leaderboard page.

``GET /api/v1/causes/<slug>/stream`` sends ``retry:``, then the current
snapshot (unless the client's ``Last-Event-ID`` is already the current
version), then one ``totals`` message per change and a ``: ping`` comment when
nothing happened for ``LIVE_HEARTBEAT_SECONDS`` (default 15). It ends after
``LIVE_STREAM_SECONDS`` (default 300) so that the thread is freed;
EventSource reconnects and resumes. See ``campaigns.standings.live`` for gunicorn.
"""

from __future__ import annotations

import json
import re
import time

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import get_translations
from flask_babel import gettext as _

from campaigns import page_cache
from campaigns.errors import NotFound
from campaigns.giving import discretion
from campaigns.organisations import services
from campaigns.organisations.models import CauseStatus
from campaigns.page_cache import cached_for_anonymous
from campaigns.runtime import last_good
from campaigns.standings import leaderboards, live, snapshots
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures_one
from campaigns.web import visible_cause
from extensions import limiter

bp = Blueprint("live", __name__)

PUBLIC_CAUSE = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)
RETRY_MS = 3000
MEMBER_LIMIT = 50


def sse(version: int, data: dict) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {version}\nevent: totals\ndata: {body}\n\n"


def last_event_id() -> int | None:
    """The version the client saw last (header, or ``?last_event_id=`` for
    clients that cannot set headers); anything else counts as none."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or ""
    raw = raw.strip()
    return int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else None


@bp.get("/api/v1/causes/<slug>/stream")
@limiter.limit(lambda: current_app.config.get("LIVE_RATE_LIMIT", "60 per minute"))
def stream(slug: str):
    cause = services.get_cause(slug)
    if cause.status not in PUBLIC_CAUSE:
        raise NotFound(_("There is no cause at this address."))
    config = current_app.config
    seconds = float(config.get("LIVE_STREAM_SECONDS", 300))
    heartbeat = float(config.get("LIVE_HEARTBEAT_SECONDS", 15))
    seen = last_event_id()
    hub = live.hub()
    # Subscribed before the snapshot is read: a change in between is sent, not lost.
    # Each stream holds a thread: past the per-process cap, the browser is told
    # to come back later (EventSource retries) instead of starving page views.
    mailbox = hub.subscribe(cause.id, limit=int(config.get("LIVE_MAX_STREAMS", 200)))
    if mailbox is None:
        response = jsonify(
            {
                "error": _("Too many live connections right now: the page retries by itself."),
                "status": 503,
            }
        )
        response.status_code = 503
        response.headers["Retry-After"] = "30"
        return response
    try:
        current = hub.current(cause.id)
    except BaseException:
        hub.unsubscribe(mailbox)
        raise

    def events():
        yield f"retry: {RETRY_MS}\n\n"
        # Snapshots are whole states: resuming is receiving the latest one.
        if seen != current.version:
            yield sse(current.version, current.message())
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            message = mailbox.get(timeout=min(heartbeat, left))
            if message is not None:
                yield sse(*message)
            elif time.monotonic() < deadline:
                yield ": ping\n\n"

    response = Response(events(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each message on at once
    # Called when the connection ends, even if the generator never started.
    response.call_on_close(lambda: hub.unsubscribe(mailbox))
    return response


@bp.get("/c/<slug>/leaderboard")
@last_good.kept()
@cached_for_anonymous
def leaderboard(slug: str):
    """Every ranked page and the city league of events, each event's members below it."""
    cause = visible_cause(slug)
    # The same for everyone allowed to see it (visible_cause has just checked).
    return page_cache.for_signed_in(cause.status, lambda: _leaderboard_html(cause))


def _leaderboard_html(cause) -> str:
    pages = leaderboards.public_board(cause.id, "pages", limit=snapshots.BOARD_LIMIT)
    events = leaderboards.public_board(cause.id, "events", limit=snapshots.BOARD_LIMIT)
    members = {
        e.page_id: leaderboards.public_board(
            cause.id, "pages", parent_id=e.page_id, limit=MEMBER_LIMIT
        )
        for e in events
    }
    return render_template(
        "campaigns/leaderboard.html",
        cause=cause,
        total=discretion.total(
            "cause", cause.id, cause.organisation, figures_one(TotalScope.CAUSE, cause.id)
        ),
        pages=pages,
        events=events,
        members=members,
        board_limit=snapshots.BOARD_LIMIT,
        live_url=url_for("live.stream", slug=cause.slug) if cause.status in PUBLIC_CAUSE else None,
    )


@bp.app_template_global("live_plural")
def live_plural(singular: str, plural: str) -> dict[str, str]:
    """A counted phrase's forms with ``{n}`` for the number, for live.js (which
    picks one with Intl.PluralRules): {"one": …, "other": …}."""
    translations = get_translations()
    return {
        form: translations.ngettext(singular, plural, n).replace("%(num)s", "{n}")
        for form, n in (("one", 1), ("other", 2))
    }
