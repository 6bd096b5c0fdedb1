"""Leaderboards in Redis sorted sets, used instead of SQL when ``REDIS_URL`` is set.

One sorted set per board of a cause (its personal pages, its events and
teams) and one per event or team (its member pages), holding every ranked
(published or closed) page, with no money too. Hidden and draft pages are not
in them.

Score: ``-(raised * 2**20 + donors)``, the pair (raised, donors) exactly, since
a double holds every integer below 2**53: raised must stay within ±2**33 minor
units (85,899,345.92 in a two-decimal currency) and donors below 2**20
(1,048,576) per page. A cause with a page beyond that is answered from SQL
(its marker says so) until it is rebuilt. The score is negated so that
ZRANGE lists the most raised first and, among equal scores, members in lexical
order: members are zero-padded page ids, so ties come by page id exactly like
SQL's ``ORDER BY rank, page_id``. A page's rank is 1 + the number of members
with a strictly smaller score: SQL's RANK(), equal figures sharing a rank.

After a transaction that wrote ledger rows or changed pages commits,
``campaigns.standings.live`` calls :func:`sync` with the pages it touched: their absolute
figures are read from the totals (never added), under a per-cause lock, so a
retried or concurrent writer cannot leave an older figure over a newer one.
A missing marker key means the cause's sets must be built from the database:
the next read does it, as does ``relais ranks rebuild``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress

import redis
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from campaigns.fairplay import counting as fair_play
from campaigns.pages.models import EVENT_KINDS, Page
from campaigns.standings.boards import BOARDS, RANKED_STATUSES, ranked_query
from campaigns.totals.models import Total, TotalScope
from campaigns.totals.services import page_scope
from extensions import db

log = logging.getLogger(__name__)

TOUCHED = "relais.touched"  # session.info: {cause id: {page ids}} written, not yet committed
DONOR_BITS = 20
MAX_RAISED = 2**33
DOWN_SECONDS = 5.0  # after a Redis error, answer from SQL this long without trying
CHUNK = 5000

# One round trip each; the marker is read in the same script as the set, so a
# concurrent rebuild (one MULTI) is seen whole or not at all.
_READY = """
local ready = redis.call('GET', KEYS[2])
if not ready then return {'missing'} end
if ready ~= 'ok' then return {ready} end
"""
BOARD_SCRIPT = (
    _READY
    + """
local rows = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
local before = 0
if #rows > 0 then before = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. rows[2]) end
return {'ok', before, rows}
"""
)
RANK_SCRIPT = (
    _READY
    + """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return {'ok'} end
return {'ok', score, redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. score)}
"""
)
ABOVE_SCRIPT = (
    _READY
    + """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return {'ok'} end
local near = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. score, '-inf',
                        'WITHSCORES', 'LIMIT', 0, 1)
