"""JSON API: a league's board (a route of the ``api`` blueprint)."""

from __future__ import annotations

from flask import jsonify

from campaigns import api_schemas as schemas
from campaigns.api_docs import operation
from campaigns.json_api import bearer_agent, bp, iso, money, unit_of_work
from campaigns.leagues import services
from campaigns.leagues.models import Contest


def league_json(contest: Contest) -> dict:
    """A league as the API and the live board's script read it."""
    return {
        "slug": contest.slug,
        "title": contest.title,
        "rule": str(contest.rule),
        "starts_at": iso(contest.starts_at),
        "ends_at": iso(contest.ends_at),
        "standings": [
            {
                "rank": s.rank,
                "organisation": s.organisation.slug,
                "cause": s.cause.slug if s.cause else None,
                "name": s.name,
                "raised": money(s.raised_minor, contest.currency),
                "donor_count": s.donor_count,
                "gift_count": s.gift_count,
            }
            for s in services.board(contest)
        ],
    }


@bp.get("/leagues/<slug>")
@operation(tags=("leagues",), answer=schemas.League, slug="the league")
@unit_of_work
def league(slug: str):
    """A league's board: its entrants ranked by its rule, in its window.

    Only gifts made inside the window count, and refunds made inside it
    subtract; sponsors' matches do not count."""
    bearer_agent()  # a bad token is refused even where none is needed
    return jsonify(league_json(services.get_contest(slug)))
