"""Benchmark (not a test): a broadcast to N agents expanded into the outbox on
PostgreSQL, and the outbox delivered by one and by two ``relais worker``
processes to a local aiosmtpd server, each against a raw rate measured in the
same run.

    eval "$(.ci/services)"            # PostgreSQL on 127.0.0.1:54329
    .venv/bin/python bench/messaging.py --agents 100000 --deliver 3000

1. Creates a fresh database next to BENCH_DATABASE_URL (or TEST_DATABASE_URL),
   migrates it and seeds one organisation, one cause and N agents with one
   published page each (a fifth of them with money on their page).
2. Schedules an email broadcast to every agent of the cause and times
   ``messaging.broadcasts.services.expand_due`` (render + bulk insert, one commit).
   Denominators: the same rows inserted into a scratch copy of
   ``outbox_messages`` with psycopg ``executemany``, then with ``COPY``.
3. Starts an aiosmtpd server on loopback. Denominators, one client then two:
   smtplib threads in this process building each ``EmailMessage`` and calling
   ``send_message`` (the denominator of issue 13's table), and the SMTP exchange
   alone: the same kind of mail already flattened, one process per client.
4. Leaves D rows queued and starts one ``relais worker`` (then two, on another
   D rows); messages/s is measured at the SMTP server, first to last message.
   Reported as not measured when ``relais worker`` does not exist.

Only loopback traffic; every count is bounded; the database is dropped at the
end unless ``--keep-db``.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

MAX_AGENTS = 200_000
MAX_DELIVER = 20_000
GOAL_FANOUT_SECONDS = 10.0
GOAL_PER_WORKER = 300.0


def base_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url:
        sys.exit('Set BENCH_DATABASE_URL or TEST_DATABASE_URL (eval "$(.ci/services)").')
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgres"):
        sys.exit("The benchmark needs PostgreSQL (a postgresql:// URL).")
    if parsed.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"The benchmark only talks to loopback; {parsed.host} is not.")
    return url


def admin(url: str, sql: str) -> None:
    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        dbname=parsed.database,
        autocommit=True,
    ) as conn:
        conn.execute(sql)


def fresh_database(url: str, name: str) -> str:
    admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(url, f'CREATE DATABASE "{name}"')
    return (
        make_url(url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


# --- seeding -----------------------------------------------------------------


def seed(n: int) -> tuple[int, int]:
    """One organisation and cause, n agents with a published page each."""
    from agents.models import Agent
    from campaigns.organisations.models import Cause, Organisation
    from campaigns.pages.models import Page
    from campaigns.totals.models import Total
    from extensions import db
    from messaging.templating.models import MessageTemplate

    now = datetime.now(UTC)
    org = Organisation(slug="bench", name="Eau Vive", legal_name="Eau Vive")
    cause = Cause(
        organisation=org,
        slug="bench-cause",
        title="Twestival",
        goal_minor=10**9,
        status="published",
    )
    db.session.add_all([org, cause])
    db.session.flush()
    stamp = secrets.token_hex(4)
    db.session.execute(
        Agent.__table__.insert(),
        [
            {
                "id": i,
                "email": f"agent{i}@bench.example",
                "name": f"Agent {i}",
                "active": True,
                "fs_uniquifier": f"{stamp}{i}",
                "confirmed_at": now,
                "locale": "",
                "bio": "",
                "created_at": now,
            }
            for i in range(1, n + 1)
        ],
    )
    db.session.execute(
        Page.__table__.insert(),
        [
            {
                "id": i,
                "cause_id": cause.id,
                "owner_id": i,
                "kind": "personal",
                "slug": f"page-{i}",
                "title": f"Page {i}",
                "story": "",
                "goal_minor": 500_00,
                "city": "",
                "venue": "",
                "status": "published",
                "hidden_reason": "",
                "created_at": now,
                "updated_at": now,
                "published_at": now,
            }
            for i in range(1, n + 1)
        ],
    )
    db.session.execute(
        Total.__table__.insert(),
        [
            {
                "scope": "page",
                "scope_id": i,
                "slot": 0,
                "raised_minor": (i * 7919) % 80_000,
                "donation_count": 1 + i % 5,
                "donor_count": 1 + i % 5,
            }
            for i in range(1, n + 1, 5)
        ],
    )
    for table in ("agents", "pages"):
        db.session.execute(
            db.text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")  # noqa: S608
        )
    template = MessageTemplate(
        organisation_id=org.id,
        name="Relance",
        trigger="broadcast",
        channel="email",
        locale="fr",
        subject="{{ agent.first_name }}, plus que {{ cause.days_left or 3 }} jours !",
        body=(
            "Bonjour {{ agent.name }},\n\n{{ page.title }} a recueilli {{ page.raised }} sur "
            "{{ page.goal }}{% if page.rank %} (rang {{ page.rank }}){% endif %}.\n"
            "Partagez votre lien : {{ page.share_url }}\n\n{{ organisation.name }}"
        ),
        is_active=True,
    )
    db.session.add(template)
    db.session.commit()
    # A real database with this many rows has planner statistics; a fresh bulk
    # load has none until autovacuum passes (the ranking query then nests loops).
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return cause.id, template.id


# --- fan-out -----------------------------------------------------------------


def fan_out(org_id: int, cause_id: int, template_id: int) -> tuple[float, int]:
    from campaigns.model_types import utcnow
    from extensions import db
    from messaging.broadcasts import services as broadcasts
    from messaging.broadcasts.models import Broadcast

    broadcast = Broadcast(
        organisation_id=org_id,
        cause_id=cause_id,
        template_id=template_id,
        audience="all",
        send_at=utcnow(),
        status="scheduled",
    )
    db.session.add(broadcast)
    db.session.commit()
    started = time.perf_counter()
    written = broadcasts.expand_due()
    return time.perf_counter() - started, written


def raw_insert(url: str, limit: int) -> tuple[float, float, int]:
    """The same outbox rows inserted into a scratch copy of the table (same
    indexes), with psycopg executemany, then with COPY; one commit each."""
    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database
    ) as conn:
        conn.execute(
            "CREATE TABLE scratch_outbox "
            "(LIKE outbox_messages INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        columns = [
            "dedupe_key",
            "organisation_id",
            "agent_id",
            "page_id",
            "broadcast_id",
            "template_id",
            "trigger",
            "channel",
            "recipient",
            "subject",
            "body_text",
            "body_html",
            "link",
            "message_id",
            "status",
            "attempts",
            "next_attempt_at",
            "claimed_by",
            "last_error",
            "external_id",
            "created_at",
        ]
        rows = conn.execute(
            f"SELECT {', '.join(columns)} FROM outbox_messages LIMIT %s",  # noqa: S608
            (limit,),
        ).fetchall()
        conn.commit()
        sql = (
            f"INSERT INTO scratch_outbox ({', '.join(columns)}) VALUES "  # noqa: S608
            f"({', '.join(['%s'] * len(columns))}) ON CONFLICT (dedupe_key) DO NOTHING"
        )
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(sql, rows)
        conn.commit()
        many = time.perf_counter() - started
        conn.execute("TRUNCATE scratch_outbox")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY scratch_outbox ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return many, time.perf_counter() - started, len(rows)


# --- delivery ----------------------------------------------------------------


class Sink:
    def __init__(self):
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.arrivals.append(time.perf_counter())
        return "250 OK"

    def reset(self):
        with self.lock:
            self.arrivals.clear()

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.arrivals) >= count:
                    return True
            time.sleep(0.05)
        return False

    def rate(self) -> float:
        with self.lock:
            times = sorted(self.arrivals)
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])


def sample_message(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Relais <no-reply@relais.localhost>"
    msg["To"] = f"agent{i}@bench.example"
    msg["Subject"] = "Agent, plus que 3 jours !"
    msg["Message-ID"] = f"<bench-{i}-{secrets.token_hex(4)}@relais.localhost>"
    msg.set_content("Bonjour Agent,\n\nPage a recueilli 120 € sur 500 €.\n" * 3)
    msg.add_alternative(
        "<p>Bonjour Agent,</p><p>Page a recueilli 120 € sur 500 €.</p>" * 3, subtype="html"
    )
    return msg


_RAW_CLIENT = """
import smtplib, sys
port, start, count, step = map(int, sys.argv[1:5])
body = sys.stdin.buffer.read()
with smtplib.SMTP("127.0.0.1", port) as smtp:
    for i in range(start, count, step):
        smtp.sendmail("no-reply@relais.localhost", [f"agent{i}@bench.example"], body)
