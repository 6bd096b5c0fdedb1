"""Benchmark (not a test): a Twestival night against the two-node set.

    .venv/bin/python bench/night.py --quick     # a few minutes: 100 streams, 3 steps of 20 s
    .venv/bin/python bench/night.py             # 500 streams, 5 steps of 60 s

Starts deploy/twonode/twonode.py's set on its own PostgreSQL cluster and
redis-server (nginx, two ``relais serve`` nodes, two workers, two schedulers)
with a loopback SMTP server, seeds one cause with 202 events and 2,000 agents
(a page each), signs some agents in through the login form, opens the live
streams through nginx, then drives a mix at rising rates, step by step:

- anonymous page views (cause page, leaderboard, pages and events; no cookie),
- signed-in agents (their page, their account page),
- API reads (the cause, its leaderboard, a page),
- signed ``checkout.session.completed`` webhooks (10 % are Stripe sending an
  event again).

For each step it prints the achieved gifts/s, page views/s and API reads/s
with p50/p99 and the statuses. Afterwards: gifts that never got a 200 are
delivered again (as Stripe would), then ``relais totals check`` must pass,
the ledger must hold exactly the gifts sent (count and sum), the cause's API
total must equal that sum, every open stream must have been sent that total,
and the outbox must have delivered every receipt to the SMTP server. Exit 1
otherwise. Only loopback traffic; every count is bounded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nightcheck import check_mail, check_totals
from nightload import Clients, Streams, Traffic, pace
from nightset import CAUSE, PASSWORD, WEBHOOK_SECRET, NightSet, seed

# (gifts/s, page views/s, API reads/s), doubling until the two shared cores give up.
FULL_STEPS = [(2, 8, 4), (4, 16, 8), (8, 32, 16), (16, 64, 32), (32, 128, 64)]
QUICK_STEPS = [(2, 8, 4), (4, 16, 8), (8, 32, 16)]
MAX_STREAMS = 1000
MAX_RATE = 2000


def plan(args) -> list[tuple[float, float, float]]:
    if args.steps:
        steps = [tuple(float(x) for x in step.split(",")) for step in args.steps.split(";")]
    else:
        steps = QUICK_STEPS if args.quick else FULL_STEPS
    for step in steps:
        if len(step) != 3 or not all(0 <= x <= MAX_RATE for x in step):
            raise SystemExit(f"a step is gifts/s,views/s,api/s each 0…{MAX_RATE}: {step}")
    return steps


def step_line(number: int, target, result: dict) -> str:
    gifts, views, api = target
    hook, anon, agent, reads = (result[k] for k in ("webhook", "anonymous", "agent", "api"))
    page_views = anon["count"] + agent["count"]
    seconds = result["seconds"]
    return (
        f"step {number} (target {gifts:g} gifts/s, {views:g} views/s, {api:g} API/s): "
        f"gifts {hook['rate']:.1f}/s p50 {hook['p50']:.0f} ms p99 {hook['p99']:.0f} ms "
        f"{hook['statuses']} | page views {page_views / seconds:.1f}/s "
        f"(anonymous p50 {anon['p50']:.0f} p99 {anon['p99']:.0f} ms {anon['statuses']}; "
        f"signed in p50 {agent['p50']:.0f} p99 {agent['p99']:.0f} ms {agent['statuses']}) | "
        f"API {reads['rate']:.1f}/s p50 {reads['p50']:.0f} p99 {reads['p99']:.0f} ms "
        f"{reads['statuses']} | backlog {result['backlog']}"
    )


def drive(night: NightSet, traffic: Traffic, clients: Clients, steps, seconds: float) -> list:
    results = []
    for number, target in enumerate(steps, 1):
        gifts, views, api = target
        rates = {"webhook": gifts, "anonymous": views * 0.75, "agent": views * 0.25, "api": api}
        load = os.getloadavg()[0]
        result = pace(clients, rates, seconds)
        results.append((target, result))
        print(step_line(number, target, result) + f" | load before {load:.1f}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 streams, 3 steps of 20 s")
    parser.add_argument("--streams", type=int, help="live streams held open (500; quick 100)")
    parser.add_argument("--seconds", type=float, help="length of each step (60; quick 20)")
    parser.add_argument("--steps", help='"gifts,views,api;…" per second, e.g. "5,20,10;10,40,20"')
    parser.add_argument("--agents-signed-in", type=int, default=40)
    parser.add_argument("--clients", type=int, default=48, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per node")
    parser.add_argument("--keep", action="store_true", help="keep the set's folder and logs")
    args = parser.parse_args()
    streams_wanted = args.streams if args.streams is not None else (100 if args.quick else 500)
    seconds = args.seconds or (20 if args.quick else 60)
    if not 0 <= streams_wanted <= MAX_STREAMS or not 1 <= args.clients <= 256:
        parser.error(f"--streams 0…{MAX_STREAMS}, --clients 1…256")
    steps = plan(args)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start")
    night = NightSet(workers=args.workers).start()
    streams = None
    clients = None
    try:
        names = seed(night.app)
        traffic = Traffic(night.url, WEBHOOK_SECRET, names["pages"], names["events"], CAUSE)
        t0 = time.perf_counter()
        traffic.sign_in(args.agents_signed_in, names["emails"], PASSWORD)
        print(f"signed in {args.agents_signed_in} agents in {time.perf_counter() - t0:.1f} s")
        if streams_wanted:
            host, port = traffic.host, traffic.port
            streams = Streams(host, port, f"/api/v1/causes/{CAUSE}/stream")
            opened, took = streams.open(streams_wanted)
            print(
                f"streams: {opened} of {streams_wanted} open through nginx in {took:.1f} s "
                f"({streams.refused} refused)"
            )
        clients = Clients(traffic, args.clients)
        drive(night, traffic, clients, steps, seconds)
        problems = check_totals(night, traffic, clients, streams)
        problems += check_mail(night, traffic, wait=180)
        print(f"machine load at the end: {os.getloadavg()[0]:.1f}")
        if problems:
            print("NOT EXACT:")
            for problem in problems:
                print(f"  - {problem}")
            return 1
        print("exact: ledger, totals, API, streams and mail")
        return 0
    finally:
        if clients is not None:
            clients.close()
        if streams is not None:
            streams.close()
        night.close(keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
