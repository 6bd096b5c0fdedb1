"""Fund use: staff record expenses per project; donors see raised vs spent."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("expenses", __name__)
