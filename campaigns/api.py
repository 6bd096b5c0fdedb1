"""The JSON API, ``/api/v1``: public reads, token-authenticated writes."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
