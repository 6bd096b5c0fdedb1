"""The outbox: rows written in the producer's transaction, delivered after
commit by workers (``relais worker``, or the demo's in-process job).

A worker claims due rows in one short transaction (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, BEGIN IMMEDIATE on SQLite) and marks them in flight; then each
row goes out on its own: a first transaction checks opt-out, quiet hours and
credentials, counts the attempt and fixes the email's Message-ID, and is
committed BEFORE the SMTP or API call; a second records what happened.

Email is at least once (a retry, or a row whose worker died, is sent again
with the same Message-ID). A social post is at most once: after an ambiguous
failure, or a worker that died during the call, it goes to ``review`` and a
person decides.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from agents.models import Agent
from campaigns import audit
from campaigns.errors import Conflict, NotFound, ValidationError
from campaigns.model_types import utcnow
from campaigns.organisations.models import Organisation
from campaigns.unit_of_work import begin_write
from extensions import db, dialect_insert
from messaging.mail.models import SentMail
from messaging.mail.services import new_message_id
from messaging.outbox import channels
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus
from messaging.preferences.models import MessagingPreference
from messaging.preferences.services import (
    is_opted_out,
    preference_for,
    quiet_until,
    unsubscribe_url,
)
from messaging.social.crypto import CredentialsError, decrypt_credentials
from messaging.social.models import SocialAccount

log = logging.getLogger(__name__)

SOCIAL = (Channel.X.value, Channel.FACEBOOK.value)
DEFAULTS = {
    "OUTBOX_MAX_ATTEMPTS": 6,
    "OUTBOX_LEASE_SECONDS": 300,  # a row in flight longer than this: its worker died
    "OUTBOX_RETRY_BASE_SECONDS": 30,
    "OUTBOX_RETRY_CAP_SECONDS": 3600,
    "OUTBOX_BATCH": 50,
    # Messages per second per worker and channel (token buckets).
    "OUTBOX_RATE_LIMITS": {"email": 20.0, "x": 1.0, "facebook": 1.0},
}


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # queued again with backoff
    DEAD = "dead"
    REVIEW = "review"
    SKIPPED = "skipped"
    POSTPONED = "postponed"  # quiet hours: not an attempt
    NOT_MINE = "not_mine"  # gone, or no longer claimed by this worker


def setting(name: str):
    """An outbox setting: app config, else the environment, else the default."""
    value = current_app.config.get(name)
    if value is None and os.environ.get(name):
        raw = os.environ[name]
        if name == "OUTBOX_RATE_LIMITS":  # "email=20,x=1,facebook=1"
            value = {k.strip(): float(v) for k, v in (p.split("=") for p in raw.split(",") if p)}
        else:
            value = float(raw)
    return DEFAULTS[name] if value is None else value


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# -- producers -------------------------------------------------------------------------

_COLUMNS = {c.name for c in OutboxMessage.__table__.columns} - {"id"}
_REQUIRED = {"dedupe_key", "organisation_id", "channel"}


def _row_defaults(now: datetime) -> dict:
    return {
        "agent_id": None,
        "page_id": None,
        "broadcast_id": None,
        "template_id": None,
        "trigger": "",
        "recipient": "",
        "subject": "",
        "body_text": "",
        "body_html": "",
        "link": "",
        "message_id": "",
        "status": OutboxStatus.QUEUED.value,
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_at": None,
        "claimed_by": "",
        "last_error": "",
        "external_id": "",
        "sent_at": None,
        "created_at": now,
    }


def enqueue(rows: Iterable[dict]) -> int:
    """Add outbox rows in bulk, in the caller's transaction (no commit); a row
    whose ``dedupe_key`` exists is left alone. Returns how many were added.

    Each dict names OutboxMessage columns; ``dedupe_key``, ``organisation_id``
    and ``channel`` are required, ``next_attempt_at`` defaults to now.
    """
    now = utcnow()
    normalised = []
    for row in rows:
        unknown = set(row) - _COLUMNS
        missing = _REQUIRED - {k for k, v in row.items() if v not in (None, "")}
        if unknown or missing:
            raise ValueError(
                f"outbox row: unknown columns {sorted(unknown)}, missing {sorted(missing)}"
            )
        defaults = _row_defaults(now)
        # None for a column with a default (e.g. a deleted agent's email) means the default.
        normalised.append(
            {**defaults, **{k: v for k, v in row.items() if v is not None or defaults[k] is None}}
        )
    if not normalised:
        return 0
    return bulk_insert(OutboxMessage.__table__, normalised, conflict="dedupe_key")


def bulk_insert(table, rows: list[dict], conflict: str | None = None) -> int:
    """Insert many rows in the session's transaction, skipping conflicts;
    returns how many went in.

    On PostgreSQL the rows are COPYed into a temporary table, then one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING`` moves them: a multi-row VALUES
    of a thousand rows costs more to build and for psycopg to parse than to
    run. Elsewhere (SQLite), SQLAlchemy's executemany."""
    if not rows:
        return 0
    columns = list(rows[0])
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        stmt = dialect_insert(table).on_conflict_do_nothing(
            index_elements=[conflict] if conflict else None
        )
        result = db.session.execute(stmt.returning(table.c[columns[0]]), rows)
        return len(result.all())
    names = ", ".join(columns)  # column and table names come from the model
    scratch = f"relais_bulk_{table.name}"
    target = f" ({conflict})" if conflict else ""
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {scratch} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {names} FROM {table.name} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {scratch}")
        with cursor.copy(f"COPY {scratch} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in columns))
        cursor.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {scratch} "  # noqa: S608
            f"ON CONFLICT{target} DO NOTHING"
        )
        return max(cursor.rowcount, 0)


