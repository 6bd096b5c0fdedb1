"""JSON API: a cause's leaderboard (a route of the ``api`` blueprint)."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _

from campaigns import api_schemas as schemas
from campaigns.api_docs import describe, event_stream_content, operation
from campaigns.json_api import (
    BadRequest,
    bearer_agent,
    bp,
    int_arg,
    money,
    site_url,
    unit_of_work,
)
from campaigns.organisations.api import public_cause
from campaigns.standings import boards as standings_boards
from campaigns.standings import leaderboards as standings_leaderboards
from campaigns.standings import views as standings_views


@bp.get("/causes/<slug>/leaderboard")
@operation(
    tags=("leaderboards",),
    answer=schemas.Leaderboard,
    query=schemas.LeaderboardQuery,
    slug="the cause",
)
@unit_of_work
def cause_leaderboard(slug: str):
    """A cause's leaderboard of pages or of events.

    Ranked by amount raised, donor count breaking ties; limit goes up to 100."""
    bearer_agent()  # a bad token is refused even where none is needed
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


# The stream is a route of the standings blueprint (it streams, with its own
# limit); its place in the API's document is here, with the area's other call.
describe(
    standings_views.stream,
    """Follow a cause's totals and leaderboards live (Server-Sent Events).

    First a retry: line, then the current state as a totals event (unless
    Last-Event-ID names it already), then one totals event per change and a
    comment when nothing happened for a while. The stream ends after a few
    minutes; EventSource reconnects and resumes with Last-Event-ID.""",
    tags=("leaderboards",),
    answer=schemas.LiveTotals,
    query=schemas.StreamQuery,
    headers=schemas.StreamHeaders,
    errors=(400, 404, 429, 500, 503),
    security=[],
    content=event_stream_content(schemas.LiveTotals, "totals"),
    slug="the cause",
)
