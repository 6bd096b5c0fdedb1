"""Liveness and readiness, for load balancers, orchestrators and operators.

``GET /healthz``: the process answers (no database call: a web node whose
database is down is alive, and restarting it would not help).
``GET /readyz``: this node can serve: the database answers and is migrated to
the head revision, Redis answers when ``REDIS_URL`` is set. 503 with a JSON
body that names what failed otherwise, so a load balancer takes the node out
and an operator reads why.
"""

from __future__ import annotations

import logging
import threading

from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from campaigns.runtime.paths import asset_folder
from extensions import db, limiter

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

_head_lock = threading.Lock()


def head_revisions(app: Flask) -> set[str]:
    """The migrations' head revision(s), read once per process."""
    with _head_lock:
        heads = app.extensions.get("relais_migration_heads")
        if heads is None:
            script = ScriptDirectory(str(asset_folder("migrations")))
            heads = app.extensions["relais_migration_heads"] = set(script.get_heads())
    return heads


def _database() -> dict:
    try:
        current = set(db.session.scalars(text("SELECT version_num FROM alembic_version")).all())
    except Exception as error:  # unreachable, or never migrated
        db.session.rollback()
        return {"ok": False, "error": _describe(error)}
    finally:
        db.session.rollback()  # a read-only check holds no transaction open
    heads = head_revisions(current_app)
    if current != heads:
        return {
            "ok": False,
            "error": "the database is not migrated to the head revision: run `relais db upgrade`",
            "revision": sorted(current),
            "head": sorted(heads),
        }
    return {"ok": True, "revision": sorted(current)}


def _redis() -> dict | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:
        return {"ok": False, "error": _describe(error)}
    return {"ok": True}


def _describe(error: BaseException) -> str:
    # The first line only: enough to act on, no statement or parameters.
    message = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else ''}"[:300]


@bp.get("/healthz")
@limiter.exempt
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@limiter.exempt
def readyz():
    checks = {"database": _database()}
    redis_check = _redis()
    if redis_check is not None:
        checks["redis"] = redis_check
    ready = all(check["ok"] for check in checks.values())
    processes = None
    if checks["database"]["ok"]:
        from campaigns.runtime import heartbeats

        try:
            # Shown, not judged: the web serves while a scheduler restarts.
            processes = heartbeats.summary()
        except Exception:
            db.session.rollback()
        finally:
            db.session.rollback()
    if not ready:
        log.warning("not ready: %s", {k: v for k, v in checks.items() if not v["ok"]})
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    if processes is not None:
        body["processes"] = processes
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
