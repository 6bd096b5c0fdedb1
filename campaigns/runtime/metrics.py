"""Prometheus metrics at ``/metrics``, for the operator's scraper only.

Answered only with ``Authorization: Bearer $METRICS_TOKEN``; a 404 while
``METRICS_TOKEN`` is unset, so nothing is ever public by default.

Under gunicorn each worker is its own process: ``relais serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder and prometheus-client writes
every process's samples there, merged at scrape time (the client's
multiprocess mode). Without it (the demo, tests) one process's registry is read.
Gauges that describe the database (the outbox by status and channel, dead
letters) are read from it at scrape time, so every node reports the same truth.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from flask_sqlalchemy.session import Session
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select
from sqlalchemy.orm import object_session

from campaigns.signals import gift_recorded
from extensions import db, limiter

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
DELIVERY_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600, 6 * 3600)

HTTP_REQUESTS = Counter(
    "relais_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"]
)
HTTP_SECONDS = Histogram(
    "relais_http_request_seconds", "Time to answer a request", ["endpoint"], buckets=LATENCY_BUCKETS
)
WEBHOOK_EVENTS = Counter(
    "relais_webhook_events_total", "Stripe webhook deliveries, by outcome", ["outcome"]
)
WEBHOOK_SECONDS = Histogram(
    "relais_webhook_seconds", "Time to record one Stripe event", buckets=LATENCY_BUCKETS
)
GIFTS_RECORDED = Counter(
    "relais_gifts_recorded_total", "Gifts written to the ledger and committed", ["kind"]
)
OUTBOX_SENT = Counter("relais_outbox_sent_total", "Outbox messages delivered", ["channel"])
OUTBOX_FAILURES = Counter(
    "relais_outbox_failures_total", "Outbox delivery attempts that failed", ["channel", "outcome"]
)
OUTBOX_DELIVERY_SECONDS = Histogram(
    "relais_outbox_delivery_seconds",
    "From queued to delivered",
    ["channel"],
    buckets=DELIVERY_BUCKETS,
)
LIVE_STREAMS = Gauge(
    "relais_live_streams_open", "Server-Sent Events streams open", multiprocess_mode="livesum"
)
# One sample per live process (the client adds its pid): how many processes report.
PROCESS_UP = Gauge(
    "relais_process_up", "1 for each process running Relais", multiprocess_mode="liveall"
)
DEGRADED_ANSWERS = Counter(
    "relais_degraded_answers_total",
    "Answers given while the database could not be reached: last_good pages, or 503 by kind",
    ["kind"],
)
JOB_RUNS = Counter("relais_job_runs_total", "Scheduled job runs", ["job", "outcome"])
JOB_SECONDS = Histogram(
    "relais_job_seconds", "Scheduled job durations", ["job"], buckets=(*LATENCY_BUCKETS, 30, 60)
)


GIFTS_COMMITTED = "relais.metrics.gifts"  # session.info: gift kinds written, not yet committed


class OutboxCollector:
    """The outbox's depth by status and channel, and its dead letters, read
    from the database."""

    def collect(self):
        from messaging.outbox.models import OutboxMessage, OutboxStatus

        family = GaugeMetricFamily(
            "relais_outbox_messages",
            "Outbox messages by status and channel",
            labels=["status", "channel"],
        )
        dead = GaugeMetricFamily(
            "relais_outbox_dead_letters",
            "Outbox messages given up on (a person must look), by channel",
            labels=["channel"],
        )
        try:
            rows = db.session.execute(
                select(OutboxMessage.status, OutboxMessage.channel, func.count()).group_by(
                    OutboxMessage.status, OutboxMessage.channel
                )
            ).all()
        except Exception:  # the database is down: /readyz says so; the rest still scrapes
            db.session.rollback()
            rows = []
        finally:
            db.session.rollback()
        dead_by_channel: dict[str, int] = {}
        for status, channel, count in rows:
            family.add_metric([str(status), str(channel)], count)
            if status == OutboxStatus.DEAD:
                dead_by_channel[str(channel)] = count
        for channel, count in dead_by_channel.items():
            dead.add_metric([channel], count)
        yield family
        yield dead


def exposition() -> bytes:
    """What one scrape reads: every process's samples, then the database gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    database = CollectorRegistry()
    database.register(OutboxCollector())
    return generate_latest(processes) + generate_latest(database)


