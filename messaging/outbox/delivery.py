"""Delivering claimed outbox rows.

Email rows of a claimed batch go out together: one transaction checks
opt-out, quiet hours and addresses for the whole batch, counts each attempt
and fixes each email's Message-ID, and is committed BEFORE the first SMTP
call (``messaging.outbox.checks``); the mails then go out one after the
other on the worker's one SMTP connection, each recorded as sent (one
statement) before the next goes, so a worker killed in a batch sends again
only the mail it was sending. Social posts and webhooks go one by one (their
calls are slower, rate-limited or refresh a token), through the same steps.

Email is at least once (a retry, or a row whose worker died, is sent again
with the same Message-ID). A social post is at most once: after an ambiguous
failure, or a worker that died during the call, it goes to ``review`` and a
person decides. Transactional mail (account mail, receipts, invitations)
skips the agent's opt-outs and quiet hours and carries no unsubscribe footer.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from campaigns.model_types import utcnow
from campaigns.runtime import metrics
from campaigns.unit_of_work import begin_write
from extensions import db
from messaging.outbox import channels, checks, webhook_delivery
from messaging.outbox.checks import Outcome, Send
from messaging.outbox.leases import LeaseKeeper, claim_rows, default_worker_id, recover_stale
from messaging.outbox.leases import release as release_rows
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus
from messaging.outbox.services import SOCIAL, is_postgresql, setting

log = logging.getLogger(__name__)


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


_MARK_SENT = (
    update(OutboxMessage.__table__)
    .where(OutboxMessage.__table__.c.id == bindparam("row"))
    .values(
        status=OutboxStatus.SENT.value,
        sent_at=bindparam("now"),
        external_id=bindparam("external"),
        last_error="",
    )
)


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
        self.webhooks = None  # a requests session, made at the first webhook
        self._away = ""  # why the SMTP server could not be reached
        self._sent_at = None  # when the last sent rows were recorded
        self._marks = None  # PostgreSQL: the connection sent rows are recorded on

    def close(self) -> None:
        if self._marks is not None:
            self._marks.close()
            self._marks = None
        if self._mailer is not None:
            self._mailer.close()
            self._mailer = None
        if self.webhooks is not None:
            self.webhooks.close()
            self.webhooks = None

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
        if is_postgresql():
            stmt = stmt.with_for_update()
        return db.session.scalars(stmt).first()

    def deliver(self, message_id: int, channel: str | None = None) -> Outcome:
        """Deliver one in-flight row; returns what became of it."""
        if channel is None:
            channel = db.session.scalar(
                select(OutboxMessage.channel).where(OutboxMessage.id == message_id)
            )
            db.session.commit()
        if channel == Channel.WEBHOOK:
            outcome = Outcome(webhook_delivery.deliver(self, message_id))
            metrics.count_delivery_of_row(message_id, outcome.value)
            return outcome
        return self.deliver_many([message_id]).get(message_id, Outcome.NOT_MINE)

    def deliver_many(
        self, ids: list[int], should_stop: Callable[[], bool] = lambda: False
    ) -> dict[int, Outcome]:
        """Deliver in-flight email or social rows, checked and counted in one
        transaction, sent in order, each sent one on record before the next call.
        Rows not sent when ``should_stop()`` turns true go back to the queue
        uncounted, without an outcome; when the SMTP server is away, the rest
        wait their backoff, uncounted too."""
        if not ids:
            return {}
        try:
            prepared = self._start_many(ids)
        except Exception:
            db.session.rollback()
            raise
        outcomes: dict[int, Outcome] = {}
        sent: list[tuple[Send, str]] = []
        waiting = [p for p in prepared.values() if isinstance(p, Send)]
        for id_, outcome in prepared.items():
            if isinstance(outcome, Outcome):
                outcomes[id_] = outcome
        try:
            for index, send in enumerate(waiting):
                if should_stop():
                    self._requeue([s.id for s in waiting[index:]], "", counted=False, wait=False)
                    break
                if send.channel in SOCIAL or send.channel == Channel.EMAIL:
                    self.limiter.wait(send.channel)
                outcome = self._deliver_prepared(send, sent)
                if outcome is None:  # the server is away: none of the rest is tried
                    self._requeue([s.id for s in waiting[index:]], self._away, counted=False)
                    outcomes.update((s.id, Outcome.RETRY) for s in waiting[index:])
                    break
                outcomes[send.id] = outcome
        finally:
            self._record_sent(sent)
        for send in waiting:
            if send.id in outcomes:
                metrics.count_delivery(
                    send.channel, outcomes[send.id].value, send.queued_at, self._sent_at
                )
        return outcomes

    def _deliver_prepared(self, send: Send, sent: list) -> Outcome | None:
        """Send one prepared row; a sent row is added to ``sent`` (recorded by
        the caller), a failed one is recorded now. None: the server is away."""
        try:
            external_id = self._send(send)
        except channels.Unavailable as exc:
            self._away = str(exc)
            return None
        except channels.Transient as exc:
            return self._retry(send.id, str(exc))
        except channels.Permanent as exc:
            return self._close(send.id, OutboxStatus.DEAD, str(exc))
        except channels.Ambiguous as exc:
            return self._close(send.id, OutboxStatus.REVIEW, str(exc))
        except Exception as exc:  # a bug or an unexpected library error
            log.exception("outbox message %s failed", send.id)
            error = f"{exc.__class__.__name__}: {exc}"
            if send.channel in SOCIAL:
                return self._close(send.id, OutboxStatus.REVIEW, error)
            return self._retry(send.id, error)
        # On record before the next call: a worker killed in a batch sends again
        # at most the one message it was sending (a social post: none, it goes
        # to review).
        sent.append((send, external_id))
        self._record_sent(sent)
        return Outcome.SENT

    def _start(self, message_id: int) -> Send | Outcome:
        return self._start_many([message_id]).get(message_id, Outcome.NOT_MINE)

    def _start_many(self, ids: list[int]) -> dict[int, Send | Outcome]:
        return checks.start_many(ids, self.worker_id)

    def _send(self, send: Send) -> str:
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

    def _sent(self, send, external_id: str) -> Outcome:
        self._record_sent([(send, external_id)])
        return Outcome.SENT

    def _record_sent(self, sent: list[tuple[object, str]]) -> None:
        """Mark rows sent, whatever they say now: they went out (a lease may have
        run out meanwhile). One Core statement (no ORM unit of work) and a
        commit; the list is emptied once recorded."""
        if not sent:
            return
        self._sent_at = now = utcnow()
        rows = [{"row": send.id, "external": ext, "now": now} for send, ext in sent]
        marks = self._marks_connection()
        if marks is None:
            begin_write()
            db.session.connection().execute(_MARK_SENT, rows)
            db.session.commit()
        else:
            try:
                marks.execute(_MARK_SENT, rows)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # The connection was cut (the statement is idempotent): once more
                # on a fresh one; a second failure leaves the rows to the lease.
                self._marks = None
                self._marks_connection().execute(_MARK_SENT, rows)
        sent.clear()

    def _marks_connection(self):
        """On PostgreSQL, a connection kept for the worker's life, in autocommit:
        recording a sent mail is then one round trip (no pool check-out, ping,
        BEGIN and COMMIT per mail). None when the session runs inside a caller's
        connection (a test's) or on SQLite (whose writers begin IMMEDIATE)."""
        if self._marks is None:
            bind = db.session.get_bind()
            if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
                return None
            self._marks = bind.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._marks

    def _retry(self, message_id: int, error: str, counted: bool = True) -> Outcome:
        return self._requeue([message_id], error, counted).get(message_id, Outcome.NOT_MINE)

    def _requeue(
        self, ids: list[int], error: str, counted: bool = True, wait: bool = True
    ) -> dict[int, Outcome]:
        """Put in-flight rows back in the queue after a failed try, with backoff
        (``wait``), or dead after the last attempt; an attempt not ``counted``
        (the server was away, or the worker stops) is taken back. One commit."""
        begin_write()
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .execution_options(populate_existing=True)
        )
        if is_postgresql():
            stmt = stmt.with_for_update()
        outcomes = {}
        now = utcnow()
        for row in db.session.scalars(stmt):
            if row.status != OutboxStatus.IN_FLIGHT:
                outcomes[row.id] = Outcome.NOT_MINE
                continue
            if error:
                row.last_error = error[:2000]
            if not counted:
                row.attempts = max(0, row.attempts - 1)
            if counted and row.attempts >= int(setting("OUTBOX_MAX_ATTEMPTS")):
                row.status = OutboxStatus.DEAD
                outcomes[row.id] = Outcome.DEAD
                continue
            row.status = OutboxStatus.QUEUED
            row.next_attempt_at = now + backoff(row.attempts) if wait else now
            row.claimed_at, row.claimed_by = None, ""
            outcomes[row.id] = Outcome.RETRY
        db.session.commit()
        return outcomes

    def _close(self, message_id: int, status: OutboxStatus, error: str) -> Outcome:
        row = self._locked(message_id)
        if row is not None and row.status in (OutboxStatus.IN_FLIGHT, OutboxStatus.REVIEW):
            row.status, row.last_error = status, error[:2000]
        db.session.commit()
        return Outcome(status.value)


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
    or ``should_stop()``); rows claimed but not started are given back. A
    batch's email rows go out together (``Deliverer.deliver_many``). The
    claimed rows' lease is renewed while they are sent (``LeaseKeeper``)."""
    worker_id = worker_id or default_worker_id()
    batch = int(batch or setting("OUTBOX_BATCH"))
    counts: Counter = Counter()
    for name, count in recover_stale().items():
        if count:
            counts[f"recovered_{name}"] = count
    handled = 0
    deliverer = Deliverer(worker_id)
    try:
        with LeaseKeeper(current_app._get_current_object(), worker_id):
            while not should_stop() and (limit is None or handled < limit):
                size = batch if limit is None else min(batch, limit - handled)
                claimed = claim_rows(worker_id, size)
                if not claimed:
                    break
                emails = [id_ for id_, channel in claimed if channel == Channel.EMAIL]
                for outcome in deliverer.deliver_many(emails, should_stop).values():
                    counts[outcome.value] += 1
                    handled += 1
                others = [(id_, channel) for id_, channel in claimed if channel != Channel.EMAIL]
                for index, (id_, channel) in enumerate(others):
                    if should_stop():
                        release_rows([i for i, _ in others[index:]], worker_id)
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