# -- claiming --------------------------------------------------------------------------


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:100]


def _claim(worker_id: str, limit: int) -> list[tuple[int, str]]:
    begin_write()  # SQLite: one claimer at a time
    now = utcnow()
    stmt = (
        select(OutboxMessage.id, OutboxMessage.channel)
        .where(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if _is_postgresql():
        stmt = stmt.with_for_update(skip_locked=True)
    rows = [(row.id, str(row.channel)) for row in db.session.execute(stmt)]
    if rows:
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([id_ for id_, _ in rows]),
                OutboxMessage.status == OutboxStatus.QUEUED,
            )
            .values(status=OutboxStatus.IN_FLIGHT, claimed_at=now, claimed_by=worker_id)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return rows


def claim(worker_id: str, limit: int = 50) -> list[int]:
    """Take up to ``limit`` due rows for this worker, oldest first; commits."""
    return [id_ for id_, _ in _claim(worker_id, limit)]


def release(ids: list[int], worker_id: str) -> int:
    """Give back claimed rows this worker has not started (shutting down)."""
    if not ids:
        return 0
    begin_write()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == OutboxStatus.IN_FLIGHT,
            OutboxMessage.claimed_by == worker_id,
        )
        .values(status=OutboxStatus.QUEUED, claimed_at=None, claimed_by="")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def recover_stale(now: datetime | None = None) -> dict[str, int]:
    """Rows in flight past the lease belong to a worker that died: email (and
    social rows never attempted) go back to the queue, social rows that may
    have been posted go to review. Commits; returns counts."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=float(setting("OUTBOX_LEASE_SECONDS")))
    stale = (OutboxMessage.status == OutboxStatus.IN_FLIGHT, OutboxMessage.claimed_at < cutoff)
    begin_write()
    requeued = db.session.execute(
        update(OutboxMessage)
        .where(*stale, (OutboxMessage.channel.not_in(SOCIAL)) | (OutboxMessage.attempts == 0))
        .values(status=OutboxStatus.QUEUED, claimed_at=None, claimed_by="", next_attempt_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    reviewed = db.session.execute(
        update(OutboxMessage)
        .where(*stale, OutboxMessage.channel.in_(SOCIAL))
        .values(
            status=OutboxStatus.REVIEW,
            last_error="The worker stopped while posting: the post may be online. "
            "Check the account before sending it again.",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return {"requeued": requeued, "review": reviewed}


# -- delivering ------------------------------------------------------------------------


class RateLimiter:
    """Token buckets per channel, for one worker."""

    def __init__(self, rates: dict, clock=time.monotonic, sleep=time.sleep):
        self.rates = {k: float(v) for k, v in (rates or {}).items()}
        self.clock, self.sleep = clock, sleep
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, channel: str) -> float:
        """Take a token, sleeping until one is there; returns the seconds slept."""
        rate = self.rates.get(channel, 0.0)
        if rate <= 0:
            return 0.0
        burst = max(1.0, rate)
        now = self.clock()
        tokens, last = self._buckets.get(channel, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        slept = 0.0
        if tokens < 1.0:
            slept = (1.0 - tokens) / rate
            self.sleep(slept)
            tokens, now = 1.0, now + slept
        self._buckets[channel] = (tokens - 1.0, now)
        return slept


@dataclass
class _Send:
    """What a call needs, read in the first transaction; no ORM object crosses it."""

    id: int
    channel: str
    email: object = None  # EmailMessage
    credentials: dict | None = None
    account_ref: str = ""
    text: str = ""
    link: str = ""


def backoff(attempts: int) -> timedelta:
    """base·2^(attempts-1), capped, plus up to one base of jitter."""
    base = float(setting("OUTBOX_RETRY_BASE_SECONDS"))
    cap = float(setting("OUTBOX_RETRY_CAP_SECONDS"))
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay + random.uniform(0, base))


class Deliverer:
    """Delivers claimed rows one by one for a worker; keeps its SMTP connection
    and rate buckets between messages."""

    def __init__(self, worker_id: str | None = None):
        self.worker_id = worker_id
        self.limiter = RateLimiter(setting("OUTBOX_RATE_LIMITS"))
        self._mailer: channels.Mailer | None = None

    def close(self) -> None:
        if self._mailer is not None:
            self._mailer.close()
            self._mailer = None

    def _smtp(self) -> channels.Mailer | None:
        url = current_app.config.get("SMTP_URL") or ""
        if self._mailer is not None and self._mailer.smtp_url != url:
            self.close()
        if url and self._mailer is None:
            self._mailer = channels.Mailer(url)
        return self._mailer

    def _locked(self, message_id: int) -> OutboxMessage | None:
        begin_write()
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .execution_options(populate_existing=True)
        )
        if _is_postgresql():
            stmt = stmt.with_for_update()
        return db.session.scalars(stmt).first()

    def deliver(self, message_id: int, channel: str | None = None) -> Outcome:
        """Deliver one in-flight row; returns what became of it."""
        if channel is None:
            channel = db.session.scalar(
                select(OutboxMessage.channel).where(OutboxMessage.id == message_id)
            )
            db.session.commit()
        if channel in SOCIAL or channel == Channel.EMAIL:
            self.limiter.wait(str(channel))
        try:
            prepared = self._start(message_id)
        except Exception:
            db.session.rollback()
            raise
        if isinstance(prepared, Outcome):
            return prepared
        try:
            external_id = self._send(prepared)
        except channels.Transient as exc:
            return self._retry(prepared.id, str(exc))
        except channels.Permanent as exc:
            return self._close(prepared.id, OutboxStatus.DEAD, str(exc))
        except channels.Ambiguous as exc:
            return self._close(prepared.id, OutboxStatus.REVIEW, str(exc))
        except Exception as exc:  # a bug or an unexpected library error
            log.exception("outbox message %s failed", prepared.id)
            error = f"{exc.__class__.__name__}: {exc}"
            if prepared.channel in SOCIAL:
                return self._close(prepared.id, OutboxStatus.REVIEW, error)
            return self._retry(prepared.id, error)
        return self._sent(prepared, external_id)

    def _start(self, message_id: int) -> _Send | Outcome:
        # One round trip for the row (locked) and everything the checks read.
        begin_write()
        stmt = (
            select(OutboxMessage, Agent, MessagingPreference, Organisation)
            .outerjoin(Agent, Agent.id == OutboxMessage.agent_id)
            .outerjoin(MessagingPreference, MessagingPreference.agent_id == OutboxMessage.agent_id)
            .outerjoin(Organisation, Organisation.id == OutboxMessage.organisation_id)
            .where(OutboxMessage.id == message_id)
            .execution_options(populate_existing=True)
        )
        if _is_postgresql():
            stmt = stmt.with_for_update(of=OutboxMessage)
        found = db.session.execute(stmt).first()
        row, agent, pref, org = found if found else (None, None, None, None)
        if (
            row is None
            or row.status != OutboxStatus.IN_FLIGHT
            or (self.worker_id and row.claimed_by != self.worker_id)
        ):
            db.session.commit()
            return Outcome.NOT_MINE
        now = utcnow()
        channel = str(row.channel)

        def skip(reason: str) -> Outcome:
            row.status, row.last_error = OutboxStatus.SKIPPED, reason
            db.session.commit()
            return Outcome.SKIPPED

        if channel == Channel.COPY:
            return skip("Copy posts are shared by the agent from the share kit, not sent.")
        if channel not in SOCIAL and channel != Channel.EMAIL:
            return skip(f"Unknown channel {channel!r}.")
        if agent is None or agent.is_deleted:
            return skip("No agent account to send to (none, or deleted).")
        if channel == Channel.EMAIL and (pref is None or not pref.unsubscribe_salt):
            pref = preference_for(agent.id)  # the unsubscribe link needs its salt
        if is_opted_out(pref, channel):
            return skip(f"The agent opted out of {'email' if channel == 'email' else 'posts'}.")
        until = quiet_until(pref, now)
        if until is not None:
            # Not an attempt: the row waits for the end of the agent's quiet hours.
            row.status, row.next_attempt_at = OutboxStatus.QUEUED, until
            row.claimed_at, row.claimed_by = None, ""
            db.session.commit()
            return Outcome.POSTPONED

        send = _Send(id=row.id, channel=channel, text=row.body_text, link=row.link)
        if channel == Channel.EMAIL:
            to = row.recipient or agent.email or ""
            if not to:
                return skip("No email address.")
            if not row.message_id:
                row.message_id = new_message_id()  # stored before the first send
            locale = agent.locale or (org.locale if org else "") or "fr"
            with force_locale(locale):
                footer = _(
                    "You receive this email because you fundraise with %(name)s. "
                    "To stop these emails, open:",
                    name=org.name if org else "Relais",
                )
            send.email = channels.email_message(
                to=to,
                subject=row.subject,
                text=row.body_text,
                html=row.body_html,
                message_id=row.message_id,
                unsubscribe_url=unsubscribe_url(pref),
                footer=footer,
            )
        else:
            account = db.session.scalars(
                select(SocialAccount).where(
                    SocialAccount.agent_id == agent.id, SocialAccount.provider == channel
                )
            ).first()
            if account is None:
                return skip(f"The agent has not connected a {channel} account.")
            try:
                send.credentials = decrypt_credentials(account.credentials_encrypted)
            except CredentialsError as exc:
                row.status, row.last_error = OutboxStatus.DEAD, f"{exc}; reconnect the account."
                db.session.commit()
                return Outcome.DEAD
            send.account_ref = account.account_ref
        # The attempt is on record (and the claim renewed) before anything leaves.
        row.attempts += 1
        row.claimed_at = now
        db.session.commit()
        return send

    def _send(self, send: _Send) -> str:
        if send.channel == Channel.EMAIL:
            mailer = self._smtp()
            if mailer is not None:
                mailer.send(send.email)
            return ""
        if send.channel == Channel.X:
            return channels.post_to_x(send.credentials, channels.x_text(send.text, send.link))
        return channels.post_to_facebook(
            send.credentials,
            send.account_ref or send.credentials.get("page_id", ""),
            send.text,
            send.link,
        )

    def _sent(self, send: _Send, external_id: str) -> Outcome:
        now = utcnow()
        # Sent whatever the row says now: it went out (a lease may have run out meanwhile).
        trigger = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == send.id)
            .values(status=OutboxStatus.SENT, sent_at=now, external_id=external_id, last_error="")
            .returning(OutboxMessage.trigger)
            .execution_options(synchronize_session=False)
        ).scalar()
        if send.channel == Channel.EMAIL:
            msg = send.email
            db.session.execute(
                dialect_insert(SentMail)
                .values(
                    message_id=msg["Message-ID"],
                    recipient=msg["To"],
                    subject=msg["Subject"] or "",
                    body_text=_part(msg, "plain"),
                    body_html=_part(msg, "html"),
                    template=f"outbox/{trigger or ''}"[:80],
                    # Without SMTP (the demo) the copy is all there is: kept, not delivered.
                    is_delivered=bool(current_app.config.get("SMTP_URL")),
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["message_id"])
            )
        db.session.commit()
        return Outcome.SENT

    def _retry(self, message_id: int, error: str) -> Outcome:
        row = self._locked(message_id)
        if row is None or row.status != OutboxStatus.IN_FLIGHT:
            db.session.commit()
            return Outcome.NOT_MINE
        row.last_error = error[:2000]
        if row.attempts >= int(setting("OUTBOX_MAX_ATTEMPTS")):
            row.status = OutboxStatus.DEAD
            outcome = Outcome.DEAD
        else:
            row.status, row.next_attempt_at = OutboxStatus.QUEUED, utcnow() + backoff(row.attempts)
            row.claimed_at, row.claimed_by = None, ""
            outcome = Outcome.RETRY
        db.session.commit()
        return outcome

    def _close(self, message_id: int, status: OutboxStatus, error: str) -> Outcome:
        row = self._locked(message_id)
        if row is not None and row.status in (OutboxStatus.IN_FLIGHT, OutboxStatus.REVIEW):
            row.status, row.last_error = status, error[:2000]
        db.session.commit()
        return Outcome(status.value)


def _part(msg, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None and part.get_content_subtype() == subtype else ""


def deliver(message_id: int, worker_id: str | None = None) -> Outcome:
    """Deliver one claimed row in its own transactions (see ``Deliverer``)."""
    deliverer = Deliverer(worker_id)
    try:
        return deliverer.deliver(message_id)
    finally:
        deliverer.close()


def drain(
    worker_id: str | None = None,
    *,
    batch: int | None = None,
    limit: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Counter:
    """Claim and deliver due rows until none is due (or ``limit`` were handled,
    or ``should_stop()``); rows claimed but not started are given back."""
    worker_id = worker_id or default_worker_id()
    batch = int(batch or setting("OUTBOX_BATCH"))
    counts: Counter = Counter()
    for name, count in recover_stale().items():
        if count:
            counts[f"recovered_{name}"] = count
    handled = 0
    deliverer = Deliverer(worker_id)
    try:
        while not should_stop() and (limit is None or handled < limit):
            claimed = _claim(worker_id, batch if limit is None else min(batch, limit - handled))
            if not claimed:
                break
            for index, (id_, channel) in enumerate(claimed):
                if should_stop():
                    release([i for i, _ in claimed[index:]], worker_id)
                    break
                counts[deliverer.deliver(id_, channel).value] += 1
                handled += 1
    finally:
        deliverer.close()
    return counts


def deliver_due(limit: int = 500) -> int:
    """Scheduled job (the demo's in-process worker): deliver what is due; returns
    how many rows were handled."""
    counts = drain(limit=limit)
    return sum(v for k, v in counts.items() if not k.startswith("recovered_"))


# -- staff -----------------------------------------------------------------------------

NEEDS_A_PERSON = (OutboxStatus.DEAD, OutboxStatus.REVIEW)


def status_counts(organisation_id: int) -> dict[str, int]:
    """How many of the organisation's messages are in each status."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.organisation_id == organisation_id)
        .group_by(OutboxMessage.status)
    )
    return {str(status): count for status, count in rows}


