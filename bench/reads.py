"""Benchmark (not a test): the public reads, in one run, as ratios.

    eval "$(.ci/services)"            # PostgreSQL on 127.0.0.1:54329, Redis on 63799
    .venv/bin/python bench/reads.py                 # all three parts
    .venv/bin/python bench/reads.py --part page     # or rank, or rebuild

Three parts, each on its own fresh PostgreSQL database next to
BENCH_DATABASE_URL (or TEST_DATABASE_URL), dropped at the end:

``page``     The demo's public cause page (totals, top 10 pages, events by city)
             served by ``gunicorn -w W -k gthread --threads T 'app:create_app()'``
             against a bare Flask app answering "ok" under the same gunicorn
             settings, C keep-alive connections (anonymous: no cookie) for D
             seconds each, one after the other, from wrk when it is installed
             (``apt-get install wrk``; ``--client python`` for Python threads).
             Prints requests/s of both and their ratio (goal >= 70 %), then
             the same page with the
             anonymous micro-cache off (PUBLIC_PAGE_CACHE_SECONDS=0).
``rank``     100,000 published pages with totals under one cause, on SQLite
             and on PostgreSQL; the rank of 1,000 random pages through
             ``campaigns.standings.leaderboards.rank_of`` from the SQL rank index
             (goal p99 < 5 ms), the page above each, the whole board ranked
             with RANK() OVER as before the index (50 calls, the same run's
             denominator, answers compared), and, when REDIS_URL is set, Redis
             sorted sets (goal: p99 < 2 ms with Redis).
``rebuild``  a ledger of N rows (default 1,000,000) written with
             ``generate_series``, then ``campaigns.totals.rebuild.rebuild()`` timed, as
             ``relais totals rebuild`` runs it (goal < 10 s), and the result
             checked against SQL sums.

Only loopback traffic; every count is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webhooks import (  # noqa: E402  (bench/webhooks.py: the same database helpers)
    base_url,
    create_database,
    drop_database,
    free_port,
    is_loopback,
    server_settings,
    stop,
)

MAX_PAGES = 1_000_000
MAX_ROWS = 10_000_000
BARE_APP = """
from flask import Flask

app = Flask(__name__)


@app.get("/")
def ok():
    return "ok"
"""


def make_app(db_url: str, instance: Path, **extra):
    """The app on ``db_url``; REDIS_URL only when ``extra`` names it."""
    os.environ["RELAIS_INSTANCE"] = str(instance)
    os.environ.pop("RELAIS_ENV", None)
    extra.setdefault("REDIS_URL", "")
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "SMTP_URL": "",
            **extra,
        }
    )


def migrate(app) -> None:
    import flask_migrate

    with app.app_context():
        flask_migrate.upgrade()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- part 1: the public cause page vs a bare Flask response ---------------------


def gunicorn(target: str, port: int, env: dict, cwd: Path, workers: int, threads: int, log):
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        *("-w", str(workers), "-k", "gthread", "--threads", str(threads)),
        *("-b", f"127.0.0.1:{port}", "--keep-alive", "30", "--log-level", "warning"),
        target,
    ]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)


def wait_for(port: int, path: str, proc) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return
            raise RuntimeError(f"GET {path} answered {response.status}")
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60 s")


def hammer(
    port: int, path: str, clients: int, seconds: float, headers: dict | None = None
) -> tuple[int, list[float]]:
    """``clients`` keep-alive connections GET ``path`` for ``seconds``;
    (requests, latencies in s). By wrk when it is installed (a C client: the
    load costs the 2 cores little), else by Python threads (``--client
    python`` forces them)."""
    sent = {"Accept-Language": "fr", **(headers or {})}
    if CLIENT == "wrk":
        return _wrk(port, path, clients, seconds, sent)
    stop_at = time.monotonic() + seconds
    counts, latencies, errors = [0] * clients, [[] for _ in range(clients)], []

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            conn.request("GET", path, headers=sent)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
                return
            latencies[n].append(time.perf_counter() - started)
            counts[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{path} answered {errors[:5]}")
    return sum(counts), [x for per in latencies for x in per]


# wrk's Lua hook: the latency percentiles (µs) and every status other than 200.
WRK_SCRIPT = """
local bad = 0
response = function(status, headers, body) if status ~= 200 then bad = bad + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("RELAIS %d %d %d %d %d\\n", summary.requests, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _wrk(port: int, path: str, clients: int, seconds: float, headers: dict):
    """wrk with one thread per core and ``clients`` connections; the latencies
    come back as the run's p50 and p99 (what the callers print)."""
    script = Path(tempfile.gettempdir()) / "relais_wrk.lua"
    script.write_text(WRK_SCRIPT)
    command = ["wrk", "-t", str(min(clients, 2)), "-c", str(clients), "-d", f"{seconds:g}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(script), f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RELAIS "))
    requests, bad, errors, p50, p99 = (int(x) for x in line.split()[1:])
    if bad or errors:
        raise RuntimeError(f"{path}: {bad} answers other than 200, {errors} socket errors")
    # Two samples stand for the distribution: percentile() of them gives p50 and p99.
    return requests, [p50 / 1e6] * 51 + [p99 / 1e6] * 49


