"""Campaign mail to an address without an account: field news to a donor who
asked for it. The same rules as mail to an agent, kept by the address: its
own opt-out (and that of an account with this address), a one-click link and
an unsubscribe footer."""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Agent
from campaigns.giving.models import PendingGift
from extensions import db
from messaging.outbox import channels
from messaging.outbox.models import OutboxMessage
from messaging.preferences.models import MessagingPreference
from messaging.preferences.services import address_unsubscribe_url, is_address_opted_out


def is_opted_out(email: str) -> bool:
    """The address asked for no more campaign email, or an account with it did."""
    if is_address_opted_out(email):
        return True
    return bool(
        db.session.scalar(
            select(MessagingPreference.is_email_opted_out)
            .join(Agent, Agent.id == MessagingPreference.agent_id)
            .where(func.lower(Agent.email) == email.strip().lower())
            .limit(1)
        )
    )


def _locale(row: OutboxMessage, org) -> str:
    """The language of the donor's latest gift to the organisation, else its own."""
    chosen = db.session.scalar(
        select(PendingGift.locale)
        .where(
            func.lower(PendingGift.donor_email) == row.recipient.strip().lower(),
            PendingGift.organisation_id == row.organisation_id,
            PendingGift.locale != "",
        )
        .order_by(PendingGift.id.desc())
        .limit(1)
    )
    return chosen or (org.locale if org else "") or "fr"


def email(row: OutboxMessage, org):
    """The mail as sent to the address: with its unsubscribe footer and headers."""
    with force_locale(_locale(row, org)):
        footer = _(
            "You receive this email because you gave to %(name)s and asked for its news. "
            "To stop these emails, open:",
            name=org.name if org else "Relais",
        )
    return channels.email_message(
        to=row.recipient,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        message_id=row.message_id,
        unsubscribe_url=address_unsubscribe_url(row.recipient),
        footer=footer,
    )
