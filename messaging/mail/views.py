"""The "sent mail" page: in the demo, where no mail leaves the server, people
read their confirmation and invitation links here.

It reads the outbox itself, not copies made on delivery: a mail shows as soon
as the unit of work that wrote it has committed, with or without a worker
running (``flask run`` in development has none), and the outbox stays the one
place a mail exists."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, render_template
from markupsafe import Markup, escape
from sqlalchemy import select

from extensions import db
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus

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
        select(OutboxMessage)
        .where(OutboxMessage.channel == Channel.EMAIL)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(SENT_MAIL_PAGE_SIZE)
    )
    return render_template("messaging/sent_mail.html", mails=list(mails))


@bp.get("/mail/<int:mail_id>")
def sent_mail_detail(mail_id: int):
    mail = db.session.get(OutboxMessage, mail_id)
    if mail is None or mail.channel != Channel.EMAIL:
        abort(404)
    return render_template(
        "messaging/sent_mail_detail.html",
        mail=mail,
        body=linkify(mail.body_text),
        is_delivered=mail.status == OutboxStatus.SENT and bool(current_app.config.get("SMTP_URL")),
    )