CLIENT = "wrk" if shutil.which("wrk") else "python"


def part_page(args) -> dict:
    from campaigns.demo import seed as demo
    from campaigns.organisations.models import Cause
    from extensions import db

    name = f"relais_bench_page_{uuid.uuid4().hex[:8]}"
    url, _ = create_database(args.base, name)
    instance = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    try:
        app = make_app(url, instance)
        migrate(app)
        with app.app_context():
            demo.seed()
            slug = db.session.scalars(db.select(Cause.slug)).first()
            db.session.commit()  # services never commit: the seed is the caller's to keep
        env = {k: v for k, v in os.environ.items() if k not in ("RELAIS_ENV", "REDIS_URL")}
        env.update(DATABASE_URL=url, RELAIS_INSTANCE=str(instance), SMTP_URL="")
        (instance / "bare_app.py").write_text(BARE_APP)
        results = {}
        for label, target, path, cwd, extra in [
            ("bare", "bare_app:app", "/", instance, {}),
            ("cause", "app:create_app()", f"/c/{slug}", ROOT, {}),
            # The same page rendered for every request (the micro-cache off).
            (
                "uncached",
                "app:create_app()",
                f"/c/{slug}",
                ROOT,
                {"PUBLIC_PAGE_CACHE_SECONDS": "0"},
            ),
        ]:
            port = free_port()
            with open(instance / f"{label}.log", "w") as log:
                proc = gunicorn(
                    target, port, {**env, **extra}, cwd, args.workers, args.threads, log
                )
                try:
                    wait_for(port, path, proc)
                    hammer(port, path, args.clients, 2)  # warm-up: imports, caches, pools
                    n, latencies = hammer(port, path, args.clients, args.seconds)
                finally:
                    stop(proc)
            results[label] = {
                "rps": n / args.seconds,
                "p50_ms": 1000 * percentile(latencies, 0.5),
                "p99_ms": 1000 * percentile(latencies, 0.99),
            }
        ratio = results["cause"]["rps"] / results["bare"]["rps"]
        print(
            f"page: bare Flask {results['bare']['rps']:.0f} req/s "
            f"(p50 {results['bare']['p50_ms']:.1f} ms), cause page "
            f"{results['cause']['rps']:.0f} req/s (p50 {results['cause']['p50_ms']:.1f} ms, "
            f"p99 {results['cause']['p99_ms']:.1f} ms): ratio {100 * ratio:.1f} % (goal >= 70 %)"
        )
        uncached = results["uncached"]
        print(
            f"page: without the micro-cache (every request rendered) {uncached['rps']:.0f} req/s "
            f"(p50 {uncached['p50_ms']:.1f} ms, p99 {uncached['p99_ms']:.1f} ms): ratio "
            f"{100 * uncached['rps'] / results['bare']['rps']:.1f} %"
        )
        return {**results, "ratio": ratio}
    finally:
        drop_database(args.base, name)


# --- part 2: the rank of one page among 100,000 -------------------------------


