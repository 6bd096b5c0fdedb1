"""JSON API: a cause's leaderboard (a route of the ``api`` blueprint)."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _

from campaigns.json_api import BadRequest, bp, int_arg, money, site_url, unit_of_work
from campaigns.organisations.api import public_cause
from campaigns.standings import boards as standings_boards
from campaigns.standings import leaderboards as standings_leaderboards


@bp.get("/causes/<slug>/leaderboard")
@unit_of_work
def cause_leaderboard(slug: str):
    """``?board=pages|events`` (default pages), ``?limit=`` up to 100 (default 10):
    ranked by amount raised, donor count breaking ties."""
    cause = public_cause(slug)
    board = request.args.get("board", "pages")
    if board not in standings_boards.BOARDS:
        raise BadRequest({"board": _("board must be pages or events.")})
    limit = int_arg("limit", 10, maximum=100)
    currency = cause.organisation.currency
    entries = standings_leaderboards.public_board(cause.id, board, limit=limit)
    return jsonify(
        {
            "cause": cause.slug,
            "board": board,
            "entries": [
                {
                    "rank": e.rank,
                    "slug": e.slug,
                    "title": e.title,
                    "kind": e.kind,
                    "city": e.city,
                    "raised": money(e.raised_minor, currency),
                    "donor_count": e.donor_count,
                    "url": site_url("campaigns.page_detail", slug=e.slug),
                }
                for e in entries
            ],
        }
    )
