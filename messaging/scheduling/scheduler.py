"""Every periodic job in one list, each with a fixed id (APScheduler 3).

APScheduler 3 cannot share a job store between processes, so exactly one
process runs these: ``relais demo`` in-process, or one ``relais scheduler``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: str  # "module:function", imported when the job runs
    seconds: int


JOBS = [
    Job("close-ended-causes", "campaigns.organisations.jobs:close_ended_causes", seconds=300),
    Job("issue-receipts", "campaigns.giving.jobs:issue_receipts", seconds=20),
    Job("deliver-outbox", "messaging.outbox.delivery:deliver_due", seconds=10),
    Job("reconcile-stripe", "campaigns.giving.jobs:reconcile_stripe", seconds=900),
    Job("expire-pending-gifts", "campaigns.giving.jobs:expire_pending_gifts", seconds=900),
    Job("purge-donor-addresses", "campaigns.donors.jobs:purge_donor_addresses", seconds=86400),
    Job("record-fees", "campaigns.giving.jobs:record_fees", seconds=300),
    Job("match-statements", "campaigns.matching.jobs:send_match_statements", seconds=300),
    Job("expand-broadcasts", "messaging.broadcasts.jobs:expand_due_job", seconds=30),
    Job("gift-digest", "messaging.automatic.jobs:gift_digest", seconds=300),
    Job("rank-snapshots", "messaging.automatic.jobs:rank_snapshots", seconds=300),
    Job("daily-digest", "messaging.automatic.jobs:daily_digest", seconds=3600),
    Job("nudges", "messaging.automatic.jobs:nudges", seconds=3600),
]


def _resolve(path: str) -> Callable[[], object]:
    module, name = path.split(":")
    return getattr(import_module(module), name)


def run_job(app: Flask, job: Job) -> None:
    """Run one job in an app context as one unit of work (a writer; committed,
    or rolled back and logged with its traceback); every run is logged with its
    duration."""
    from campaigns.runtime import metrics
    from campaigns.unit_of_work import run_transaction

    started = time.monotonic()
    with app.app_context():
        try:
            run_transaction(_resolve(job.func))
        except Exception:
            seconds = round(time.monotonic() - started, 3)
            log.exception(
                "job %s failed after %.3f s",
                job.id,
                seconds,
                extra={"job_id": job.id, "duration_seconds": seconds},
            )
            metrics.observe_job(job.id, "failed", seconds)
        else:
            seconds = round(time.monotonic() - started, 3)
            log.info(
                "job %s ran in %.3f s",
                job.id,
                seconds,
                extra={"job_id": job.id, "duration_seconds": seconds},
            )
            metrics.observe_job(job.id, "ok", seconds)


def build_scheduler(app: Flask, *, blocking: bool = False) -> BackgroundScheduler:
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    for job in JOBS:
        scheduler.add_job(
            run_job,
            "interval",
            seconds=job.seconds,
            args=[app, job],
            id=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
    return scheduler
