"""Scheduled messaging jobs. Each runs in an app context and commits its own
work (see ``messaging.scheduling.scheduler.JOBS``)."""

from __future__ import annotations

import logging
import smtplib

from flask import current_app
from sqlalchemy import select

from extensions import db
from messaging.mail.models import SentMail
from messaging.mail.services import build_message, deliver

log = logging.getLogger(__name__)


def deliver_pending_mail(limit: int = 500) -> int:
    """Send the mail rows written but not yet delivered (receipts); returns how
    many went out.

    At least once: a row is marked delivered only after the SMTP server took
    it, one commit per mail, and a retry sends the same Message-ID so mail
    clients show a duplicate once. Without SMTP_URL (the demo) mail stays on
    the "sent mail" page.
    """
    smtp_url = current_app.config.get("SMTP_URL") or ""
    if not smtp_url:
        return 0
    sent, last_id = 0, 0
    while sent < limit:
        # One row at a time, locked (PostgreSQL) so a second worker skips it.
        mail = db.session.scalars(
            select(SentMail)
            .where(SentMail.is_delivered.is_(False), SentMail.id > last_id)
            .order_by(SentMail.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if mail is None:
            break
        last_id = mail.id
        message = build_message(
            mail.recipient, mail.subject, mail.body_text, mail.body_html, mail.message_id
        )
        try:
            deliver(message, smtp_url)
        except smtplib.SMTPRecipientsRefused:
            # This address is refused; the others may still go.
            log.warning("mail %s refused by the SMTP server", last_id)
            db.session.rollback()
            continue
        except OSError:  # smtplib's errors included: the server is down, retry next run
            db.session.rollback()
            log.warning("SMTP delivery failed; %s mail sent before it", sent, exc_info=True)
            break
        mail.is_delivered = True
        db.session.commit()
        sent += 1
    db.session.commit()
    return sent
