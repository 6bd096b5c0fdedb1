"""Staff views of one donation: its ledger rows, audit trail and a refund request."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff_donations", __name__)
