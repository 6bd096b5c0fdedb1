"""A printable A4 poster of a page or an event: title, date, venue, goal and
the QR code of the agent's own "qr" share link, so a scan is counted."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from markupsafe import Markup

from campaigns.totals.services import page_figures
from messaging.sharing import services as sharing
from messaging.sharing import share_kit
from messaging.sharing.views import _page_for_agent, bp


@bp.get("/p/<slug>/share/poster")
@auth_required()
def poster(slug: str):
    """One A4 page to print (the browser's print or "save as PDF")."""
    page = _page_for_agent(slug)
    # The agent's qr share link, made on the first visit (as the share kit's).
    link = sharing.link_for(current_user, page, "qr")
    url = sharing.share_url(link)
    qr = Markup(  # noqa: S704 - SVG made by segno from our own URL, title escaped by segno
        share_kit.qr_svg_inline(url, _("QR code for %(title)s", title=page.title))
    )
    return render_template(
        "messaging/poster.html",
        page=page,
        cause=page.cause,
        figures=page_figures([page])[page.id],
        qr=qr,
        url=url,
    )