def seed_pages(app, pages: int) -> list[int]:
    """One organisation and cause, ``pages`` published pages with page totals
    (raised in whole euros and donors spread by a fixed formula: many ties,
    the same figures on every backend), written in SQL, then the rank index
    built (rows written around the session: ``board_index.rebuild``)."""
    from sqlalchemy import text

    from agents.models import Agent
    from campaigns.organisations.models import Cause, CauseStatus, Organisation
    from campaigns.standings import board_index
    from extensions import db

    with app.app_context():
        org = Organisation(slug="bench", name="Bench", legal_name="Bench", currency="EUR")
        agent = Agent(email="bench@example.org", name="Bench", fs_uniquifier=uuid.uuid4().hex)
        db.session.add_all([org, agent])
        db.session.flush()
        cause = Cause(organisation=org, slug="bench", title="Bench", status=CauseStatus.PUBLISHED)
        db.session.add(cause)
        db.session.flush()
        params = {"cause": cause.id, "owner": agent.id, "n": pages}
        db.session.execute(
            text(
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n) "
                "INSERT INTO pages (cause_id, owner_id, kind, slug, title, story, goal_minor, "
                "city, venue, status, hidden_reason, search_text, created_at, updated_at, "
                "published_at) SELECT :cause, :owner, 'personal', 'p-' || n, 'Page ' || n, '', "
                "100000, '', '', 'published', '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP FROM g"
            ),
            params,
        )
        # Raised in whole euros, 0 to 4,999 (ties are common, as on a real board).
        db.session.execute(
            text(
                "INSERT INTO totals (scope, scope_id, slot, raised_minor, donation_count, "
                "donor_count) SELECT 'page', id, 0, ((id * 7919) % 5000) * 100, "
                "1 + (id * 7907) % 40, 1 + (id * 7901) % 30 "
                "FROM pages WHERE cause_id = :cause"
            ),
            {"cause": cause.id},
        )
        board_index.rebuild(cause.id)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return list(
            db.session.scalars(text("SELECT id FROM pages WHERE cause_id = :c"), {"c": cause.id})
        )


def time_calls(app, ids: list[int], call) -> tuple[list[float], dict]:
    """``call(page)`` for each page: (seconds per call, answers by page id)."""
    from campaigns.pages.models import Page
    from extensions import db

    samples, answers = [], {}
    with app.app_context():
        pages = [db.session.get(Page, i) for i in ids]
        for page in pages[:20]:  # warm-up
            call(page)
        for page in pages:
            started = time.perf_counter()
            answers[page.id] = call(page)
            samples.append(time.perf_counter() - started)
        db.session.rollback()
    return samples, answers


def rank_answer(page):
    from campaigns.standings import leaderboards

    entry = leaderboards.rank_of(page)
    return entry.rank if entry else None


def above_answer(page):
    from campaigns.standings import leaderboards

    entry = leaderboards.neighbour_above(page)
    return (entry.page_id, entry.rank) if entry else None


def window_rank(page):
    """The rank as before the index: the whole board ranked (RANK() OVER) to
    place one page; the denominator of the same run."""
    from sqlalchemy import select

    from campaigns.standings.boards import ranked_query
    from extensions import db

    ranked = ranked_query(page.cause_id, "pages")
    return db.session.execute(
        select(ranked.c.rank).where(ranked.c.page_id == page.id)
    ).scalar_one_or_none()


def summary(samples: list[float]) -> dict:
    return {
        "p50_ms": 1000 * percentile(samples, 0.5),
        "p99_ms": 1000 * percentile(samples, 0.99),
        "mean_ms": 1000 * statistics.fmean(samples),
    }


def show(label: str, pages: int, samples: list[float]) -> dict:
    out = summary(samples)
    print(
        f"rank ({label}, {pages:,} pages, {len(samples)} calls): p50 {out['p50_ms']:.2f} ms, "
        f"p99 {out['p99_ms']:.2f} ms, mean {out['mean_ms']:.2f} ms"
    )
    return out


def rank_backend(args, backend: str, url: str, instance: Path) -> dict:
    """SQL ranks on one backend: the index, and the whole-board window before it."""
    results = {}
    app = make_app(url, instance, REDIS_URL="")  # SQL ranks, whatever the environment
    migrate(app)
    started = time.perf_counter()
    ids = seed_pages(app, args.pages)
    print(f"rank ({backend}): seeded {len(ids):,} pages in {time.perf_counter() - started:.1f} s")
    rng = random.Random(7)
    sample = rng.sample(ids, min(1000, len(ids)))
    samples, answers = time_calls(app, sample, rank_answer)
    results["index"] = show(f"{backend}, index", len(ids), samples)
    samples, _ = time_calls(app, sample, above_answer)
    results["above"] = show(f"{backend}, index, page above", len(ids), samples)
    few = sample[: args.window_samples]
    samples, window = time_calls(app, few, window_rank)
    results["window"] = show(f"{backend}, whole board ranked (before)", len(ids), samples)
    wrong = sum(1 for k in few if window[k] != answers[k])
    speedup = results["window"]["p50_ms"] / results["index"]["p50_ms"]
    print(
        f"rank ({backend}): index p99 / 5 ms goal = {results['index']['p99_ms'] / 5:.2f}; "
        f"window p50 / index p50 = {speedup:.0f}x; "
        f"index and window {'agree' if not wrong else f'DISAGREE on {wrong}'} "
        f"on {len(few)} pages"
    )
    results.update(app=app, sample=sample, answers=answers, disagree=wrong)
    return results


