"""What may be sent: a claimed batch's rows checked before any call leaves.

One transaction locks the batch's rows and reads everything their checks
need (agent, preferences, organisation, the addresses' own opt-outs), decides
for each row — skipped (opted out, no address, no account), postponed (quiet
hours), dead (credentials that cannot be refreshed) or to send (its attempt
counted, its Message-ID fixed, its mail built) — and commits, before the first
call (``messaging.outbox.delivery`` sends and records).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from agents.models import Agent
from campaigns.model_types import utcnow
from campaigns.organisations.models import Organisation
from campaigns.runtime import metrics
from campaigns.unit_of_work import begin_write
from extensions import db
from messaging.outbox import channels, to_address
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus
from messaging.outbox.queue import new_message_id
from messaging.outbox.services import SOCIAL, is_postgresql
from messaging.preferences.models import MessagingPreference
from messaging.preferences.services import (
    address_hash,
    is_opted_out,
    opted_out_hashes,
    preference_for,
    preferences_for,
    quiet_until,
    unsubscribe_url,
)
from messaging.social.crypto import CredentialsError
from messaging.social.models import SocialAccount
from messaging.social.services import fresh_credentials


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # queued again with backoff
    DEAD = "dead"
    REVIEW = "review"
    SKIPPED = "skipped"
    POSTPONED = "postponed"  # quiet hours: not an attempt
    NOT_MINE = "not_mine"  # gone, or no longer claimed by this worker


@dataclass
class Send:
    """What a call needs, read in the first transaction; no ORM object crosses it."""

    id: int
    channel: str
    queued_at: object = None  # datetime: for the queued-to-sent latency
    email: object = None  # email.message.Message
    credentials: dict | None = None
    account_ref: str = ""
    text: str = ""
    link: str = ""


def start_many(ids: list[int], worker_id: str | None) -> dict[int, Send | Outcome]:
    """One round trip for the rows (locked) and everything their checks read;
    each row checked and its attempt counted; one commit."""
    begin_write()
    stmt = (
        select(OutboxMessage, Agent, MessagingPreference, Organisation)
        .outerjoin(Agent, Agent.id == OutboxMessage.agent_id)
        .outerjoin(MessagingPreference, MessagingPreference.agent_id == OutboxMessage.agent_id)
        .outerjoin(Organisation, Organisation.id == OutboxMessage.organisation_id)
        .where(OutboxMessage.id.in_(ids))
        .execution_options(populate_existing=True)
    )
    if is_postgresql():
        stmt = stmt.with_for_update(of=OutboxMessage)
    found = {found[0].id: found for found in db.session.execute(stmt)}
    # Agents' first campaign mail: their preferences (and unsubscribe salt)
    # made for the whole batch at once.
    missing = [
        agent.id
        for row, agent, pref, _ in found.values()
        if agent is not None
        and not agent.is_deleted
        and row.channel == Channel.EMAIL
        and not row.is_transactional
        and (pref is None or not pref.unsubscribe_salt)
    ]
    if missing:
        made = preferences_for(missing)
        found = {
            id_: (row, agent, made.get(agent.id, pref) if agent is not None else pref, org)
            for id_, (row, agent, pref, org) in found.items()
        }
    # The addresses' own opt-outs, for the whole batch in one query.
    opted_out = opted_out_hashes(
        [address_hash(address(row, agent)) for row, agent, _, _ in found.values()]
    )
    now = utcnow()
    prepared = {
        id_: check(*found[id_], now, opted_out, worker_id) if id_ in found else Outcome.NOT_MINE
        for id_ in ids
    }
    db.session.commit()
    return prepared


def check(row, agent, pref, org, now, opted_out: set[str], worker_id: str | None) -> Send | Outcome:
    """What to do with one locked row: a send (its attempt counted) or an
    outcome (recorded on the row); the caller commits. ``opted_out``: the
    hashes of the batch's addresses that asked for no more campaign mail."""
    if row.status != OutboxStatus.IN_FLIGHT or (worker_id and row.claimed_by != worker_id):
        return Outcome.NOT_MINE
    channel = str(row.channel)

    def skip(reason: str) -> Outcome:
        row.status, row.last_error = OutboxStatus.SKIPPED, reason
        return Outcome.SKIPPED

    if channel == Channel.COPY:
        return skip("Copy posts are shared by the agent from the share kit, not sent.")
    if channel not in SOCIAL and channel != Channel.EMAIL:
        return skip(f"Unknown channel {channel!r}.")
    send = Send(
        id=row.id, channel=channel, queued_at=row.created_at, text=row.body_text, link=row.link
    )
    if row.is_transactional and channel == Channel.EMAIL:
        # Asked for by the person (or owed to a donor): no agent account needed,
        # no marketing rule applies.
        if not row.recipient:
            return skip("No email address.")
        if not row.message_id:
            row.message_id = new_message_id()
        send.email = channels.build_message(
            row.recipient, row.subject, row.body_text, row.body_html, row.message_id
        )
        return attempt(row, send, now)
    if row.agent_id is None and channel == Channel.EMAIL and row.recipient:
        # Campaign mail to an address without an account (field news to a
        # donor who asked for it): the address's own opt-out and link, and
        # the choice of an agent who has this address.
        if to_address.is_opted_out(row.recipient):
            return skip("The address opted out of email.")
        if not row.message_id:
            row.message_id = new_message_id()
        send.email = to_address.email(row, org)
        return attempt(row, send, now)
    if agent is None or agent.is_deleted:
        return skip("No agent account to send to (none, or deleted).")
    if channel == Channel.EMAIL and (pref is None or not pref.unsubscribe_salt):
        pref = preference_for(agent.id)  # the unsubscribe link needs its salt
    if is_opted_out(pref, channel) or (
        channel == Channel.EMAIL and address_hash(address(row, agent)) in opted_out
    ):
        return skip(f"The agent opted out of {'email' if channel == 'email' else 'posts'}.")
    until = quiet_until(pref, now)
    if until is not None:
        # Not an attempt: the row waits for the end of the agent's quiet hours.
        row.status, row.next_attempt_at = OutboxStatus.QUEUED, until
        row.claimed_at, row.claimed_by = None, ""
        return Outcome.POSTPONED

    if channel == Channel.EMAIL:
        to = address(row, agent)
        if not to:
            return skip("No email address.")
        if not row.message_id:
            row.message_id = new_message_id()  # stored before the first send
        send.email = agent_email(row, to, agent, org, pref)
    else:
        account = db.session.scalars(
            select(SocialAccount).where(
                SocialAccount.agent_id == agent.id, SocialAccount.provider == channel
            )
        ).first()
        if account is None:
            return skip(f"The agent has not connected a {channel} account.")
        try:
            send.credentials = fresh_credentials(account)
        except CredentialsError as exc:
            row.status, row.last_error = OutboxStatus.DEAD, f"{exc}; reconnect the account."
            metrics.count_delivery(channel, Outcome.DEAD.value)
            return Outcome.DEAD
        send.account_ref = account.account_ref
    return attempt(row, send, now)


def attempt(row: OutboxMessage, send: Send | None, now) -> Send | None:
    # The attempt is on record (and the claim renewed) before anything leaves:
    # the caller commits before the first call.
    row.attempts += 1
    row.claimed_at = now
    return send


def address(row: OutboxMessage, agent: Agent | None) -> str:
    """Where an email row goes: its recipient, or its agent's address."""
    return row.recipient or (agent.email if agent is not None else "") or ""


def agent_email(row: OutboxMessage, to: str, agent: Agent, org, pref):
    """A message to an agent: with the organisation's unsubscribe footer."""
    locale = agent.locale or (org.locale if org else "") or "fr"
    with force_locale(locale):
        footer = _(
            "You receive this email because you fundraise with %(name)s. "
            "To stop these emails, open:",
            name=org.name if org else "Relais",
        )
    return channels.email_message(
        to=to,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        message_id=row.message_id,
        unsubscribe_url=unsubscribe_url(pref),
        footer=footer,
    )