def needing_a_person(organisation_id: int, limit: int = 200) -> list[OutboxMessage]:
    """Dead letters and ambiguous social posts, newest first, with their last error."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.organisation_id == organisation_id,
                OutboxMessage.status.in_(NEEDS_A_PERSON),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def staff_decide(
    organisation_id: int, message_id: int, action: str, *, actor: Agent | None
) -> OutboxMessage:
    """Staff send a dead or to-review message again ("retry") or drop it ("cancel").

    A social post under review may already be online: retrying it is the
    person's decision, made after checking the account. ``actor`` is the staff
    member (None for a command), named in the audit log; it is required so that
    no caller forgets it."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.organisation_id != organisation_id:
        raise NotFound(_("This message does not exist."))
    if message.status not in NEEDS_A_PERSON:
        raise Conflict(_("This message is not waiting for a decision any more."))
    previous = str(message.status)
    if action == "retry":
        message.status = OutboxStatus.QUEUED
        message.attempts = 0
        message.next_attempt_at = utcnow()
        message.claimed_at, message.claimed_by = None, ""
    elif action == "cancel":
        message.status = OutboxStatus.CANCELLED
    else:
        raise ValidationError({"action": _("Choose to send it again or to cancel it.")})
    db.session.flush()
    audit.record(
        organisation_id,
        actor,
        f"outbox.{action}",
        f"Outbox message #{message.id} ({message.channel}, {previous}): "
        + ("sent again" if action == "retry" else "cancelled"),
        subject=message,
        details={
            "channel": str(message.channel),
            "from": previous,
            "to": str(message.status),
            "last_error": (message.last_error or "")[:300],
        },
    )
    return message
