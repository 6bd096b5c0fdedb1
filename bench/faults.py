"""Benchmark (not a test): faults under the night's load, against the two-node set.

    .venv/bin/python bench/faults.py --quick               # every fault, short outages
    .venv/bin/python bench/faults.py --only pg,redis        # some of them

The set of bench/night.py (its own PostgreSQL cluster, redis-server and SMTP
server: nothing shared is stopped), seeded the same way, with live streams
open and a steady mix of page views, API reads and signed webhooks. Then,
one after the other, each under that load:

``pg``         PostgreSQL stopped (``pg_ctl stop -m fast``) and started again;
               webhooks must answer 5xx meanwhile and never 200 without the
               gift in the ledger; the events are replayed afterwards.
``redis``      redis-server killed and started again: no 500 meanwhile; then
               the Redis leaderboard equals SQL's and a gift recorded by node A
               reaches a stream held on node B.
``smtp``       the SMTP server stopped for minutes: nothing lost once it is back.
``web``        ``kill -9`` of web node A (gunicorn and its workers), started again.
``worker``     ``kill -9`` of worker A while it holds a batch (the SMTP server
               made slow): the batch is sent by others within one lease.
``scheduler``  ``kill -9`` of the leading scheduler: how long until the other
               leads; every gift still gets exactly one receipt mail.

After each: gifts never answered 200 are delivered again (as Stripe does), the
totals must be exact (``relais totals check``, ledger = gifts sent = the cause's
API total = what the streams last showed) and every mail delivered. Exit 1 if
anything is not. Only loopback traffic; every count is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nightcheck import check_mail, check_totals
from nightload import Clients, Streams, Traffic, pace
from nightset import CAUSE, PASSWORD, WEBHOOK_SECRET, NightSet, seed
from sqlalchemy import func, select

FAULTS = ("pg", "redis", "smtp", "web", "worker", "scheduler")
LOAD = {"webhook": 2, "anonymous": 4, "agent": 1.5, "api": 2}


def under_load(clients: Clients, seconds: float, at: float, action) -> tuple[dict, object]:
    """The steady load for ``seconds``; ``action()`` run ``at`` seconds in."""
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(pace(clients, LOAD, seconds)))
    runner.start()
    time.sleep(at)
    done = action()
    runner.join()
    return result, done


def statuses(result: dict) -> str:
    return "; ".join(f"{kind} {result[kind]['statuses']}" for kind in LOAD)


def unrecorded_200s(night: NightSet, traffic: Traffic) -> int:
    """Gifts answered 200 whose Checkout Session is not in the ledger (must be 0)."""
    from campaigns.giving.models import Donation
    from extensions import db

    with traffic.lock:
        answered = {
            json.loads(g.body)["data"]["object"]["id"] for g in traffic.gifts if 200 in g.answers
        }
    with night.app.app_context():
        ledger = set(db.session.scalars(select(Donation.stripe_checkout_session_id)))
        db.session.rollback()
    return len(answered - ledger)


def readiness(night: NightSet) -> dict:
    with urllib.request.urlopen(f"{night.url}/readyz", timeout=30) as answer:  # noqa: S310
        return json.load(answer)


def leader_pid(night: NightSet) -> int | None:
    """The pid of the scheduler holding the lock now (fresh heartbeat), if any."""
    from campaigns.model_types import utcnow
    from campaigns.runtime.heartbeats import FRESH, Heartbeat
    from extensions import db

    with night.app.app_context():
        rows = db.session.execute(
            select(Heartbeat.name, Heartbeat.seen_at).where(
                Heartbeat.kind == "scheduler", Heartbeat.is_leader
            )
        ).all()
        db.session.rollback()
    now = utcnow()
    fresh = [r for r in rows if now - r.seen_at <= FRESH / 6]
    return int(max(fresh, key=lambda r: r.seen_at).name.rsplit(":", 1)[1]) if fresh else None


# --- the faults ------------------------------------------------------------------


def fault_pg(night, traffic, clients, down: float) -> list[str]:
    def outage():
        night.services.postgres.stop()
        time.sleep(down)
        night.services.postgres.start()

    result, _ = under_load(clients, down + 30, 8, outage)
    missing = unrecorded_200s(night, traffic)
    answered = [g for g in traffic.gifts if g.answers]
    failed = sum(1 for g in answered if not g.recorded)
    print(f"pg: stopped {down:.0f} s under load; {statuses(result)}")
    print(
        f"pg: {failed} gifts answered only 5xx/0 before the replay; 200 without the gift: {missing}"
    )
    problems = [f"{missing} webhooks answered 200 without their gift"] if missing else []
    return problems + processes_settle(night)


def processes_settle(night: NightSet, wait: float = 60) -> list[str]:
    """Every process of the set still running; two schedulers (one leading) and
    two workers alive, as /readyz shows."""
    exited = [night.nodes.roles[p.pid] for p in night.nodes.processes if p.poll() is not None]
    if exited:
        return [f"exited during the fault: {', '.join(exited)}"]
    deadline = time.monotonic() + wait
    while True:
        try:
            processes = readiness(night)["processes"]
            leaders = [
                p for p in processes["scheduler"]["processes"] if p["alive"] and p["is_leader"]
            ]
            if processes["worker"]["alive"] >= 2 and len(leaders) == 1:
                return []
        except (OSError, KeyError, ValueError):
            processes = None
        if time.monotonic() > deadline:
            return [f"processes after the fault: {processes}"]
        time.sleep(1)


def fault_redis(night, traffic, clients, down: float) -> list[str]:
    def outage():
        night.services.redis.kill()
        time.sleep(down)
        night.services.redis.start()

    result, _ = under_load(clients, down + 20, 8, outage)
    errors = sum(n for k in LOAD for s, n in result[k]["statuses"].items() if s >= 500 or s == 0)
    print(f"redis: killed {down:.0f} s under load; {statuses(result)}")
    problems = [f"{errors} answers were 5xx or failed while Redis was down"] if errors else []
    time.sleep(3)
    problems += same_boards(night)
    problems += crosses_nodes(night, traffic)
    return problems


def same_boards(night: NightSet) -> list[str]:
    from campaigns.organisations.models import Cause
    from campaigns.standings import leaderboards
    from extensions import db

    url = f"{night.url}/api/v1/causes/{CAUSE}/leaderboard?board=pages&limit=100"
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - loopback
        redis_board = [(e["rank"], e["slug"]) for e in json.load(answer)["entries"]]
    with night.app.app_context():
        cause = db.session.scalar(select(Cause).where(Cause.slug == CAUSE))
        sql_board = [(e.rank, e.slug) for e in leaderboards.public_board(cause.id, limit=100)]
        db.session.rollback()
    same = sorted(redis_board) == sorted(sql_board)
    print(f"redis: the leaderboard through the nodes (Redis) equals SQL's top 100: {same}")
    return [] if same else ["the Redis leaderboard differs from SQL's after Redis came back"]


def crosses_nodes(night: NightSet, traffic: Traffic) -> list[str]:
    """A gift posted to node A reaches a stream held on node B directly."""
    node_b = urlsplit(night.nodes_urls[1])
    stream = Streams(node_b.hostname, node_b.port, f"/api/v1/causes/{CAUSE}/stream")
    try:
        stream.open(1)
        direct = Traffic(night.nodes_urls[0], WEBHOOK_SECRET, traffic.pages, traffic.events, CAUSE)
        direct.gifts = traffic.gifts  # counted with the others
        direct.lock = traffic.lock
        one = Clients(direct, 1)
        pace(one, {"webhook": 1}, 1)
        one.close()
        _count, total = traffic.sent_total()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and set(stream.totals_seen()) != {total}:
            time.sleep(0.2)
        crossed = set(stream.totals_seen()) == {total}
    finally:
        stream.close()
    print(f"redis: a gift posted to node A reached a stream on node B: {crossed}")
    return [] if crossed else ["live updates do not cross nodes after Redis came back"]


def fault_smtp(night, traffic, clients, down: float) -> list[str]:
    def outage():
        night.smtp.stop()
        time.sleep(down)
        night.smtp.start()

    result, _ = under_load(clients, down + 15, 5, outage)
    print(f"smtp: stopped {down:.0f} s under load; {statuses(result)}")
    return []


def fault_web(night, traffic, clients, down: float) -> list[str]:
    def outage():
        night.nodes.kill("web-a")
        time.sleep(down)
        night.nodes.relaunch("web-a")

    result, _ = under_load(clients, down + 30, 8, outage)
    print(f"web: kill -9 of node A, {down:.0f} s down, started again; {statuses(result)}")
    return []


def fault_worker(night, traffic, clients, lease: float) -> list[str]:
    from extensions import db
    from messaging.outbox.models import OutboxMessage

    pid = night.nodes.process("worker-a").pid
    night.smtp.delay = 0.2  # a batch takes seconds to send: room to die in the middle
    held = 0

    def in_flight() -> int:
        with night.app.app_context():
            count = db.session.scalar(
                select(func.count()).where(
                    OutboxMessage.status == "in_flight",
                    OutboxMessage.claimed_by.like(f"%:{pid}:%"),
                )
            )
            db.session.rollback()
        return count

    def kill_mid_batch():
        nonlocal held
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            held = in_flight()
            if held >= 3:
                night.nodes.kill("worker-a")
                killed = time.perf_counter()
                while in_flight() and time.perf_counter() < killed + lease * 3:
                    time.sleep(0.5)
                return time.perf_counter() - killed
            time.sleep(0.2)
        return None

    result, back_in = under_load(clients, lease + 60, 1, kill_mid_batch)
    night.smtp.delay = 0.0
    if back_in is None:
        return ["worker A never held a batch to be killed in"]
    night.nodes.relaunch("worker-a")
    print(
        f"worker: kill -9 of worker A holding {held} mails in flight; its batch was taken "
        f"back {back_in:.0f} s later (lease {lease:.0f} s); {statuses(result)}"
    )
    return [] if back_in <= lease * 2 else [f"the dead worker's batch waited {back_in:.0f} s"]


def fault_scheduler(night, traffic, clients, wait: float) -> list[str]:
    roles = {night.nodes.process(r).pid: r for r in ("scheduler-a", "scheduler-b")}
    before = leader_pid(night)
    if before not in roles:
        return [f"no leading scheduler among {roles} (heartbeat says {before})"]
    took = {}

    def kill_leader():
        night.nodes.kill(roles[before])
        killed = time.perf_counter()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            now = leader_pid(night)
            if now is not None and now != before:
                took["seconds"] = time.perf_counter() - killed
                return now
            time.sleep(0.2)
        return None

    result, after = under_load(clients, wait + 10, 8, kill_leader)
    night.nodes.relaunch(roles[before])
    print(
        f"scheduler: kill -9 of the leader ({roles[before]}); "
        + (f"{roles.get(after)} leads {took['seconds']:.1f} s later" if after else "nobody leads")
        + f"; {statuses(result)}"
    )
    return [] if after else [f"no scheduler led within {wait:.0f} s of the leader's death"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short outages (SMTP: 60 s)")
    parser.add_argument("--only", default=",".join(FAULTS), help=f"some of {','.join(FAULTS)}")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the set's folder and logs")
    args = parser.parse_args()
    chosen = [f.strip() for f in args.only.split(",") if f.strip()]
    if not chosen or set(chosen) - set(FAULTS) or not 0 <= args.streams <= 500:
        parser.error(f"--only takes {','.join(FAULTS)}; --streams 0…500")
    down = {"pg": 15, "redis": 15, "smtp": 60, "web": 10, "worker": 30, "scheduler": 60}
    if not args.quick:
        down.update(pg=30, redis=30, smtp=180)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start")
    night = NightSet(env={"OUTBOX_LEASE_SECONDS": str(down["worker"])}).start()
    clients = streams = None
    failures = {}
    try:
        names = seed(night.app)
        traffic = Traffic(night.url, WEBHOOK_SECRET, names["pages"], names["events"], CAUSE)
        traffic.sign_in(10, names["emails"], PASSWORD)
        streams = Streams(traffic.host, traffic.port, f"/api/v1/causes/{CAUSE}/stream")
        opened, took = streams.open(args.streams)
        print(f"streams: {opened} open through nginx in {took:.1f} s")
        clients = Clients(traffic, 32)
        print(f"steady load: {LOAD} per second")
        for name in chosen:
            started = time.perf_counter()
            problems = globals()[f"fault_{name}"](night, traffic, clients, down[name])
            if name != "pg":  # the PostgreSQL fault checks the processes itself
                problems += processes_settle(night)
            problems += check_totals(night, traffic, clients, streams)
            problems += check_mail(night, traffic, wait=down["worker"] + 120)
            verdict = "exact" if not problems else "NOT EXACT: " + "; ".join(problems)
            print(f"{name}: {verdict} ({time.perf_counter() - started:.0f} s)\n", flush=True)
            if problems:
                failures[name] = problems
        print(f"machine load at the end: {os.getloadavg()[0]:.1f}")
        return 1 if failures else 0
    finally:
        if clients is not None:
            clients.close()
        if streams is not None:
            streams.close()
        night.close(keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
