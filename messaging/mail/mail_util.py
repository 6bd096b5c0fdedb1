"""Flask-Security's mail hooks: its mail goes through the outbox like every other."""

from __future__ import annotations

import email_validator
from flask import current_app
from flask_security import MailUtil
from flask_security.mail_util import EmailValidateException
from flask_security.utils import get_message

from extensions import db
from messaging.outbox.queue import queue_email


class RelaisMailUtil(MailUtil):
    """Sign-up confirmation, password reset and notices become outbox rows in
    the request's unit of work: nothing leaves before it commits, an SMTP
    server that is down delays the mail (the worker retries) instead of
    failing the request."""

    def send_mail(self, template, subject, recipient, sender, body, html, **kwargs):
        user = kwargs.get("user")
        if user is not None and getattr(user, "id", None) is None:
            db.session.flush()  # a new account: its id names the mail's agent
        queue_email(
            to=recipient if isinstance(recipient, str) else recipient[1],
            subject=str(subject),
            text=body or "",
            html=html or "",
            trigger="account",
            agent_id=getattr(user, "id", None),
        )
        # No commit here: every view, Flask-Security's too, is a unit of work
        # (campaigns/unit_of_work.py) that commits the queued row with the rest.

    def validate(self, email: str) -> str:
        # Flask-Security asks DNS whether the domain takes mail by default: offline
        # (the demo) every address fails, and the confirmation link proves the
        # address anyway. SECURITY_EMAIL_VALIDATOR_ARGS can turn the check back on.
        args = {
            "check_deliverability": False,
            **(current_app.config.get("SECURITY_EMAIL_VALIDATOR_ARGS") or {}),
        }
        try:
            return email_validator.validate_email(email, **args).normalized
        except ValueError as exc:
            raise EmailValidateException(get_message("INVALID_EMAIL_ADDRESS")[0]) from exc
