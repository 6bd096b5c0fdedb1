"""The "sent mail" page: in the demo, where no mail leaves the server, people
read their confirmation and invitation links here."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, render_template
from markupsafe import Markup, escape
from sqlalchemy import select

from extensions import db
from messaging.mail.models import SentMail

bp = Blueprint("messaging", __name__)

SENT_MAIL_PAGE_SIZE = 200
_URL = re.compile(r"https?://[^\s<>\"']+")


@bp.before_request
def only_when_enabled():
    # Anyone could read anyone's links here: never on unless configured (demo, dev).
    if not current_app.config.get("SHOW_SENT_MAIL"):
        abort(404)


def linkify(text: str) -> Markup:
    """Escape a plain-text body and make its http(s) links clickable."""
    out, last = [], 0
    for match in _URL.finditer(text or ""):
        url = match.group(0).rstrip(".,;:)")
        out.append(escape(text[last : match.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = match.start() + len(url)
    out.append(escape((text or "")[last:]))
    return Markup("").join(out)


@bp.get("/mail")
def sent_mail():
    mails = db.session.scalars(
        select(SentMail)
        .order_by(SentMail.created_at.desc(), SentMail.id.desc())
        .limit(SENT_MAIL_PAGE_SIZE)
    )
    return render_template("messaging/sent_mail.html", mails=list(mails))


@bp.get("/mail/<int:mail_id>")
def sent_mail_detail(mail_id: int):
    mail = db.session.get(SentMail, mail_id)
    if mail is None:
        abort(404)
    return render_template(
        "messaging/sent_mail_detail.html", mail=mail, body=linkify(mail.body_text)
    )
