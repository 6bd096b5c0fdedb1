"""Flask-Security's mail hooks: Relais sends its mail itself."""

from __future__ import annotations

import email_validator
from flask import current_app
from flask_security import MailUtil
from flask_security.mail_util import EmailValidateException
from flask_security.utils import get_message

from messaging.mail.services import send_email


class RelaisMailUtil(MailUtil):
    """Flask-Security's mails go through Relais' own mail service."""

    def send_mail(self, template, subject, recipient, sender, body, html, **kwargs):
        send_email(
            to=recipient if isinstance(recipient, str) else recipient[1],
            subject=str(subject),
            text=body or "",
            html=html or "",
            template=f"security/{template}",
        )

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