def part_rank(args) -> dict:
    name = f"relais_bench_rank_{uuid.uuid4().hex[:8]}"
    url, _ = create_database(args.base, name)
    instance = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    results = {}
    try:
        sqlite_url = f"sqlite:///{instance / 'rank.sqlite'}"
        results["sqlite"] = rank_backend(args, "sqlite", sqlite_url, instance)
        results["postgresql"] = pg = rank_backend(args, "postgresql", url, instance)
        if results["sqlite"]["answers"] != pg["answers"]:
            print("rank: SQLite and PostgreSQL disagree", file=sys.stderr)
        redis_url = os.environ.get("REDIS_URL", "")
        if redis_url and is_loopback(redis_url.split("//", 1)[-1].split(":", 1)[0]):
            prefix = f"relais-bench-{uuid.uuid4().hex[:8]}:"
            redis_app = make_app(url, instance, REDIS_URL=redis_url, REDIS_PREFIX=prefix)
            try:
                from campaigns.organisations.models import Cause
                from campaigns.standings import ranks
                from extensions import db

                with redis_app.app_context():
                    started = time.perf_counter()
                    for cause_id in db.session.scalars(db.select(Cause.id)):
                        ranks.rebuild(cause_id)
                    print(f"rank: Redis sets built in {time.perf_counter() - started:.1f} s")
                samples, redis_answers = time_calls(redis_app, pg["sample"], rank_answer)
                results["redis"] = show("redis", args.pages, samples)
                if redis_answers != pg["answers"]:
                    wrong = sum(1 for k in pg["answers"] if pg["answers"][k] != redis_answers[k])
                    print(f"rank: Redis and SQL disagree on {wrong} pages", file=sys.stderr)
                print(
                    f"rank: SQL index p99 / Redis p99 = "
                    f"{pg['index']['p99_ms'] / results['redis']['p99_ms']:.1f}x"
                )
            finally:
                with redis_app.app_context():
                    r = ranks.client()
                    for key in r.scan_iter(f"{prefix}*"):
                        r.delete(key)
        else:
            print("rank: REDIS_URL is not set (or not loopback): Redis not measured")
        for backend in ("sqlite", "postgresql"):
            with results[backend].pop("app").app_context():
                from extensions import db

                db.engine.dispose()
            for key in ("sample", "answers"):
                results[backend].pop(key)
        return results
    finally:
        drop_database(args.base, name)


# --- part 3: totals rebuild on a 1,000,000-row ledger ---------------------------


def seed_ledger(app, rows: int) -> None:
    """Pages under 20 events, and ``rows`` ledger rows: gifts from ~rows/3 donors
    (keys are sha256 hex of an email, as ``ledger.donor_key_for`` makes them,
    and ids as ``donor_id_for`` makes them), one refund in 50, spread over
    pages, events, projects."""
    from sqlalchemy import text

    from agents.models import Agent
    from campaigns.giving.models import donor_id_sql
    from campaigns.organisations.models import Cause, CauseStatus, Organisation, Project
    from extensions import db

    with app.app_context():
        org = Organisation(slug="bench", name="Bench", legal_name="Bench", currency="EUR")
        agent = Agent(email="bench@example.org", name="Bench", fs_uniquifier=uuid.uuid4().hex)
        db.session.add_all([org, agent])
        db.session.flush()
        cause = Cause(organisation=org, slug="bench", title="Bench", status=CauseStatus.PUBLISHED)
        db.session.add(cause)
        db.session.flush()
        db.session.add_all(
            [Project(cause=cause, slug=f"p{n}", name=f"Project {n}") for n in range(3)]
        )
        db.session.flush()
        p = {"cause": cause.id, "owner": agent.id, "org": org.id, "rows": rows}
        db.session.execute(
            text(
                "INSERT INTO pages (cause_id, owner_id, kind, slug, title, story, goal_minor, "
                "city, venue, status, hidden_reason, created_at, updated_at) "
                "SELECT :cause, :owner, CASE WHEN g <= 20 THEN 'event' ELSE 'personal' END, "
                "'p-' || g, 'Page ' || g, '', 0, '', '', 'published', '', now(), now() "
                "FROM generate_series(1, 2000) g"
            ),
            p,
        )
        db.session.execute(
            text(
                "UPDATE pages SET parent_id = (SELECT min(id) FROM pages) + (id % 20) "
                "WHERE kind = 'personal' AND id % 2 = 0"
            )
        )
        db.session.execute(
            text(
                f"""
                INSERT INTO donations (kind, organisation_id, cause_id, project_id, page_id,
                    event_id, amount_minor, currency, donor_key, donor_id, donor_name,
                    donor_email, message, is_anonymous, is_unattributed, payment_method,
                    created_at)
                SELECT CASE WHEN g % 50 = 0 THEN 'refund' ELSE 'gift' END, :org, :cause,
                    CASE WHEN g % 4 = 0 THEN NULL
                         ELSE (SELECT min(id) FROM projects) + g % 3 END,
                    pg.id, pg.parent_id,
                    CASE WHEN g % 50 = 0 THEN -500 ELSE 1000 + (g % 7) * 500 END, 'EUR',
                    donor.key, {donor_id_sql("donor.key")}, '', '', '', false, false, 'card',
                    now() - (g % 1000) * interval '1 hour'
                FROM generate_series(1, :rows) g
                CROSS JOIN LATERAL (SELECT encode(sha256(convert_to(
                    'donor' || (g % (:rows / 3 + 1)) || '@example.org', 'UTF8')), 'hex') AS key
                ) donor
                JOIN pages pg ON pg.id = (SELECT min(id) FROM pages) + g % 2000
                """  # noqa: S608  (no input: the expression is the app's own)
            ),
            p,
        )
        db.session.execute(text("ANALYZE donations"))
        db.session.commit()