if #near == 0 then return {'ok'} end
local first = redis.call('ZRANGEBYSCORE', KEYS[1], near[2], near[2], 'LIMIT', 0, 1)
return {'ok', score, redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. near[2]), first[1], near[2]}
"""
)


class Unavailable(Exception):
    """Redis cannot answer for this cause now: the caller asks SQL."""


class Overflow(ValueError):
    """Figures beyond what a score holds exactly."""


# --- configuration and keys -------------------------------------------------------


def enabled(app: Flask | None = None) -> bool:
    return bool((app or current_app).config.get("REDIS_URL"))


def prefix(app: Flask | None = None) -> str:
    return (app or current_app).config.get("REDIS_PREFIX") or "relais:"


def _state(app: Flask) -> dict:
    return app.extensions.setdefault("relais.ranks", {"down_until": 0.0, "stale": set()})


def client(app: Flask | None = None) -> redis.Redis:
    """This process's Redis client (thread-safe, pooled), made on first use."""
    app = app or current_app
    state = _state(app)
    if "client" not in state:
        state["client"] = redis.Redis.from_url(
            app.config["REDIS_URL"],
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
        state["scripts"] = {
            name: state["client"].register_script(body)
            for name, body in (
                ("board", BOARD_SCRIPT),
                ("rank", RANK_SCRIPT),
                ("above", ABOVE_SCRIPT),
            )
        }
    return state["client"]


class Keys:
    """A cause's keys; the {hash tag} keeps them in one Redis Cluster slot."""

    def __init__(self, cause_id: int, app: Flask | None = None):
        self.base = f"{prefix(app)}ranks:{{{cause_id}}}:"
        self.pages = self.base + "pages"
        self.events = self.base + "events"
        self.parents = self.base + "parents"  # member -> the event whose set holds it
        self.ready = self.base + "ready"
        self.lock = self.base + "lock"

    def board(self, board: str) -> str:
        return self.events if board == "events" else self.pages

    def members(self, event_id: int | str) -> str:
        return f"{self.base}event:{event_id}"


def member(page_id: int) -> str:
    return f"{page_id:010d}"


def score(raised: int, donors: int) -> int:
    if not (-MAX_RAISED < raised < MAX_RAISED and 0 <= donors < 2**DONOR_BITS):
        raise Overflow(f"raised={raised} donors={donors}")
    return -(raised * 2**DONOR_BITS + donors)


def unscore(value: str | float) -> tuple[int, int]:
    raised, donors = divmod(-int(float(value)), 2**DONOR_BITS)
    return raised, donors


# --- session bookkeeping (filled by campaigns.standings.live's session hooks) ------------------


def uncommitted(session) -> dict[int, set[int]]:
    """Causes this session wrote to and has not committed: Redis does not have
    them yet, so reads of those causes come from SQL (read your own writes)."""
    return session.info.get(TOUCHED, {})


@contextmanager
def reading(session=None) -> Iterator[Connection]:
    """A connection that sees what is committed now, apart from the session's
    own transaction; inside a caller's connection (tests), that connection."""
    bind = (session or db.session).get_bind()
    if isinstance(bind, Connection):
        yield bind
        return
    # Never BEGIN IMMEDIATE: the unit of work around it may hold SQLite's write lock.
    with bind.connect().execution_options(sqlite_immediate=False) as conn:
        yield conn


# --- guarded access --------------------------------------------------------------


def is_down(app: Flask | None = None) -> bool:
    """Redis failed moments ago: callers do without it for a few seconds rather
    than wait for a timeout on every request."""
    return time.monotonic() < _state(app or current_app)["down_until"]


def _guard(cause_id: int) -> redis.Redis:
    """The client, unless Redis failed moments ago; causes whose sync failed in
    this process have their markers dropped first, so they are rebuilt."""
    app = current_app
    if is_down(app):
        raise Unavailable("redis is down")
    r = client(app)
    repair_stale(app)
    return r


def repair_stale(app: Flask) -> None:
    """Drop the marker of every cause whose sync failed in this process (Redis
    was away, or busy): the next read anywhere rebuilds it from the database."""
    state = _state(app)
    if not state["stale"]:
        return
    r = client(app)
    for cause_id in sorted(state["stale"]):
        keys = Keys(cause_id, app)
        with _locked(r, keys) as held:
            if held:
                r.delete(keys.ready)
                state["stale"].discard(cause_id)


def report_down(error: Exception, app: Flask | None = None) -> Unavailable:
    """Redis failed: do without it for ``DOWN_SECONDS``, and warn once per outage
    (not once per request) with what this node does meanwhile."""
    state = _state(app or current_app)
    state["down_until"] = time.monotonic() + DOWN_SECONDS
    if not state.get("outage"):
        state["outage"] = True
        log.warning(
            "Redis is unreachable (%s): leaderboards come from SQL, rate limits are kept "
            "in memory and live updates reach this node's streams only, until it is back",
            error,
        )
    return Unavailable(str(error))


def note_reachable(app: Flask | None = None) -> None:
    """A Redis call just worked: after an outage, say so once."""
    state = _state(app or current_app)
    if state.get("outage"):
        state["outage"], state["down_until"] = False, 0.0
        log.info("Redis is reachable again: leaderboards changed meanwhile are rebuilt")


def _failed(error: Exception) -> Unavailable:
    return report_down(error)


@contextmanager
def _locked(r: redis.Redis, keys: Keys, wait: float = 5.0) -> Iterator[bool]:
    lock = r.lock(keys.lock, timeout=30, blocking_timeout=wait)
    held = lock.acquire()
    try:
        yield held
    finally:
        if held:
            # Expired meanwhile (a very slow rebuild): nothing left to release.
            with suppress(redis.exceptions.LockError):
                lock.release()


def run_script(cause_id: int, script: str, key: str, *args) -> list:
    """Run a read script; build the cause's sets first when its marker is missing."""
    keys = Keys(cause_id)
    try:
        _guard(cause_id)
        for _attempt in range(2):
            result = _state(current_app)["scripts"][script](keys=[key, keys.ready], args=args)
            if result[0] == "missing":
                # A reader waits a little for a rebuild elsewhere, then asks SQL.
                rebuild(cause_id, wait=5.0, if_missing=True)
                continue
            note_reachable()
            if result[0] != "ok":  # "sql": beyond the exact range of a score
                raise Unavailable(f"cause {cause_id} is answered from SQL ({result[0]})")
            return result
    except redis.RedisError as error:
        raise _failed(error) from error
    raise Unavailable(f"cause {cause_id}: no marker after a rebuild")


# --- writes ------------------------------------------------------------------------


def _current(conn: Connection, page_ids: Iterable[int]) -> list[tuple]:
    """Each page's (id, cause, kind, status, parent, raised, donors) as committed."""
    ids = sorted(set(page_ids))
    pages = conn.execute(
        select(Page.id, Page.cause_id, Page.kind, Page.status, Page.parent_id).where(
            Page.id.in_(ids)
        )
    ).all()
    sums = {
        (str(scope), scope_id): (int(raised or 0), int(donors or 0))
        for scope, scope_id, raised, donors in conn.execute(
            select(
                Total.scope,
                Total.scope_id,
                func.sum(Total.raised_minor),
                func.sum(Total.donor_count),
            )
            .where(Total.scope.in_((TotalScope.PAGE, TotalScope.EVENT)), Total.scope_id.in_(ids))
            .group_by(Total.scope, Total.scope_id)
        )
    }
    # Gifts staff excluded from rankings stay in the totals: taken off here.
    excluded = fair_play.excluded_for(ids, conn)
    out = []
    for page_id, cause_id, kind, status, parent_id in pages:
        scope = page_scope(kind)
        raised, donors = sums.get((str(scope), page_id), (0, 0))
        off_raised, off_donors = excluded.get((str(scope), page_id), (0, 0))
        raised, donors = raised - off_raised, donors - off_donors
        out.append((page_id, cause_id, kind, status, parent_id, raised, donors))
    return out


def sync(cause_id: int, page_ids: Iterable[int], conn: Connection) -> None:
    """Write the committed figures, status and event of these pages into the
    cause's sets. Nothing to do while the cause has no sets (the next read
    builds them from the database, this commit included)."""
    if is_down():
        raise Unavailable("redis is down")
    try:
        _sync(cause_id, page_ids, conn)
    except redis.RedisError as error:
        raise _failed(error) from error
    note_reachable()


def _sync(cause_id: int, page_ids: Iterable[int], conn: Connection) -> None:
    keys = Keys(cause_id)
    r = client()
    with _locked(r, keys) as held:
        if not held:
            raise Unavailable(f"cause {cause_id}: the ranks lock is busy")
        if r.get(keys.ready) != "ok":
            return
        rows = [row for row in _current(conn, page_ids) if row[1] == cause_id]
        try:
            scores = {row[0]: score(row[5], row[6]) for row in rows}
        except Overflow:
            r.set(keys.ready, "sql")
            return
        names = [member(row[0]) for row in rows]
        old_parents = r.hmget(keys.parents, names) if names else []
        pipe = r.pipeline(transaction=True)
        for row, name, old_parent in zip(rows, names, old_parents, strict=True):
            page_id, _cause, kind, status, parent_id, _raised, _donors = row
            is_event = kind in EVENT_KINDS
            home, other = (keys.events, keys.pages) if is_event else (keys.pages, keys.events)
            ranked = status in RANKED_STATUSES
            pipe.zrem(other, name)
            if ranked:
                pipe.zadd(home, {name: scores[page_id]})
            else:
                pipe.zrem(home, name)
            if old_parent:
                pipe.zrem(keys.members(old_parent), name)
            if ranked and not is_event and parent_id:
                pipe.zadd(keys.members(parent_id), {name: scores[page_id]})
                pipe.hset(keys.parents, name, str(parent_id))
            else:
                pipe.hdel(keys.parents, name)
        pipe.execute()


def mark_stale(cause_id: int) -> None:
    """A sync failed: this process drops the cause's marker at its next use."""
    _state(current_app)["stale"].add(cause_id)


def rebuild(cause_id: int, *, wait: float = 30.0, if_missing: bool = False) -> int:
    """Replace one cause's sets with the database's figures; returns the number
    of ranked pages (``if_missing``: unless another process just built them)."""
    r = client()
    keys = Keys(cause_id)
    with _locked(r, keys, wait=wait) as held:
        if not held:
            raise Unavailable(f"cause {cause_id}: the ranks lock is busy")
        if if_missing and r.get(keys.ready) is not None:
            return 0
        with reading() as conn:
            return _rebuild_locked(r, keys, cause_id, conn)


def _add(pipe, key: str, rows: list[tuple[str, int]]) -> None:
    for start in range(0, len(rows), CHUNK):
        pipe.zadd(key, dict(rows[start : start + CHUNK]))


def _rebuild_locked(r: redis.Redis, keys: Keys, cause_id: int, conn: Connection) -> int:
    boards = {}
    for name in BOARDS:
        ranked = ranked_query(cause_id, name)
        boards[name] = conn.execute(
            select(ranked.c.page_id, ranked.c.raised, ranked.c.donors, ranked.c.parent_id)
        ).all()
    events = conn.scalars(select(Page.id).where(Page.cause_id == cause_id, Page.is_event)).all()
    pipe = r.pipeline(transaction=True)
    pipe.delete(keys.pages, keys.events, keys.parents, *(keys.members(e) for e in events))
    try:
        scored = {
            name: [
                (member(p), score(int(raised), int(donors)), parent)
                for p, raised, donors, parent in rows
            ]
            for name, rows in boards.items()
        }
    except Overflow:
        pipe.set(keys.ready, "sql")
        pipe.execute()
        return 0
    teams: dict[int, list[tuple[str, int]]] = {}
    for name, rows in scored.items():
        _add(pipe, keys.board(name), [(m, s) for m, s, _parent in rows])
        if name == "pages":
            for m, s, parent in rows:
                if parent:
                    teams.setdefault(parent, []).append((m, s))
    for parent, rows in teams.items():
        _add(pipe, keys.members(parent), rows)
        for start in range(0, len(rows), CHUNK):
            pipe.hset(
                keys.parents, mapping={m: str(parent) for m, _s in rows[start : start + CHUNK]}
            )
    pipe.set(keys.ready, "ok")
    pipe.execute()
    return sum(len(rows) for rows in scored.values())