def _authorised() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@bp.get("/metrics")
@limiter.exempt
def metrics():
    if not _authorised():
        return Response(
            "Send Authorization: Bearer <METRICS_TOKEN>.\n",
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)


# --- what the rest of the code reports ----------------------------------------------


def observe_webhook(outcome: str, seconds: float) -> None:
    """One Stripe webhook delivery answered: its outcome and how long it took."""
    WEBHOOK_EVENTS.labels(outcome).inc()
    WEBHOOK_SECONDS.observe(seconds)


def observe_job(job_id: str, outcome: str, seconds: float) -> None:
    JOB_RUNS.labels(job_id, outcome).inc()
    JOB_SECONDS.labels(job_id).observe(seconds)


def count_delivery(channel: str, outcome: str, queued_at=None, sent_at=None) -> None:
    """What became of one delivery attempt, by channel; for a sent row the time
    from queued to sent. Outcomes that were no attempt are not counted."""
    if outcome in ("not_mine", "postponed", "skipped"):
        return
    if outcome == "sent":
        OUTBOX_SENT.labels(channel).inc()
        if queued_at and sent_at:
            seconds = (sent_at - queued_at).total_seconds()
            OUTBOX_DELIVERY_SECONDS.labels(channel).observe(max(seconds, 0.0))
    else:
        OUTBOX_FAILURES.labels(channel, outcome).inc()


def count_delivery_of_row(message_id: int, outcome: str) -> None:
    """``count_delivery`` for a row whose times are read back (webhooks). A
    metric never breaks a delivery that happened."""
    from messaging.outbox.models import OutboxMessage

    if outcome in ("not_mine", "postponed", "skipped"):
        return
    try:
        row = db.session.execute(
            select(OutboxMessage.channel, OutboxMessage.created_at, OutboxMessage.sent_at).where(
                OutboxMessage.id == message_id
            )
        ).first()
        db.session.commit()
    except Exception:
        log.exception("outbox metrics not recorded for message %s", message_id)
        db.session.rollback()
        return
    if row is not None:
        count_delivery(str(row.channel), outcome, row.created_at, row.sent_at)


def stream_opened() -> None:
    LIVE_STREAMS.inc()


def stream_closed() -> None:
    LIVE_STREAMS.dec()


def _gift_written(donation, **_extra) -> None:
    """A gift row is in the session: counted when (and if) it commits."""
    session = object_session(donation)
    if session is not None:
        session.info.setdefault(GIFTS_COMMITTED, []).append(str(donation.kind))


@event.listens_for(Session, "after_commit")
def _gifts_committed(session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint: the transaction around it may still roll back
    for kind in session.info.pop(GIFTS_COMMITTED, ()):
        GIFTS_RECORDED.labels(kind).inc()


@event.listens_for(Session, "after_soft_rollback")
def _gifts_rolled_back(session, previous) -> None:
    if previous.parent is None:
        session.info.pop(GIFTS_COMMITTED, None)


# --- every request ------------------------------------------------------------------


def start_timer() -> None:
    g.relais_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.pop("relais_started", None)
    endpoint = request.endpoint or "none"
    if endpoint == "metrics.metrics":
        return response
    count_request(request.method, endpoint, response.status_code, started)
    return response


def count_request(method: str, endpoint: str, status: int, started: float | None) -> None:
    """One answered request (``started``: its ``time.perf_counter()``, if timed)."""
    HTTP_REQUESTS.labels(method, endpoint, str(status)).inc()
    if started is not None:
        HTTP_SECONDS.labels(endpoint).observe(time.perf_counter() - started)


def init_app(app: Flask) -> None:
    gift_recorded.connect(_gift_written)
    PROCESS_UP.set(1)
    app.before_request(start_timer)
    app.after_request(_count_request)
    app.register_blueprint(bp)