"""


def built_smtp(sink: Sink, port: int, count: int, clients: int) -> float:
    """The issue's denominator: smtplib client threads in this process, each
    mail built as an ``EmailMessage`` and sent with ``send_message``."""
    import smtplib
    import threading

    sink.reset()

    def client(start: int):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(start, count, clients):
                smtp.send_message(sample_message(i))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sink.rate()


def raw_smtp(sink: Sink, port: int, count: int, clients: int) -> float:
    """smtplib over one kept-open connection per client process (as each
    worker is its own process: threads here would share the sink's GIL),
    sending a mail of the same kind already flattened: the SMTP exchange alone."""
    sink.reset()
    body = sample_message(0).as_bytes(policy=sample_message(0).policy.clone(linesep="\r\n"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RAW_CLIENT, str(port), str(c), str(count), str(clients)],
            stdin=subprocess.PIPE,
        )
        for c in range(clients)
    ]
    for proc in procs:
        proc.stdin.write(body)
        proc.stdin.close()
    for proc in procs:
        proc.wait(timeout=max(60.0, count / 20))
    return sink.rate()


def queue_only(url: str, count: int) -> None:
    """Leave ``count`` fresh rows queued (bench database only)."""
    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database
    ) as conn:
        conn.execute("UPDATE outbox_messages SET status = 'cancelled' WHERE status = 'queued'")
        conn.execute(
            "UPDATE outbox_messages SET status = 'queued', next_attempt_at = now() - interval "
            "'1 minute' WHERE id IN (SELECT id FROM outbox_messages WHERE status = 'cancelled' "
            "AND attempts = 0 AND sent_at IS NULL ORDER BY id LIMIT %s)",
            (count,),
        )
        conn.commit()


def workers(url: str, smtp_port: int, sink: Sink, count: int, processes: int) -> float | None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "OUTBOX_RATE_LIMITS": "email=1000000,x=1,facebook=1",
        "PUBLIC_URL": "https://relais.example",
    }
    sink.reset()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from app import main; main()",
                "worker",
                "--batch",
                "100",
                "--poll",
                "0.2",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        done = sink.wait_for(count, timeout=max(60.0, count / 20))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    if not done:
        print(f"  only {len(sink.arrivals)} of {count} messages arrived", file=sys.stderr)
        err = procs[0].stderr.read() if procs[0].stderr else ""
        print(err[-2000:], file=sys.stderr)
    return sink.rate() if sink.arrivals else None


def worker_exists() -> bool:
    result = subprocess.run(
        [sys.executable, "-c", "from app import main; main()", "worker", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": ""},
        check=False,
    )
    return result.returncode == 0


# --- main ----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--deliver", type=int, default=3000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    n = max(1, min(args.agents, MAX_AGENTS))
    deliver = max(10, min(args.deliver, MAX_DELIVER, n // 2))
    server = base_url()
    name = f"relais_bench_messaging_{os.getpid()}"
    url = fresh_database(server, name)
    os.environ.setdefault("RELAIS_INSTANCE", "/tmp/relais-bench-instance")

    import flask_migrate

    from app import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "PUBLIC_URL": "https://relais.example", "TESTING": False}
    )
    try:
        with app.app_context():
            flask_migrate.upgrade()
            t0 = time.perf_counter()
            cause_id, template_id = seed(n)
            print(f"seeded {n} agents and pages in {time.perf_counter() - t0:.1f} s")
            from campaigns.organisations.models import Cause
            from extensions import db

            org_id = db.session.get(Cause, cause_id).organisation_id
            seconds, written = fan_out(org_id, cause_id, template_id)
            db.session.remove()
            db.engine.dispose()
        many_seconds, copy_seconds, raw_rows = raw_insert(url, written)
        fan_rate, raw_rate = written / seconds, raw_rows / many_seconds
        copy_rate = raw_rows / copy_seconds
        verdict = "met" if seconds < GOAL_FANOUT_SECONDS else "NOT met"
        print(
            f"fan-out: {written} rows in {seconds:.2f} s = {fan_rate:,.0f} rows/s "
            f"(goal < {GOAL_FANOUT_SECONDS:.0f} s: {verdict})"
        )
        print(
            f"raw insert of the same rows: executemany {raw_rate:,.0f} rows/s, "
            f"COPY {copy_rate:,.0f} rows/s; fan-out / executemany = {fan_rate / raw_rate:.2f}, "
            f"fan-out / COPY = {fan_rate / copy_rate:.2f}"
        )

        from aiosmtpd.controller import Controller

        # aiosmtpd logs every SMTP command at INFO (the app's logging shows it):
        # that would be the sink's own cost, in both rates.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        sink = Sink()
        port = _free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            built1 = built_smtp(sink, port, deliver, 1)
            built2 = built_smtp(sink, port, deliver, 2)
            raw1 = raw_smtp(sink, port, deliver, 1)
            raw2 = raw_smtp(sink, port, deliver, 2)
            print(
                f"SMTP, smtplib threads in this process building each mail (the issue's "
                f"denominator): {built1:,.0f} msg/s (1 client), {built2:,.0f} msg/s (2 clients)"
            )
            print(
                f"SMTP, the exchange alone (flattened mail, a process per client): "
                f"{raw1:,.0f} msg/s (1 client), {raw2:,.0f} msg/s (2 clients)"
            )
            if not worker_exists():
                print("delivery by relais worker: not measured (no `relais worker` command)")
            else:
                for processes, built, raw in ((1, built1, raw1), (2, built2, raw2)):
                    queue_only(url, deliver)
                    rate = workers(url, port, sink, deliver, processes)
                    if rate is None:
                        print(f"delivery, {processes} worker(s): nothing arrived")
                        continue
                    per = rate / processes
                    print(
                        f"delivery, {processes} worker(s): {rate:,.0f} msg/s "
                        f"({per:,.0f} per worker; goal >= {GOAL_PER_WORKER:.0f}: "
                        f"{'met' if per >= GOAL_PER_WORKER else 'NOT met'}); "
                        f"/ built SMTP = {rate / built:.2f}, / exchange alone = {rate / raw:.2f}"
                    )
        finally:
            controller.stop()
    finally:
        if not args.keep_db:
            admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
