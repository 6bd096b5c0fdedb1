"""The Redis leaderboards follow each commit, and heal after Redis was away.

``campaigns.standings.live``'s after-commit listener hands over the pages a
transaction touched; their committed figures go into the cause's sorted sets
(``campaigns.standings.ranks.sync``). The commit stands whatever happens here:
when Redis cannot be reached, the cause is marked stale in this process, reads
come from SQL meanwhile, and at this process's next Redis use (a read, or the
next commit) the stale causes lose their marker, so they are rebuilt from the
database, the commits of the outage included.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask

from campaigns.standings import ranks

log = logging.getLogger(__name__)


def sync_committed(app: Flask, session, touched: dict[int, set[int]]) -> None:
    """Bring the Redis sets of the touched causes up to this commit."""
    if not ranks.enabled(app):
        return
    if ranks.is_down(app):
        for cause_id in touched:
            ranks.mark_stale(cause_id)
        return
    try:
        ranks.repair_stale(app)
        with ranks.reading(session) as conn:
            for cause_id, page_ids in touched.items():
                try:
                    ranks.sync(cause_id, page_ids, conn)
                except ranks.Unavailable as error:
                    log.debug("ranks of cause %s not synced: %s", cause_id, error)
                    ranks.mark_stale(cause_id)
    except redis.RedisError as error:
        ranks.report_down(error, app)
        for cause_id in touched:
            ranks.mark_stale(cause_id)
    except Exception:
        log.exception("ranks not synced after a commit")
        for cause_id in touched:
            ranks.mark_stale(cause_id)
