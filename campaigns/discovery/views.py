"""Finding a page or an event (``/search``) and events in a calendar (.ics)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from campaigns.discovery import calendars, search
from campaigns.errors import NotFound
from campaigns.giving.discretion import public_page_figures as page_figures
from campaigns.organisations.models import CauseStatus
from campaigns.pages.models import Page, PageKind
from campaigns.urls import absolute_url
from campaigns.web import PUBLIC_STATUSES, visible_cause, visible_page
from extensions import db

bp = Blueprint("discovery", __name__)
PER_SCREEN = 20


@bp.get("/search")
def search_pages():
    query = search.Query(
        words=request.args.get("q", ""),
        cause=request.args.get("cause", ""),
        city=request.args.get("city", ""),
    )
    listing = None
    if not query.is_empty:
        listing = db.paginate(
            search.ordered(query), per_page=PER_SCREEN, max_per_page=PER_SCREEN, error_out=False
        )
    found = listing.items if listing else []
    return render_template(
        "campaigns/search.html",
        query=query,
        results=found,
        figures=page_figures(found),
        total=listing.total if listing else 0,
        listing=listing,
        # From a project's "Give" button: each page's give form takes the project.
        project=(request.args.get("project") or "")[:80] or None,
    )


def _ics(body: bytes, name: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{name}.ics"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/p/<slug>.ics")
def page_calendar(slug: str):
    page = visible_page(slug)
    if not page.is_event or page.starts_at is None:
        raise NotFound(_("This page is not an event with a date."))
    url = absolute_url("campaigns.page_detail", slug=page.slug)
    return _ics(calendars.calendar([(page, url)], page.title), page.slug)


@bp.get("/c/<slug>/events.ics")
def cause_calendar(slug: str):
    """Every upcoming event of a cause: a feed a calendar app can subscribe to."""
    cause = visible_cause(slug)
    if cause.status == CauseStatus.DRAFT:
        raise NotFound(_("There is no cause at this address."))
    events = db.session.scalars(
        select(Page)
        .where(
            Page.cause_id == cause.id,
            Page.kind == PageKind.EVENT,
            Page.status.in_(PUBLIC_STATUSES),
            Page.starts_at >= datetime.now(UTC),
        )
        .order_by(Page.starts_at, Page.id)
    ).all()
    pairs = [(e, absolute_url("campaigns.page_detail", slug=e.slug)) for e in events]
    return _ics(calendars.calendar(pairs, cause.title), f"{cause.slug}-events")


def init_app(app: Flask) -> None:
    search.init_app(app)
    app.register_blueprint(bp)
