"""Sending email. Every mail is kept in ``sent_mail``; SMTP delivers it when set."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from flask import current_app

from campaigns.runtime.settings import SMTP_SCHEMES
from extensions import db
from messaging.mail.models import SentMail


def smtp_settings(url: str) -> dict:
    """Parse ``smtp://user:pw@host:port``, ``smtps://…`` (SSL) or ``smtp+starttls://…``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SMTP_SCHEMES:
        raise ValueError(
            f"SMTP_URL must start with smtp://, smtps:// or smtp+starttls://, not {scheme}://"
        )
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or (465 if scheme == "smtps" else 25),
        "ssl": scheme == "smtps",
        "starttls": scheme == "smtp+starttls",
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


def build_message(to: str, subject: str, text: str, html: str, message_id: str) -> EmailMessage:
    sender = current_app.config["MAIL_FROM"]
    msg = EmailMessage()
    msg["From"] = formataddr(parseaddr(sender))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(text or "")
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


def deliver(msg: EmailMessage, smtp_url: str) -> None:
    settings = smtp_settings(smtp_url)
    context = ssl.create_default_context()
    cls = smtplib.SMTP_SSL if settings["ssl"] else smtplib.SMTP
    kwargs = {"context": context} if settings["ssl"] else {}
    with cls(settings["host"], settings["port"], timeout=30, **kwargs) as smtp:
        if settings["starttls"]:
            smtp.starttls(context=context)
        if settings["username"]:
            smtp.login(settings["username"], settings["password"] or "")
        smtp.send_message(msg)


def new_message_id() -> str:
    """A Message-ID chosen once, so a retried delivery is the same mail."""
    domain = (
        urlsplit(current_app.config.get("PUBLIC_URL") or "http://relais.localhost").hostname
        or "relais.localhost"
    )
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)


def send_email(*, to: str, subject: str, text: str, html: str = "", template: str = "") -> SentMail:
    """Keep a copy of the mail and deliver it over SMTP when ``SMTP_URL`` is set."""
    message_id = new_message_id()
    copy = SentMail(
        message_id=message_id,
        recipient=to,
        subject=subject,
        body_text=text,
        body_html=html,
        template=template,
    )
    db.session.add(copy)
    smtp_url = current_app.config.get("SMTP_URL")
    if smtp_url:
        deliver(build_message(to, subject, text, html, message_id), smtp_url)
        copy.is_delivered = True
    db.session.flush()
    return copy
