"""Benchmark (not a test): Stripe webhooks under gunicorn on PostgreSQL, against
the database's raw committed single-row insert rate, in one run.

    eval "$(.ci/services)"            # PostgreSQL on 127.0.0.1:54329
    .venv/bin/python bench/webhooks.py --n 2000 --clients 16

It creates a fresh database next to BENCH_DATABASE_URL (or TEST_DATABASE_URL),
migrates it, seeds one organisation and cause with ~200 pages, starts
``gunicorn -w 4 -k gthread --threads 4 'app:create_app()'`` on a free loopback
port, posts N signed ``checkout.session.completed`` events (25 % of them
re-deliveries: the same event again, or the same Checkout Session under a new
event id) from C keep-alive clients, then measures C clients each doing
``INSERT`` + ``COMMIT`` of one row into a scratch table. It prints gifts/s,
raw inserts/s, their ratio and the p50/p99 latency, and checks the ledger: one
row per paid session, nothing dropped, ``totals.drift() == []``. Exit 1 when
the money is not exact or a request failed. Only loopback traffic; every count
is bounded; the database is dropped at the end (``--keep-db`` keeps it).
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import stripe  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

WEBHOOK_SECRET = "whsec_bench_" + secrets.token_hex(16)
MAX_N = 100_000
MAX_CLIENTS = 128
GOAL = 0.30


# --- database ---------------------------------------------------------------


def base_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url:
        sys.exit(
            "Set BENCH_DATABASE_URL or TEST_DATABASE_URL to a PostgreSQL server "
            '(eval "$(.ci/services)" starts one on 127.0.0.1:54329).'
        )
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (a postgresql:// URL).")
    if not is_loopback(parsed.host or "localhost"):
        sys.exit(f"The benchmark only talks to loopback; {parsed.host} is not.")
    return url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def admin_connect(url: str) -> psycopg.Connection:
    u = make_url(url)
    return psycopg.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        dbname=u.database or "postgres",
        autocommit=True,
    )


def create_database(url: str, name: str) -> tuple[str, str]:
    """A new empty database; returns (plain postgresql:// URL, psycopg conninfo)."""
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    u = make_url(url).set(drivername="postgresql", database=name)
    plain = u.render_as_string(hide_password=False)
    return plain, plain


def drop_database(url: str, name: str) -> None:
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_settings(conninfo: str) -> dict[str, str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'full_page_writes', 'max_connections', "
            "'server_version', 'shared_buffers')"
        ).fetchall()
    return dict(rows)


# --- the app: migrate, seed, verify (in this process) --------------------------


def make_app(db_url: str, instance: Path):
    os.environ["RELAIS_INSTANCE"] = str(instance)
    os.environ.pop("RELAIS_ENV", None)
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "SMTP_URL": "",
        }
    )


def migrate_and_seed(app, pages: int, *, tax_receipts: bool = True) -> list[dict]:
    """Schema from the migrations; one organisation, one cause, ``pages`` pages
    (a tenth of them events, half of the personal pages members of an event)."""
    import flask_migrate

    from agents.models import Agent
    from campaigns.organisations.models import Cause, CauseStatus, Organisation
    from campaigns.pages.models import Page, PageKind, PageStatus
    from extensions import db

    with app.app_context():
        flask_migrate.upgrade()
        now = datetime.now(UTC)
        org = Organisation(
            slug="bench",
            name="Bench",
            legal_name="Bench",
            currency="EUR",
            issues_tax_receipts=tax_receipts,
        )
        cause = Cause(
            organisation=org, slug="bench-cause", title="Bench", status=CauseStatus.PUBLISHED
        )
        db.session.add_all([org, cause])
        events: list[Page] = []
        out: list[Page] = []
        for i in range(pages):
            owner = Agent(
                email=f"agent{i}@bench.invalid",
                name=f"Agent {i}",
                password="!",  # noqa: S106 - nobody logs in during the benchmark
                active=True,
                fs_uniquifier=uuid.uuid4().hex,
                confirmed_at=now,
            )
            is_event = i % 10 == 0
            page = Page(
                cause=cause,
                owner=owner,
                kind=PageKind.EVENT if is_event else PageKind.PERSONAL,
                slug=f"page-{i}",
                title=f"Page {i}",
                city="Lyon" if is_event else "",
                status=PageStatus.PUBLISHED,
                published_at=now,
            )
            if is_event:
                events.append(page)
            elif i % 2 and events:
                page.parent = events[-1]
            db.session.add_all([owner, page])
            out.append(page)
        db.session.commit()
        seeded = [
            {"id": p.id, "slug": p.slug, "event_id": p.parent_id or (p.id if p.is_event else None)}
            for p in out
        ]
        db.session.remove()
        db.engine.dispose()
    return seeded