def part_rebuild(args) -> dict:
    from sqlalchemy import text

    name = f"relais_bench_rebuild_{uuid.uuid4().hex[:8]}"
    url, _ = create_database(args.base, name)
    instance = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    try:
        app = make_app(url, instance)
        migrate(app)
        started = time.perf_counter()
        seed_ledger(app, args.rows)
        print(f"rebuild: wrote {args.rows:,} ledger rows in {time.perf_counter() - started:.1f} s")
        from campaigns.totals.rebuild import rebuild
        from extensions import db

        with app.app_context():
            # The denominator, in the same run: one GROUP BY pass over the ledger.
            started = time.perf_counter()
            db.session.execute(
                text("SELECT page_id, sum(amount_minor), count(*) FROM donations GROUP BY page_id")
            ).all()
            db.session.commit()
            one_pass = time.perf_counter() - started
            started = time.perf_counter()
            scopes = rebuild()
            db.session.commit()
            seconds = time.perf_counter() - started
            want = db.session.execute(
                text(
                    "SELECT sum(amount_minor), count(*) FILTER (WHERE kind = 'gift'), "
                    "count(DISTINCT donor_key) FILTER (WHERE kind = 'gift') FROM donations"
                )
            ).one()
            got = db.session.execute(
                text(
                    "SELECT sum(raised_minor), sum(donation_count), sum(donor_count) "
                    "FROM totals WHERE scope = 'organisation'"
                )
            ).one()
        exact = tuple(want) == tuple(got)
        print(
            f"rebuild: {args.rows:,} rows -> {scopes:,} scopes in {seconds:.1f} s "
            f"(goal < 10 s); one GROUP BY pass over the ledger {one_pass:.2f} s: "
            f"rebuild = {seconds / one_pass:.1f}x (goal <= 2x); organisation total "
            f"{'equals' if exact else 'DIFFERS FROM'} the ledger ({got[0]} / {want[0]})"
        )
        if not exact:
            sys.exit(1)
        return {"seconds": seconds, "scopes": scopes, "one_pass": one_pass}
    finally:
        drop_database(args.base, name)


def main() -> None:
    global CLIENT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["page", "rank", "rebuild", "all"], default="all")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10, help="load duration per app")
    parser.add_argument(
        "--client", choices=["wrk", "python"], default=CLIENT, help="the HTTP load's client"
    )
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--window-samples", type=int, default=50, help="calls of the whole-board ranking"
    )
    args = parser.parse_args()
    CLIENT = args.client
    if not 0 < args.pages <= MAX_PAGES or not 0 < args.rows <= MAX_ROWS:
        sys.exit(f"--pages <= {MAX_PAGES:,} and --rows <= {MAX_ROWS:,}")
    if not 0 < args.clients <= 64 or not 0 < args.seconds <= 120:
        sys.exit("--clients <= 64 and --seconds <= 120")
    args.base = base_url()
    print(f"HTTP client: {CLIENT}")
    print(f"PostgreSQL {server_settings(args.base.replace('+psycopg', '')).get('server_version')}")
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    parts = ["page", "rank", "rebuild"] if args.part == "all" else [args.part]
    for part in parts:
        {"page": part_page, "rank": part_rank, "rebuild": part_rebuild}[part](args)


if __name__ == "__main__":
    main()
