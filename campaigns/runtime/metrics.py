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
import os
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
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
from sqlalchemy import func, select

from extensions import db, limiter

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
GIFTS_RECORDED = Counter("relais_gifts_recorded_total", "Gifts written to the ledger")
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
JOB_RUNS = Counter("relais_job_runs_total", "Scheduled job runs", ["job", "outcome"])
JOB_SECONDS = Histogram(
    "relais_job_seconds", "Scheduled job durations", ["job"], buckets=(*LATENCY_BUCKETS, 30, 60)
)


class OutboxCollector:
    """The outbox's depth by status and channel, read from the database."""

    def collect(self):
        from messaging.outbox.models import OutboxMessage

        family = GaugeMetricFamily(
            "relais_outbox_messages",
            "Outbox messages by status and channel",
            labels=["status", "channel"],
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
        for status, channel, count in rows:
            family.add_metric([str(status), str(channel)], count)
        yield family


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


def _start_timer() -> None:
    g.relais_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.pop("relais_started", None)
    endpoint = request.endpoint or "none"
    if endpoint == "metrics.metrics":
        return response
    HTTP_REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    if started is not None:
        HTTP_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_count_request)
    app.register_blueprint(bp)
