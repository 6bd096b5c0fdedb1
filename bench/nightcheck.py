"""What must be exact after a night or a fault: the money and the mail."""

from __future__ import annotations

import json
import time
import urllib.request

from nightload import Clients, Streams, Traffic, replay_failed
from nightset import CAUSE, NightSet
from sqlalchemy import func, select

WAITING = ("queued", "in_flight", "failed")


def check_totals(
    night: NightSet, traffic: Traffic, clients: Clients, streams: Streams | None
) -> list[str]:
    """Gifts never answered 200 delivered again (as Stripe does), then: ``relais
    totals check`` passes, the ledger holds exactly the gifts sent, the cause's
    API total and every open stream show their sum. A list of what is not so."""
    from campaigns.giving.models import Donation
    from extensions import db

    problems = []
    left = replay_failed(clients)
    if left:
        problems.append(f"{left} gifts never answered 200 after replays")
    count, total = traffic.sent_total()
    checked = night.relais("totals", "check")
    if checked.returncode != 0:
        problems.append(f"relais totals check: {checked.stdout.strip()} {checked.stderr.strip()}")
    with night.app.app_context():
        rows, ledger = db.session.execute(
            select(func.count(), func.coalesce(func.sum(Donation.amount_minor), 0))
        ).one()
        db.session.rollback()
    if (rows, ledger) != (count, total):
        problems.append(f"ledger {rows} rows = {ledger}; sent {count} gifts = {total}")
    url = f"{night.url}/api/v1/causes/{CAUSE}"
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - loopback
        shown = json.load(answer)["raised"]["amount_minor"]
    if shown != total:
        problems.append(f"the cause's API total {shown} != {total} sent")
    line = (
        f"totals: {count} gifts sent = {total} minor units; ledger {rows} rows = {ledger}; "
        f"cause API {shown}; relais totals check exit {checked.returncode}"
    )
    if streams is not None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and set(streams.totals_seen()) != {total}:
            time.sleep(0.5)
        seen = streams.totals_seen()
        if set(seen) != {total}:
            problems.append(f"streams' last totals {dict(seen.most_common(3))} != {total}")
        line += f"; {sum(seen.values())} open streams last sent {dict(seen.most_common(2))}"
    print(line, flush=True)
    return problems


def mail_state(night: NightSet) -> tuple[dict, int, set[str]]:
    """Email rows by status, receipt mails queued, Message-IDs of the sent ones."""
    from extensions import db
    from messaging.outbox.models import OutboxMessage

    email = OutboxMessage.channel == "email"
    with night.app.app_context():
        by_status = dict(
            db.session.execute(
                select(OutboxMessage.status, func.count())
                .where(email)
                .group_by(OutboxMessage.status)
            ).all()
        )
        receipts = db.session.scalar(
            select(func.count()).where(email, OutboxMessage.dedupe_key.like("receipt:%"))
        )
        sent = set(
            db.session.scalars(
                select(OutboxMessage.message_id).where(email, OutboxMessage.status == "sent")
            )
        )
        db.session.rollback()
    return {str(k): v for k, v in by_status.items()}, receipts, sent


def check_mail(night: NightSet, traffic: Traffic, wait: float) -> list[str]:
    """Wait up to ``wait`` s for a receipt per gift and an outbox with nothing
    due; then every sent mail must have reached the SMTP server (its
    Message-ID), and nothing may be dead. Prints what it found."""
    gifts, _total = traffic.sent_total()
    deadline = time.monotonic() + wait
    started = time.monotonic()
    while True:
        by_status, receipts, sent = mail_state(night)
        waiting = sum(by_status.get(s, 0) for s in WAITING)
        if (receipts >= gifts and not waiting) or time.monotonic() > deadline:
            break
        time.sleep(1)
    received, distinct, doubled = night.smtp.counts()
    with night.smtp.lock:
        arrived = set(night.smtp.ids)
    lost = sent - arrived
    print(
        f"mail: {receipts} receipts queued for {gifts} gifts; email outbox {by_status}; "
        f"SMTP received {received} messages, {distinct} Message-IDs, {doubled} more than "
        f"once; sent but never received: {len(lost)} (settled in "
        f"{time.monotonic() - started:.0f} s)",
        flush=True,
    )
    problems = []
    if receipts < gifts:
        problems.append(f"{receipts} receipt mails for {gifts} gifts")
    if any(by_status.get(s) for s in (*WAITING, "dead")):
        problems.append(f"outbox not delivered: {by_status}")
    if lost:
        problems.append(f"{len(lost)} mails marked sent never reached the SMTP server")
    return problems
