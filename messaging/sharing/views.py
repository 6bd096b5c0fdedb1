"""Share links (``/s/<code>``) and an agent's share kit (``/p/<slug>/share``)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from markupsafe import Markup

from campaigns import unit_of_work
from campaigns.errors import NotFound
from campaigns.pages import services
from messaging.sharing import services as sharing
from messaging.sharing import share_kit

bp = Blueprint("sharing", __name__)


def _page_for_agent(slug: str):
    """The page, for its owner and co-hosts only (403 for anyone else)."""
    page = services.get_page(slug)
    g.organisation_locale = page.cause.organisation.locale
    if not services.can_edit(current_user, page):
        abort(403)
    return page


@bp.get("/s/<code>")
@unit_of_work.writes  # a counter update: take SQLite's write lock up front
def follow(code: str):
    """Count the click, then send the visitor to the page with the code kept
    in ``?s=`` so the give form carries it to the payment."""
    if len(code) > 20:
        raise NotFound(_("This share link does not exist. Check the address."))
    found = sharing.record_click(code)
    if found is None:
        raise NotFound(_("This share link does not exist. Check the address."))
    link, page = found
    return redirect(url_for("campaigns.page_detail", slug=page.slug, s=link.code), code=302)


@bp.get("/p/<slug>/share")
@auth_required()
def kit(slug: str):
    """Ready-to-share posts for the agent's own page, per channel."""
    page = _page_for_agent(slug)
    # The agent's share links are made on the first visit only: a reading unit
    # that meets SQLite's lock then is run again as a writer.
    kit = share_kit.build_kit(current_user, page)
    qr = Markup(  # noqa: S704 - SVG made by segno from our own URL, title escaped by segno
        share_kit.qr_svg_inline(kit.share_urls["qr"], _("QR code for %(title)s", title=page.title))
    )
    return render_template(
        "messaging/share_kit.html",
        page=page,
        cause=page.cause,
        kit=kit,
        qr=qr,
        channels=share_kit.KIT_CHANNELS,
    )


@bp.get("/p/<slug>/share/qr.<kind>")
@auth_required()
def qr_download(slug: str, kind: str):
    """The page's QR code as a file to print (PNG) or to scale (SVG)."""
    if kind not in ("png", "svg"):
        abort(404)
    page = _page_for_agent(slug)
    link = sharing.link_for(current_user, page, "qr")
    data = share_kit.qr_file(sharing.share_url(link), kind)
    mimetype = "image/png" if kind == "png" else "image/svg+xml"
    return Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="qr-{page.slug}.{kind}"'},
    )
