"""Live totals and ranks of a cause, for Server-Sent Events.

After a transaction that wrote ledger rows or changed pages (or the cause)
commits, a small notice "cause N changed, these pages" is published: through
Redis pub/sub when ``REDIS_URL`` is set, so that every worker process hears
it, else to this process's hub. Each process has one :class:`Hub`: it
coalesces notices (at most one snapshot build per cause per
``LIVE_COALESCE_SECONDS``, default 1), builds the snapshot once and fans it
out to that process's open streams. A stream never reads the database itself.

A snapshot's version is the cause's highest ledger row id: it only grows,
needs no state and is the same in every process. A change that writes no
ledger row (a page hidden or renamed) is sent with the same version.

Under gunicorn each open stream holds a thread for up to
``LIVE_STREAM_SECONDS`` (default 300; EventSource then reconnects and
resumes): run it with ``--worker-class gthread --threads N`` (or gevent), never
the sync worker, and set ``REDIS_URL`` when there is more than one worker.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Iterable

import redis
from flask import Flask, current_app
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from campaigns import unit_of_work
from campaigns.runtime import metrics
from campaigns.signals import rankings_changed
from campaigns.standings import board_index, ranks, redis_ranks
from campaigns.standings.snapshots import Snapshot, changed_pages, snapshot
from extensions import db

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 2.0  # while Redis is away, each hub tries again this often at most


# --- what changed: session hooks ------------------------------------------------------


def _touch(session, cause_id: int | None, page_ids: Iterable[int | None]) -> None:
    if cause_id is None:
        return
    touched = session.info.setdefault(ranks.TOUCHED, {})
    touched.setdefault(cause_id, set()).update(p for p in page_ids if p is not None)


def _collect(session, _context) -> None:
    for cause_id, page_ids in board_index.touched_by(session):
        _touch(session, cause_id, page_ids)


def _rankings_changed(_sender, cause_id: int | None = None, page_ids=(), **_kwargs) -> None:
    """``rankings_changed``: published (and Redis synced) after the commit, as a gift is."""
    _touch(db.session, cause_id, page_ids)


def _forget(session, previous) -> None:
    if previous.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(ranks.TOUCHED, None)


def _committed(app: Flask, session) -> None:
    """After a commit (a unit-of-work hook): sync the ranks, publish the notice."""
    touched = session.info.pop(ranks.TOUCHED, None)
    if not touched:
        return
    redis_ranks.sync_committed(app, session, touched)
    publish(app, touched)


def init_app(app: Flask) -> None:
    """Collect what each flush touched, forget it on rollback, and publish it
    after the commit (``campaigns.unit_of_work`` runs the hook)."""
    # Session events are process-wide; apps are created many times (tests).
    if not event.contains(Session, "after_flush", _collect):
        event.listen(Session, "after_flush", _collect)
    if not event.contains(Session, "after_soft_rollback", _forget):
        event.listen(Session, "after_soft_rollback", _forget)
    rankings_changed.connect(_rankings_changed)
    unit_of_work.on_commit(app, _committed)


def channel(app: Flask) -> str:
    return f"{ranks.prefix(app)}live"


def publish(app: Flask, touched: dict[int, set[int]]) -> None:
    """Tell every process's hub (Redis) or this one's that these causes changed.

    While Redis is away this process's own streams still hear of its commits,
    and the hub keeps what the other nodes missed: it is published with the
    first notice that goes through, or as soon as the hub subscribes again."""
    if ranks.enabled(app) and hub(app).broadcast(touched):
        return
    hub(app).notice(touched)


# --- one hub per process ------------------------------------------------------------------


class Stream:
    """One open connection's mailbox: the latest message, pages merged, since a
    snapshot replaces the one before it."""

    def __init__(self, cause_id: int):
        self.cause_id = cause_id
        self._ready = threading.Condition()
        self._message: tuple[int, dict] | None = None

    def put(self, version: int, data: dict) -> None:
        with self._ready:
            if self._message is not None:
                data = {**data, "pages": {**self._message[1]["pages"], **data["pages"]}}
            self._message = (version, data)
            self._ready.notify_all()

    def get(self, timeout: float) -> tuple[int, dict] | None:
        with self._ready:
            self._ready.wait_for(lambda: self._message is not None, timeout)
            message, self._message = self._message, None
            return message


class Hub:
    """Notices in, one snapshot build per cause per interval, messages out."""

    def __init__(self, app: Flask):
        self.app = app
        self.coalesce = float(app.config.get("LIVE_COALESCE_SECONDS", 1.0))
        self._lock = threading.Condition()
        self._streams: dict[int, set[Stream]] = {}
        self._pending: dict[int, set[int]] = {}
        self._built_at: dict[int, float] = {}
        self._cache: dict[int, tuple[int, Snapshot]] = {}  # cause -> (ticket, snapshot)
        self._build_locks: dict[int, threading.Lock] = {}
        self._tickets = itertools.count(1)
        self._started = False
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._listening = threading.Event()
        self._settled = threading.Event()  # the first subscription worked or failed
        self._lost = False
        self._owed: dict[int, set[int]] = {}  # noticed here while Redis was away
        self._failing: set[int] = set()  # causes whose last snapshot build failed

    # Threads start with the first stream, never in create_app (nor before a fork).
    def _start(self) -> None:
        with self._lock:
            first, self._started = not self._started, True
        if first:
            self._threads.append(threading.Thread(target=self._dispatch, name="live", daemon=True))
            if ranks.enabled(self.app):
                self._threads.append(
                    threading.Thread(target=self._listen, name="live-redis", daemon=True)
                )
            for thread in self._threads:
                thread.start()
        # A notice published before SUBSCRIBE took effect would be lost: every
        # stream waits (once, briefly) for the subscription.
        if ranks.enabled(self.app) and self._settled.wait(5) and not self._listening.is_set():
            log.debug("live: Redis is away; this node's own updates are streamed meanwhile")

    def broadcast(self, touched: dict[int, Iterable[int]]) -> bool:
        """Publish these notices, and any the other nodes missed, through Redis;
        False (and kept as owed) when Redis is away."""
        with self._lock:
            for cause_id, page_ids in touched.items():
                self._owed.setdefault(cause_id, set()).update(page_ids)
        return self._pay_owed()

    def _pay_owed(self) -> bool:
        if ranks.is_down(self.app):
            return False
        with self._lock:
            owed, self._owed = self._owed, {}
        if not owed:
            return True
        body = json.dumps({str(c): sorted(p) for c, p in owed.items()})
        try:
            ranks.client(self.app).publish(channel(self.app), body)
        except redis.RedisError as error:
            ranks.report_down(error, self.app)
            with self._lock:
                for cause_id, page_ids in owed.items():
                    self._owed.setdefault(cause_id, set()).update(page_ids)
            return False
        return True

    def notice(self, touched: dict[int, Iterable[int]]) -> None:
        with self._lock:
            for cause_id, page_ids in touched.items():
                if cause_id in self._streams:
                    self._pending.setdefault(cause_id, set()).update(page_ids)
            self._lock.notify_all()

    def subscribe(self, cause_id: int, limit: int | None = None) -> Stream | None:
        """A new stream, or None when this process already serves ``limit``."""
        self._start()
        stream = Stream(cause_id)
        with self._lock:
            if limit is not None and sum(map(len, self._streams.values())) >= limit:
                return None
            self._streams.setdefault(cause_id, set()).add(stream)
        metrics.stream_opened()
        return stream

    def unsubscribe(self, stream: Stream) -> None:
        with self._lock:
            streams = self._streams.get(stream.cause_id, set())
            if stream in streams:
                metrics.stream_closed()
            streams.discard(stream)
            if not streams:
                # Nobody listens: notices are dropped, so the cache would go stale.
                for table in (self._streams, self._pending, self._built_at, self._cache):
                    table.pop(stream.cause_id, None)

    def current(self, cause_id: int) -> Snapshot:
        """The cause's latest snapshot: cached while it has streams, else built
        now in the caller's app context (once, however many connect at once)."""
        with self._lock:
            if cause_id in self._cache:
                return self._cache[cause_id][1]
            build_lock = self._build_locks.setdefault(cause_id, threading.Lock())
        with build_lock:
            with self._lock:
                if cause_id in self._cache:
                    return self._cache[cause_id][1]
            ticket = next(self._tickets)
            built = snapshot(cause_id)
            self._store(cause_id, ticket, built)
            return built

    def _store(self, cause_id: int, ticket: int, built: Snapshot) -> None:
        with self._lock:
            # A build that began earlier must not replace a newer one.
            if cause_id in self._streams and self._cache.get(cause_id, (0,))[0] < ticket:
                self._cache[cause_id] = (ticket, built)

    def _due(self) -> tuple[dict[int, set[int]], float | None]:
        now, due, wait = time.monotonic(), {}, None
        for cause_id in list(self._pending):
            at = self._built_at.get(cause_id, float("-inf")) + self.coalesce
            if at <= now:
                due[cause_id] = self._pending.pop(cause_id)
                self._built_at[cause_id] = now
            else:
                wait = at - now if wait is None else min(wait, at - now)
        return due, wait

    def close(self, timeout: float = 5.0) -> None:
        """Stop building and listening, once a build under way is done (a test's
        end, a worker's shutdown): nothing touches Redis or the database after."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                due, wait = self._due()
                while not due and not self._closed:
                    self._lock.wait(wait)
                    due, wait = self._due()
                if self._closed:
                    return
            for cause_id, page_ids in due.items():
                self._send(cause_id, page_ids)

    def _send(self, cause_id: int, page_ids: set[int]) -> None:
        with self._lock:
            if self._closed or cause_id not in self._streams:
                return  # everyone left while the notice waited
        ticket = next(self._tickets)
        try:
            with self.app.app_context():
                built = snapshot(cause_id)
                pages = changed_pages(cause_id, page_ids)
        except Exception:
            # Tried again after the coalescing interval (the database may be
            # busy or away a moment): a change is never dropped for a failed build.
            with self._lock:
                if cause_id not in self._failing:  # said once per run of failures
                    self._failing.add(cause_id)
                    log.exception("live: snapshot of cause %s failed; trying again", cause_id)
                self._pending.setdefault(cause_id, set()).update(page_ids)
                self._lock.notify_all()
            return
        self._store(cause_id, ticket, built)
        with self._lock:
            self._failing.discard(cause_id)
            streams = list(self._streams.get(cause_id, ()))
        message = built.message(pages)
        for stream in streams:
            stream.put(built.version, message)

    def _listen(self) -> None:
        delay = 0.5
        while not self._closed:
            pubsub = None
            try:
                pubsub = ranks.client(self.app).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel(self.app))
                pubsub.get_message(timeout=1.0)  # the subscription's confirmation
                self._listening.set()
                self._settled.set()
                if self._lost:  # notices may have gone by meanwhile: rebuild everything
                    self._lost = False
                    ranks.note_reachable(self.app)
                    log.info("live: subscribed to Redis again")
                    with self._lock:
                        self.notice(dict.fromkeys(self._streams, ()))
                    self._pay_owed()  # and tell the other nodes what this one took
                delay = 0.5
                while not self._closed:
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self.notice(_decode(message.get("data")))
            except redis.RedisError as error:
                ranks.report_down(error, self.app)
                log.debug("live: Redis subscription lost (%s); retrying", error)
                self._listening.clear()
                self._lost = True
                self._settled.set()
                time.sleep(delay)
                delay = min(delay * 2, RECONNECT_SECONDS)
            finally:
                if pubsub is not None:
                    pubsub.close()


def _decode(data) -> dict[int, list[int]]:
    """A notice from Redis; anything malformed is ignored."""
    try:
        body = json.loads(data)
        return {int(c): [int(p) for p in pages] for c, pages in body.items()}
    except (TypeError, ValueError, AttributeError):
        return {}


_hub_lock = threading.Lock()


def hub(app: Flask | None = None) -> Hub:
    app = app or current_app._get_current_object()
    with _hub_lock:
        if "relais.live" not in app.extensions:
            app.extensions["relais.live"] = Hub(app)
        return app.extensions["relais.live"]