def verify(app, plan: Plan) -> list[str]:
    """What is wrong with the ledger and totals after the run (empty: exact)."""
    from sqlalchemy import func, select

    from campaigns.giving.models import Donation, StripeEvent
    from campaigns.totals import services as totals
    from campaigns.totals.models import TotalScope
    from extensions import db

    problems: list[str] = []
    with app.app_context():
        ledger = db.session.execute(
            select(func.count(Donation.id), func.coalesce(func.sum(Donation.amount_minor), 0))
        ).one()
        sessions = db.session.scalar(
            select(func.count(func.distinct(Donation.stripe_checkout_session_id)))
        )
        events = db.session.scalar(select(func.count(StripeEvent.id)))
        if ledger[0] != plan.distinct_sessions or sessions != plan.distinct_sessions:
            problems.append(
                f"ledger has {ledger[0]} rows ({sessions} sessions) for "
                f"{plan.distinct_sessions} paid sessions"
            )
        if int(ledger[1]) != plan.expected_total:
            problems.append(f"ledger sums to {ledger[1]}, expected {plan.expected_total}")
        if events != plan.distinct_events:
            problems.append(f"{events} Stripe events stored for {plan.distinct_events} distinct")
        figures = totals.figures(TotalScope.PAGE, list(plan.per_page))
        for page_id, want in plan.per_page.items():
            if figures[page_id].raised_minor != want:
                problems.append(
                    f"page {page_id}: total {figures[page_id].raised_minor}, expected {want}"
                )
                break
        drift = totals.drift()
        if drift:
            problems.append(f"totals drift from the ledger in {len(drift)} scopes: {drift[:3]}")
        db.session.remove()
        db.engine.dispose()
    return problems


# --- Stripe-shaped events ------------------------------------------------------


def checkout_session_event(event_id: str, session_id: str, page: dict, amount: int) -> dict:
    """A complete ``checkout.session.completed`` event as Stripe sends it (API 2024+)."""
    created = int(time.time())
    pi = "pi_" + session_id.removeprefix("cs_test_")[:24]
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "after_expiration": None,
                "allow_promotion_codes": None,
                "amount_subtotal": amount,
                "amount_total": amount,
                "automatic_tax": {"enabled": False, "liability": None, "status": None},
                "billing_address_collection": None,
                "cancel_url": f"http://127.0.0.1/p/{page['slug']}",
                "client_reference_id": None,
                "client_secret": None,
                "consent": None,
                "consent_collection": None,
                "created": created - 60,
                "currency": "eur",
                "currency_conversion": None,
                "custom_fields": [],
                "custom_text": {
                    "after_submit": None,
                    "shipping_address": None,
                    "submit": None,
                    "terms_of_service_acceptance": None,
                },
                "customer": None,
                "customer_creation": "if_required",
                "customer_details": {
                    "address": {
                        "city": None,
                        "country": "FR",
                        "line1": None,
                        "line2": None,
                        "postal_code": None,
                        "state": None,
                    },
                    "email": f"donor-{session_id[-10:]}@example.org",
                    "name": "Bench Donor",
                    "phone": None,
                    "tax_exempt": "none",
                    "tax_ids": [],
                },
                "customer_email": None,
                "expires_at": created + 86400,
                "invoice": None,
                "invoice_creation": {"enabled": False, "invoice_data": {}},
                "livemode": False,
                "locale": "fr",
                "metadata": {"page": page["slug"], "cause": "bench-cause", "project": ""},
                "mode": "payment",
                "payment_intent": pi,
                "payment_link": None,
                "payment_method_collection": "if_required",
                "payment_method_configuration_details": None,
                "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
                "payment_method_types": ["card"],
                "payment_status": "paid",
                "phone_number_collection": {"enabled": False},
                "recovered_from": None,
                "saved_payment_method_options": None,
                "setup_intent": None,
                "shipping_address_collection": None,
                "shipping_cost": None,
                "shipping_details": None,
                "shipping_options": [],
                "status": "complete",
                "submit_type": "donate",
                "subscription": None,
                "success_url": "http://127.0.0.1/thanks?session_id={CHECKOUT_SESSION_ID}",
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                "ui_mode": "hosted",
                "url": None,
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }


