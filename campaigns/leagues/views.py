"""A league's public live board, ``/leagues/<slug>``: complete without
JavaScript; ``static/js/league.js`` refreshes it from the API."""

from __future__ import annotations

from flask import Blueprint, render_template

from campaigns.leagues import services
from campaigns.model_types import utcnow

bp = Blueprint("leagues", __name__, url_prefix="/leagues")


@bp.get("/<slug>")
def board(slug: str):
    contest = services.get_contest(slug)
    now = utcnow()
    return render_template(
        "campaigns/league.html",
        contest=contest,
        standings=services.board(contest),
        is_open=contest.starts_at <= now < contest.ends_at,
        is_over=contest.ends_at <= now,
    )
