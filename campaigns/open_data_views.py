"""``/open/``: the open datasets, JSON and CSV, cacheable and rate-limited."""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, abort, render_template, request, url_for

from campaigns import open_data
from extensions import limiter

bp = Blueprint("open_data", __name__, url_prefix="/open")
limiter.limit("120 per minute")(bp)


def _cacheable(body: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


@bp.get("/")
def index():
    return render_template("campaigns/open_data.html", datasets=open_data.DATASETS.values())


@bp.get("/datapackage.json")
def datapackage():
    base = url_for("open_data.index", _external=True)
    body = json.dumps(open_data.datapackage(base), ensure_ascii=False, indent=2)
    return _cacheable(body, "application/json")


@bp.get("/<name>.<fmt>")
def dataset(name: str, fmt: str):
    found = open_data.DATASETS.get(name)
    if found is None or fmt not in ("json", "csv"):
        abort(404)
    rows = found.rows()
    if fmt == "csv":
        return _cacheable(open_data.to_csv(found, rows), "text/csv")
    return _cacheable(json.dumps({name: rows}, ensure_ascii=False), "application/json")