def paid_session_event(page: dict, amount: int) -> dict:
    """A paid session's event: built by the tests' Stripe builders when they are
    there (one shape for tests and benchmark), else by the copy above."""
    session_id = "cs_test_" + secrets.token_hex(16)
    try:
        from tests import stripe_objects
    except ImportError:
        return checkout_session_event("evt_" + secrets.token_hex(12), session_id, page, amount)
    session = stripe_objects.checkout_session(
        amount=amount,
        currency="eur",
        page=page["slug"],
        cause="bench-cause",
        email=f"donor-{session_id[-10:]}@example.org",
        name="Bench Donor",
        session_id=session_id,
    )
    return stripe_objects.event(session, "checkout.session.completed")


class Plan:
    """The N request bodies (25 % re-deliveries) and what the ledger must hold."""

    def __init__(self, n: int, pages: list[dict], duplicates: float, seed: int):
        rng = random.Random(seed)
        n_dup = int(n * duplicates)
        n_distinct = n - n_dup
        self.bodies: list[str] = []
        self.per_page: dict[int, int] = defaultdict(int)
        originals: list[dict] = []
        for _ in range(n_distinct):
            page = rng.choice(pages)
            amount = rng.choice((500, 1000, 2500, 5000, 1234, 10000))
            event = paid_session_event(page, amount)
            originals.append(event)
            self.per_page[page["id"]] += amount
        bodies = [json.dumps(e) for e in originals]
        kinds = Counter()
        for i in range(n_dup):
            original = rng.choice(originals)
            if i % 3 == 2:
                # The same payment told again under another event id (Stripe also
                # sends async_payment_succeeded, or a re-created endpoint replays).
                again = json.loads(json.dumps(original))
                again["id"] = "evt_" + secrets.token_hex(12)
                again["type"] = "checkout.session.async_payment_succeeded"
                bodies.append(json.dumps(again))
                kinds["same session, new event"] += 1
            else:
                bodies.append(json.dumps(original))
                kinds["same event"] += 1
        rng.shuffle(bodies)
        self.bodies = bodies
        self.kinds = kinds
        self.distinct_sessions = n_distinct
        self.distinct_events = n_distinct + kinds["same session, new event"]
        self.expected_total = sum(self.per_page.values())


