"""The "sent mail" page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("messaging", __name__)
