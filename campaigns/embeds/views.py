"""Embeds for blogs and stream overlays: a cause's goal, its leaderboard and a
page's progress, small enough for an iframe, live through the cause's stream,
framable by any site (and only these views are).

An iframe on another site gets no cookie of ours (SameSite), so the language
comes from ``?lang=`` or the reader's browser, never from a session."""

from __future__ import annotations

from flask import Blueprint, Flask, g, render_template, request, url_for
from markupsafe import escape

from campaigns.giving import discretion
from campaigns.giving.discretion import public_page_figures as page_figures
from campaigns.organisations.models import Cause, CauseStatus
from campaigns.runtime.headers import framable
from campaigns.standings import leaderboards
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures_one
from campaigns.urls import absolute_url
from campaigns.web import visible_cause, visible_page

bp = Blueprint("embeds", __name__, url_prefix="/embed")
LIVE_CAUSES = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)
BOARD_LIMIT = 10


def _pin_language() -> None:
    g.pinned_locale = request.args.get("lang")


def _stream(cause: Cause) -> str | None:
    return url_for("live.stream", slug=cause.slug) if cause.status in LIVE_CAUSES else None


@bp.get("/c/<slug>/goal")
@framable
def cause_goal(slug: str):
    _pin_language()
    cause = visible_cause(slug)
    return render_template(
        "embed/goal.html",
        cause=cause,
        total=discretion.total(
            "cause", cause.id, cause.organisation, figures_one(TotalScope.CAUSE, cause.id)
        ),
        stream=_stream(cause),
    )


@bp.get("/c/<slug>/leaderboard")
@framable
def cause_leaderboard(slug: str):
    _pin_language()
    cause = visible_cause(slug)
    return render_template(
        "embed/leaderboard.html",
        cause=cause,
        entries=leaderboards.public_board(cause.id, "pages", limit=BOARD_LIMIT),
        limit=BOARD_LIMIT,
        stream=_stream(cause),
    )


@bp.get("/p/<slug>")
@framable
def page_progress(slug: str):
    _pin_language()
    page = visible_page(slug)
    return render_template(
        "embed/page.html",
        page=page,
        cause=page.cause,
        figures=page_figures([page])[page.id],
        stream=_stream(page.cause) if page.status == "published" else None,
    )


def snippets(*, cause: Cause | None = None, page=None) -> dict[str, str]:
    """Copy-paste iframe code for the embeds of a cause or a page."""

    def iframe(url: str, title: str, height: int) -> str:
        return (
            f'<iframe src="{url}" title="{title}" width="100%" height="{height}" '
            'style="border:0;max-width:480px" loading="lazy"></iframe>'
        )

    if page is not None:
        url = absolute_url("embeds.page_progress", slug=page.slug)
        return {"page": iframe(url, escape(page.title), 180)}
    goal = absolute_url("embeds.cause_goal", slug=cause.slug)
    board = absolute_url("embeds.cause_leaderboard", slug=cause.slug)
    return {
        "goal": iframe(goal, escape(cause.title), 180),
        "leaderboard": iframe(board, escape(cause.title), 420),
    }


def cors(response):
    """Public reads of the JSON API and the live stream, from any site's script.
    No cookie is ever honoured cross-site (no credentials), and writes stay
    same-origin: a browser on another site cannot change anything."""
    if request.path.startswith("/api/v1/") and request.method in ("GET", "HEAD", "OPTIONS"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Last-Event-ID"
            response.headers["Access-Control-Max-Age"] = "86400"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(cors)
    app.jinja_env.globals["embed_snippets"] = snippets
