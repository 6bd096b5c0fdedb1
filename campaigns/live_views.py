"""Server-Sent Events: live totals and ranks of a cause."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("live", __name__)
