"""Benchmark (not a test): page views while hundreds of live streams are open.

    eval "$(.ci/services)"                 # PostgreSQL on 127.0.0.1:54329
    .venv/bin/python bench/streams.py --streams 300 --views 300

One ``relais serve`` (1 worker, gthread, LIVE_MAX_STREAMS = --streams, so
--streams + 15 threads) on a fresh PostgreSQL database next to
BENCH_DATABASE_URL (or TEST_DATABASE_URL), dropped at the end. Page views of
the cause page (``/c/bench-cause``, 50 pages) one after the other on one
keep-alive connection, first with no stream open, then with --streams streams
open and waiting; prints p50/p99 of both, and what one more stream is told.
Only loopback traffic; every count is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from webhooks import (  # noqa: E402  (bench/webhooks.py: the same database helpers)
    base_url,
    create_database,
    drop_database,
    free_port,
    make_app,
    migrate_and_seed,
    percentile,
    stop,
)

from tests.streams_client import open_stream, status_of  # noqa: E402

MAX_STREAMS = 2000
MAX_VIEWS = 10_000


def views(port: int, count: int) -> list[float]:
    """Milliseconds of ``count`` cause-page views, one after the other."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", "/c/bench-cause", headers={"Accept-Language": "en"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"/c/bench-cause answered {response.status}")
        out.append((time.perf_counter() - started) * 1000)
    conn.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--views", type=int, default=300)
    args = parser.parse_args()
    if not (0 < args.streams <= MAX_STREAMS and 0 < args.views <= MAX_VIEWS):
        parser.error(f"--streams 1..{MAX_STREAMS}, --views 1..{MAX_VIEWS}")
    url = base_url()
    name = f"relais_bench_streams_{uuid.uuid4().hex[:8]}"
    db_url, _conninfo = create_database(url, name)
    instance = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    port = free_port()
    streams = []
    proc = None
    try:
        migrate_and_seed(make_app(db_url, instance), 50)
        env = {k: v for k, v in os.environ.items() if k not in ("RELAIS_ENV", "REDIS_URL")}
        env.update(
            DATABASE_URL=db_url,
            RELAIS_INSTANCE=str(instance),
            PORT=str(port),
            SMTP_URL="",
            LIVE_MAX_STREAMS=str(args.streams),
            LIVE_RATE_LIMIT="100000 per minute",  # every stream comes from 127.0.0.1
        )
        log = open(instance / "serve.log", "w")  # noqa: SIM115 - closed at exit
        command = [sys.executable, "-c", "from app import main; main()", "serve"]
        proc = subprocess.Popen(
            [*command, "--workers", "1"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                views(port, 1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"relais serve did not answer; see {log.name}") from None
                time.sleep(0.2)
        idle = views(port, args.views)
        started = time.perf_counter()
        for _ in range(args.streams):
            sock, seen = open_stream(port, "/api/v1/causes/bench-cause/stream")
            streams.append(sock)
            if status_of(seen) != 200:
                raise RuntimeError(f"stream {len(streams)} answered {seen[:200]!r}")
        opening = time.perf_counter() - started
        busy = views(port, args.views)
        extra, seen = open_stream(port, "/api/v1/causes/bench-cause/stream")
        extra.close()
        print(f"relais serve: 1 worker, gthread, {args.streams + 15} threads")
        print(f"{args.streams} streams opened in {opening:.1f} s (first message read on each)")
        for label, sample in (("no stream open", idle), (f"{args.streams} streams open", busy)):
            print(
                f"cause page, {label}: p50 {percentile(sample, 50):.1f} ms, "
                f"p99 {percentile(sample, 99):.1f} ms ({len(sample)} views)"
            )
        print(f"stream number {args.streams + 1}: HTTP {status_of(seen)}")
    finally:
        for sock in streams:
            sock.close()
        if proc is not None:
            stop(proc)
        drop_database(url, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
