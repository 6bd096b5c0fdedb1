"""Share images and the share-card tags every public page puts in its head."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, request

from campaigns.cards import images, services
from campaigns.giving.discretion import public_page_figures
from campaigns.web import visible_cause, visible_page

bp = Blueprint("cards", __name__)

# A versioned URL never changes what it shows; an unversioned or stale one is
# answered with today's image, kept briefly.
LONG = 60 * 60 * 24 * 30
SHORT = 300


@bp.get("/cards/<any(p, c):kind>/<slug>.png")
def image(kind: str, slug: str):
    lang = request.args.get("lang", "")
    if lang not in current_app.config["LANGUAGES"]:
        lang = current_app.config["LANGUAGES"][0]
    if kind == "p":
        page = visible_page(slug)
        shown = public_page_figures([page])[page.id]
        drawing = services.page_drawing(page, shown.raised_minor, shown.donor_count, lang)
    else:
        drawing = services.cause_drawing(visible_cause(slug), lang)
    if not drawing.slug:
        abort(404)
    response = Response(images.cached_png(drawing), mimetype="image/png")
    age = LONG if request.args.get("v") == drawing.version else SHORT
    response.headers["Cache-Control"] = f"public, max-age={age}"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        page_card=services.page_card,
        cause_card=services.cause_card,
        project_card=services.project_card,
        home_card=services.home_card,
        profile_card=services.profile_card,
    )