# --- gunicorn ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(db_url: str, port: int, instance: Path, workers: int, threads: int, log):
    env = {k: v for k, v in os.environ.items() if k not in ("RELAIS_ENV", "DATABASE_URL")}
    env.update(
        DATABASE_URL=db_url,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        RELAIS_INSTANCE=str(instance),
        SMTP_URL="",
        PYTHONUNBUFFERED="1",
    )
    env.pop("REDIS_URL", None)
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "-w",
        str(workers),
        "-k",
        "gthread",
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "app:create_app()",
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log.name}")
        try:
            status, _ = post(http.client.HTTPConnection("127.0.0.1", port, timeout=5), "{}", "")
            if status == 400:  # up, and refusing an unsigned body as it must
                return proc
            if status == 404:
                raise RuntimeError("POST /webhooks/stripe answers 404: is the endpoint built?")
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post(conn: http.client.HTTPConnection, body: str, signature: str) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    conn.request("POST", "/webhooks/stripe", body=body.encode(), headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


# --- the two measurements ---------------------------------------------------------


def run_clients(clients: int, jobs: int, work) -> tuple[float, list[float], Counter]:
    """``work(conn_state, i)`` for i in range(jobs) from ``clients`` threads; returns
    wall seconds, per-job latencies and outcome counts."""
    lock = threading.Lock()
    cursor = iter(range(jobs))
    latencies: list[float] = []
    outcomes: Counter = Counter()
    start = threading.Barrier(clients + 1)

    def loop() -> None:
        state: dict = {}
        mine: list[float] = []
        seen: Counter = Counter()
        start.wait()
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            t0 = time.perf_counter()
            seen[work(state, i)] += 1
            mine.append(time.perf_counter() - t0)
        if "close" in state:
            state["close"]()
        with lock:
            latencies.extend(mine)
            outcomes.update(seen)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies, outcomes


def webhook_work(port: int, bodies: list[str]):
    def work(state: dict, i: int) -> str:
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            state["close"] = conn.close
        body = bodies[i]
        signature = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
        try:
            status, raw = post(conn, body, signature)
        except (OSError, http.client.HTTPException):
            conn.close()  # the server closed an idle keep-alive: reconnect once
            status, raw = post(conn, body, signature)
        if status != 200:
            return f"http {status}"
        try:
            return json.loads(raw).get("outcome", "?")
        except ValueError:
            return "bad json"

    return work


def raw_insert_work(conninfo: str):
    def work(state: dict, i: int) -> str:
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = psycopg.connect(conninfo)
            state["close"] = conn.close
        conn.execute(
            "INSERT INTO bench_raw (payload, amount_minor) VALUES (%s, %s)",
            (f"evt_{i:08d}", 1000 + i),
        )
        conn.commit()
        return "inserted"

    return work


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


class WaitSampler:
    """Samples what PostgreSQL backends of the benchmark database wait on, every
    50 ms, while the webhooks run: the profile hint when the goal is not met."""

    def __init__(self, conninfo: str, database: str):
        self.conninfo, self.database = conninfo, database
        self.samples: Counter = Counter()
        self.active = 0
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = "
                    "'client backend'",
                    (self.database,),
                ).fetchall()
                self.ticks += 1
                for state, kind, event in rows:
                    if state == "idle":
                        continue
                    self.active += 1
                    label = "running" if kind is None else f"{kind}:{event}"
                    if state == "idle in transaction":
                        label = "idle in transaction (app working)"
                    self.samples[label] += 1

    def summary(self, top: int = 5) -> str:
        if not self.active:
            return "no busy backend sampled"
        parts = [f"{label} {n / self.active:.0%}" for label, n in self.samples.most_common(top)]
        return f"{self.active / max(1, self.ticks):.1f} busy backends on average; " + ", ".join(
            parts
        )


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return float(sum(fields) - idle), float(sum(fields))


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- main -------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="webhook requests (and raw inserts)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--duplicates", type=float, default=0.25, help="share of re-deliveries")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--no-tax-receipts",
        action="store_true",
        help="diagnosis: an organisation without receipt numbers (no per-year counter row lock)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    if not 1 <= args.n <= MAX_N or not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--n must be 1…{MAX_N} and --clients 1…{MAX_CLIENTS}")
    if not 0 <= args.duplicates < 1:
        parser.error("--duplicates must be in [0, 1)")

    url = base_url()
    name = f"relais_bench_{os.getpid()}"
    db_url, conninfo = create_database(url, name)
    work_dir = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    log = (work_dir / "gunicorn.log").open("w")
    proc = None
    try:
        app = make_app(db_url, work_dir / "instance")
        t0 = time.perf_counter()
        pages = migrate_and_seed(app, args.pages, tax_receipts=not args.no_tax_receipts)
        print(
            f"database {name}: migrated and seeded {len(pages)} pages in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        settings = server_settings(conninfo)
        load = os.getloadavg()[0]
        print(f"load average before the run: {load:.2f} on {os.cpu_count()} cores")
        if load > 0.5:
            print("  (the machine is not idle: other work competes for the cores)")
        plan = Plan(args.n, pages, args.duplicates, args.seed)

        port = free_port()
        proc = start_gunicorn(db_url, port, work_dir / "instance", args.workers, args.threads, log)
        print(
            f"gunicorn -w {args.workers} -k gthread --threads {args.threads} on 127.0.0.1:{port}; "
            f"posting {args.n} events ({dict(plan.kinds)} re-deliveries) "
            f"from {args.clients} clients"
        )
        busy0, total0 = cpu_times()
        app_cpu0 = children_cpu()
        with WaitSampler(conninfo, name) as waits:
            hook_s, hook_lat, outcomes = run_clients(
                args.clients, args.n, webhook_work(port, plan.bodies)
            )
        busy1, total1 = cpu_times()
        stop(proc)
        proc = None
        # The workers' CPU is known once gunicorn has exited (it includes start-up).
        app_cpu = children_cpu() - app_cpu0
        machine_busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0

        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE bench_raw (id bigserial PRIMARY KEY, payload text NOT NULL, "
                "amount_minor bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
            )
        raw_s, raw_lat, raw_outcomes = run_clients(args.clients, args.n, raw_insert_work(conninfo))
        with psycopg.connect(conninfo, autocommit=True) as conn:
            raw_rows = conn.execute("SELECT count(*) FROM bench_raw").fetchone()[0]
            conn.execute("DROP TABLE bench_raw")

        problems = verify(app, plan)
        failed = {k: v for k, v in outcomes.items() if k not in ("recorded", "duplicate")}
        if failed:
            problems.append(f"requests that did not answer 200 recorded/duplicate: {failed}")
        if outcomes.get("recorded", 0) != plan.distinct_sessions:
            problems.append(
                f"{outcomes.get('recorded', 0)} answers said recorded for "
                f"{plan.distinct_sessions} paid sessions"
            )
        if raw_rows != args.n:
            problems.append(f"raw insert table has {raw_rows} rows for {args.n} inserts")

        gifts_per_s = plan.distinct_sessions / hook_s
        requests_per_s = args.n / hook_s
        raw_per_s = raw_rows / raw_s
        ratio = gifts_per_s / raw_per_s
        print()
        print(
            f"PostgreSQL {settings.get('server_version')}: fsync={settings.get('fsync')}, "
            f"synchronous_commit={settings.get('synchronous_commit')}"
        )
        print(
            f"webhooks : {args.n} requests in {hook_s:.2f} s = {requests_per_s:.0f} req/s; "
            f"{plan.distinct_sessions} gifts = {gifts_per_s:.0f} gifts/s; outcomes {dict(outcomes)}"
        )
        print(
            f"latency  : p50 {percentile(hook_lat, 50) * 1000:.1f} ms, "
            f"p99 {percentile(hook_lat, 99) * 1000:.1f} ms"
        )
        print(
            f"raw      : {raw_rows} single-row INSERT+COMMIT in {raw_s:.2f} s = "
            f"{raw_per_s:.0f} inserts/s (p50 {percentile(raw_lat, 50) * 1000:.2f} ms, "
            f"p99 {percentile(raw_lat, 99) * 1000:.2f} ms) {dict(raw_outcomes)}"
        )
        print(
            f"ratio    : gifts/s ÷ raw inserts/s = {ratio:.1%} "
            f"(requests/s ÷ raw = {requests_per_s / raw_per_s:.1%}); goal ≥ {GOAL:.0%}: "
            f"{'met' if ratio >= GOAL else 'NOT met'}"
        )
        print(
            f"profile  : machine CPU {machine_busy:.0%} busy during the webhooks "
            f"({os.cpu_count()} cores); gunicorn CPU {app_cpu * 1000 / args.n:.1f} ms/request; "
            f"PostgreSQL: {waits.summary()}"
        )
        if problems:
            print("MONEY NOT EXACT:")
            for problem in problems:
                print(f"  - {problem}")
            return 1
        print(
            f"totals   : exact (ledger = {plan.distinct_sessions} gifts, "
            f"{plan.expected_total} minor units; drift none)"
        )
        return 0
    finally:
        if proc is not None:
            stop(proc)
        log.close()
        if args.keep_db:
            print(f"kept database {name}; gunicorn log in {log.name}")
        else:
            drop_database(url, name)


if __name__ == "__main__":
    sys.exit(main())
