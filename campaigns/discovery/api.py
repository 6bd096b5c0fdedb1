"""``GET /api/v1/pages?q=&cause=&city=``: the search, in the same page shape
and paging as a cause's page list (``api`` blueprint)."""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _

from campaigns import api_schemas as schemas
from campaigns.api_docs import operation
from campaigns.badges import services as badges
from campaigns.discovery import search
from campaigns.json_api import (
    BadRequest,
    bearer_agent,
    bp,
    page_figures,
    page_json,
    parent_slugs,
    screen,
    unit_of_work,
)
from campaigns.urls import absolute_url


@bp.get("/pages")
@operation(
    tags=("pages",), answer=schemas.PageSearch, query=schemas.SearchQuery, errors=(400, 401, 500)
)
@unit_of_work
def find_pages():
    """Search the public pages, in the same shape and paging as a cause's pages.

    A page matches when its title, city, venue or owner's name holds every word
    of q (accents and case ignored), in the cause and the city given. At least
    one of q, cause and city is needed: without any, a 400."""
    agent = bearer_agent()
    query = search.Query(
        words=request.args.get("q", ""),
        cause=request.args.get("cause", ""),
        city=request.args.get("city", ""),
    )
    if query.is_empty:
        raise BadRequest({"q": _("Give q, cause or city to search for pages.")})
    shown = screen(search.count(query))
    pages = []
    if shown.has_rows:
        pages = search.search(query, offset=shown.offset, limit=shown.per_page)
    numbers = page_figures(pages)
    parents = parent_slugs(pages, agent)
    earned = badges.shown(pages, numbers)

    def link(n: int) -> str:
        arguments = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
        return absolute_url("api.find_pages", **arguments, page=n, per_page=shown.per_page)

    return jsonify(
        {
            "q": query.words,
            "cause": query.cause or None,
            "city": query.city or None,
            "pages": [
                page_json(
                    p,
                    numbers[p.id],
                    p.cause.organisation.currency,
                    parents.get(p.parent_id),
                    earned[p.id],
                )
                for p in pages
            ],
            **shown.fields(link),
        }
    )
