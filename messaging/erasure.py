"""What messaging erases when an account is deleted (``agents.signals.account_deleted``)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import and_, delete, func, or_, select, update

from agents.signals import Erasure, account_deleted
from campaigns.signals import donor_erased
from extensions import db
from messaging.outbox.models import OutboxMessage, OutboxStatus
from messaging.preferences.models import MessagingPreference
from messaging.sharing.models import ShareLink
from messaging.social.models import SocialAccount

NOT_YET_SENT = (OutboxStatus.QUEUED, OutboxStatus.FAILED, OutboxStatus.REVIEW)
MESSAGE_TEXT = ("subject", "body_text", "body_html", "last_error")


def erase_messaging(erasure: Erasure) -> None:
    """Credentials, preferences and messages to them go; links stay for attribution."""
    agent_id = erasure.agent_id
    db.session.execute(delete(SocialAccount).where(SocialAccount.agent_id == agent_id))
    db.session.execute(delete(MessagingPreference).where(MessagingPreference.agent_id == agent_id))
    # Clicks and gifts stay counted for the page; the link no longer names anyone.
    db.session.execute(
        update(ShareLink).where(ShareLink.agent_id == agent_id).values(agent_id=None)
    )

    to_them = OutboxMessage.agent_id == agent_id
    if erasure.email:
        to_them = or_(to_them, func.lower(OutboxMessage.recipient) == erasure.email)
    _erase_mail(to_them)
    if erasure.forget:
        # Messages to other people that name them (an invitation, "X passed you").
        rows = db.session.scalars(
            select(OutboxMessage).where(
                erasure.mentions(*(getattr(OutboxMessage, f) for f in MESSAGE_TEXT))
            )
        )
        for row in rows:
            for field in MESSAGE_TEXT:
                setattr(row, field, erasure.text(getattr(row, field)))


def _erase_mail(to_them) -> None:
    """Mail not sent yet is cancelled; every row stays as a count, its text goes."""
    db.session.execute(
        update(OutboxMessage)
        .where(to_them, OutboxMessage.status.in_(NOT_YET_SENT))
        .values(status=OutboxStatus.CANCELLED)
    )
    db.session.execute(
        update(OutboxMessage)
        .where(to_them)
        .values(recipient="", subject="", body_text="", body_html="", link="", last_error="")
    )


def erase_donor_mail(email: str, *, organisation_id: int | None = None, **_kwargs) -> None:
    """A donor erased on request: the mail sent to their address (receipts, their
    links) keeps no text, within one organisation when one is named."""
    to_them = func.lower(OutboxMessage.recipient) == email
    if organisation_id is not None:
        to_them = and_(to_them, OutboxMessage.organisation_id == organisation_id)
    _erase_mail(to_them)


def init_app(app: Flask) -> None:
    account_deleted.connect(erase_messaging)
    donor_erased.connect(erase_donor_mail)
