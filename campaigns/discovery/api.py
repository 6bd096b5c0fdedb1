"""``GET /api/v1/pages?q=&cause=&city=``: the search, in the same page shape
and paging as a cause's page list (``api`` blueprint)."""

from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import gettext as _

from campaigns.discovery import search
from campaigns.json_api import (
    BadRequest,
    bearer_agent,
    bp,
    int_arg,
    page_figures,
    page_json,
    parent_slugs,
    unit_of_work,
)

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500


@bp.get("/pages")
@unit_of_work
def find_pages():
    """Public pages matching ``q`` (title, city, venue, owner's name), a ``cause``
    slug and a ``city``; at least one of them is needed."""
    agent = bearer_agent()
    query = search.Query(
        words=request.args.get("q", ""),
        cause=request.args.get("cause", ""),
        city=request.args.get("city", ""),
    )
    if query.is_empty:
        raise BadRequest({"q": _("Give q, cause or city to search for pages.")})
    number = int_arg("page", 1)
    per_page = int_arg("per_page", DEFAULT_PER_PAGE, maximum=MAX_PER_PAGE)
    total = search.count(query)
    total_pages = -(-total // per_page)
    offset = (number - 1) * per_page
    pages = search.search(query, offset=offset, limit=per_page) if offset < total else []
    numbers = page_figures(pages)
    parents = parent_slugs(pages, agent)

    def link(n: int) -> str:
        arguments = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
        return url_for(".find_pages", **arguments, page=n, per_page=per_page, _external=True)

    return jsonify(
        {
            "q": query.words,
            "cause": query.cause or None,
            "city": query.city or None,
            "pages": [
                page_json(p, numbers[p.id], p.cause.organisation.currency, parents.get(p.parent_id))
                for p in pages
            ],
            "page": number,
            "per_page": per_page,
            "total": total,
            "total_pages": total_pages,
            "next": link(number + 1) if offset + per_page < total else None,
            "previous": link(min(number - 1, max(total_pages, 1))) if number > 1 else None,
        }
    )
