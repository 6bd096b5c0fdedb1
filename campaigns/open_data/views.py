"""``/open/``: the open datasets, JSON and CSV, cacheable and rate-limited.

Every data response carries an ETag (a hash of the body) and a Last-Modified
date, and answers 304 to If-None-Match and to If-Modified-Since. Too many
requests get 429 with Retry-After and a body in the format asked for.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
)
from flask_babel import gettext as _

from campaigns.open_data import datasets
from campaigns.open_data import services as open_data
from campaigns.urls import absolute_url
from extensions import limiter

bp = Blueprint("open_data", __name__, url_prefix="/open")
# Configurable so a test (or a busy deployment) can choose its own figure.
limiter.limit(lambda: current_app.config.get("OPEN_DATA_RATE_LIMIT", "120 per minute"))(bp)


@dataclass(frozen=True)
class _Version:
    etag: str
    stamp: str
    since: datetime


_versions_lock = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC)


def _last_modified(etag: str, stamp: str) -> datetime | None:
    """When this process first served the current content of this URL.

    Not simply the newest timestamp in the database: a cause or project edit
    leaves none, and a gift's timestamp is taken before its commit, so a poller
    could be told "not modified" about data that did change. A new version
    (new body, or a newer database stamp) is dated strictly after the previous
    one, to the second HTTP dates have; while that date is still in the future
    (two changes within one second) no Last-Modified is sent and the ETag
    alone answers. Kept per process: with several workers a revert to an older
    body through untimestamped edits may be missed by If-Modified-Since alone,
    never by If-None-Match.
    """
    now = _now().replace(microsecond=0)
    versions = current_app.extensions.setdefault("open_data_versions", {})
    with _versions_lock:
        seen = versions.get(request.path)
        if seen is None or (seen.etag, seen.stamp) != (etag, stamp):
            since = now if seen is None else max(now, seen.since + timedelta(seconds=1))
            seen = versions[request.path] = _Version(etag, stamp, since)
    return seen.since if seen.since <= now else None


def _cacheable(body: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    response.set_etag(etag)
    since = _last_modified(etag, open_data.newest_change())
    if since is not None:  # (assigning None would send the current time instead)
        response.last_modified = since
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    # Pollers in browsers read the validators to send them back.
    response.headers["Access-Control-Expose-Headers"] = "ETag, Last-Modified"
    return response.make_conditional(request)


@bp.errorhandler(429)
def too_many_requests(exc):
    """429 in the format the client asked for, with Retry-After in seconds."""
    limit = limiter.current_limit
    retry_after = max(1, math.ceil(limit.reset_at - time.time())) if limit else 60
    message = _(
        "Too many requests. Wait %(seconds)s seconds, then try again; "
        "use If-None-Match or If-Modified-Since to poll cheaply.",
        seconds=retry_after,
    )
    if request.path.endswith(".csv"):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["error", "status", "retry_after"])
        writer.writerow([message, 429, retry_after])
        response = Response(out.getvalue(), status=429, mimetype="text/csv")
    elif request.path.endswith(".json"):
        body = {"error": message, "status": 429, "retry_after": retry_after}
        response = Response(json.dumps(body, ensure_ascii=False), 429, mimetype="application/json")
    else:
        response = Response(
            render_template("error.html", code=429, message=message), 429, mimetype="text/html"
        )
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


@bp.get("/")
def index():
    return render_template("campaigns/open_data.html", datasets=datasets.DATASETS.values())


@bp.get("/datapackage.json")
def datapackage():
    base = absolute_url("open_data.index")
    body = json.dumps(datasets.datapackage(base), ensure_ascii=False, indent=2)
    return _cacheable(body, "application/json")


@bp.get("/<name>.<fmt>")
def dataset(name: str, fmt: str):
    found = datasets.DATASETS.get(name)
    if found is None or fmt not in ("json", "csv"):
        abort(404)
    rows = found.rows()
    if fmt == "csv":
        return _cacheable(datasets.to_csv(found, rows), "text/csv")
    return _cacheable(json.dumps({name: rows}, ensure_ascii=False), "application/json")
