"""The set bench/night.py and bench/faults.py run against: the two-node set of
deploy/twonode/twonode.py on its own PostgreSQL cluster and redis-server, a
loopback SMTP server that counts what it receives, and the night's seed
(one cause, 202 events, 2,000 agents with a page each).

Nothing shared is touched: the cluster, Redis and the SMTP server live in a
fresh folder under /tmp and are stopped and removed at the end.
"""

from __future__ import annotations

import asyncio
import email
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "deploy" / "twonode"))

from aiosmtpd.controller import Controller  # noqa: E402
from twonode import OwnServices, TwoNodes, free_port  # noqa: E402

CAUSE = "twestival"
PASSWORD = "night-of-" + "giving"  # every seeded agent's password (a benchmark)
SALT = "night-salt-" + secrets.token_hex(8)
WEBHOOK_SECRET = "whsec_night_" + secrets.token_hex(12)
METRICS_TOKEN = "night-" + secrets.token_hex(8)
CITIES = ("Paris", "Lyon", "Marseille", "Lille", "Nantes", "Bordeaux", "Toulouse", "Nice")


logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command


class SmtpSink:
    """aiosmtpd on a fixed loopback port that can be stopped and started again;
    counts messages and their Message-IDs (a resend carries the same one)."""

    def __init__(self, delay: float = 0.0):
        self.port = free_port()
        self.delay = delay
        self.ids: Counter = Counter()
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.ids[str(message.get("Message-ID", ""))] += 1
        return "250 OK"

    def start(self) -> SmtpSink:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def counts(self) -> tuple[int, int, int]:
        """(messages received, distinct Message-IDs, Message-IDs received more than once)."""
        with self.lock:
            return sum(self.ids.values()), len(self.ids), sum(1 for n in self.ids.values() if n > 1)


class NightSet:
    """Everything started, seeded and ready; ``close()`` stops and removes it."""

    def __init__(self, *, workers: int = 2, live_max_streams: int = 250, env: dict | None = None):
        self.folder = Path(tempfile.mkdtemp(prefix="relais-night-"))
        self.services = OwnServices(self.folder)
        self.smtp = SmtpSink()
        self.workers = workers
        self.live_max_streams = live_max_streams
        self.extra = dict(env or {})
        self.nodes: TwoNodes | None = None
        self.started: dict = {}

    def start(self) -> NightSet:
        t0 = time.perf_counter()
        urls = self.services.start()
        self.database_url = urls["DATABASE_URL"]
        self.smtp.start()
        env = {
            **urls,
            "RELAIS_ENV": "",
            "SECURITY_PASSWORD_SALT": SALT,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SMTP_URL": self.smtp.url,
            "METRICS_TOKEN": METRICS_TOKEN,
            "RATELIMIT_AUTH": "100000 per minute",  # every agent signs in from 127.0.0.1
            "LIVE_RATE_LIMIT": "100000 per minute",
            "LIVE_MAX_STREAMS": str(self.live_max_streams),
            "OUTBOX_RATE_LIMITS": "email=0",
            "RELAIS_LOG_LEVEL": "WARNING",
            **self.extra,
        }
        self.nodes = TwoNodes(self.folder, free_port(), self.workers, env)
        self.started = self.nodes.start()
        self.url = self.started["url"]
        self.nodes_urls = self.started["nodes"]
        self.app = seeding_app(self.database_url, self.folder)
        print(
            f"set: two nodes x {self.workers} workers, nginx {self.url}, own PostgreSQL "
            f"{self.database_url}, own Redis, SMTP {self.smtp.url} "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        return self

    def close(self, keep: bool = False) -> None:
        """Stop everything; remove the folder unless ``keep`` (logs in folder/logs)."""
        try:
            if self.nodes is not None:
                self.nodes.stop()
        finally:
            self.smtp.stop()
            self.services.stop()
            if keep:
                print(f"kept {self.folder} (logs in {self.folder / 'logs'})")
            else:
                shutil.rmtree(self.folder, ignore_errors=True)

    def relais(self, *args: str) -> subprocess.CompletedProcess:
        """A ``relais`` command against the set's database."""
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.services.redis.url,
        }
        env["RELAIS_INSTANCE"] = str(self.folder / "a")
        env["SECURITY_PASSWORD_SALT"] = SALT
        command = [sys.executable, "-c", "from app import main; main()", *args]
        return subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
        )


def seeding_app(database_url: str, folder: Path):
    os.environ.pop("RELAIS_ENV", None)
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url.replace(
                "postgresql://", "postgresql+psycopg://", 1
            ),
            "REDIS_URL": "",
            "SMTP_URL": "",
            "SECURITY_PASSWORD_SALT": SALT,
            "LAST_GOOD_SECONDS": 0,
            "LAST_GOOD_FOLDER": str(folder / "seed-last-good"),
            "UPLOAD_FOLDER": str(folder / "uploads"),
        }
    )


def seed(app, events: int = 202, agents: int = 2000) -> dict:
    """One organisation and cause; ``agents`` agents with a personal page each,
    the first ``events`` of them hosting an event that the others' pages join."""
    from flask_security.utils import hash_password

    from agents.models import Agent
    from campaigns.organisations.models import Cause, CauseStatus, Organisation
    from campaigns.pages.models import Page, PageKind, PageStatus
    from extensions import db

    t0 = time.perf_counter()
    with app.app_context():
        hashed = hash_password(PASSWORD)
        now = datetime.now(UTC)
        org = Organisation(
            slug="night-org", name="Eau pour tous", legal_name="Eau pour tous", currency="EUR"
        )
        cause = Cause(
            organisation=org,
            slug=CAUSE,
            title="Twestival",
            goal_minor=25_000_000,
            status=CauseStatus.PUBLISHED,
        )
        db.session.add_all([org, cause])
        people = [
            Agent(
                email=f"agent{i}@night.example.org",
                name=f"Agent {i}",
                password=hashed,
                active=True,
                fs_uniquifier=uuid.uuid4().hex,
                confirmed_at=now,
                locale="en",
            )
            for i in range(agents)
        ]
        db.session.add_all(people)
        hosted = []
        for i in range(events):
            hosted.append(
                Page(
                    cause=cause,
                    owner=people[i],
                    kind=PageKind.EVENT,
                    slug=f"event-{i}",
                    title=f"Twestival {CITIES[i % len(CITIES)]} {i}",
                    city=CITIES[i % len(CITIES)],
                    venue="Bar",
                    status=PageStatus.PUBLISHED,
                    published_at=now,
                    starts_at=now + timedelta(hours=3),
                )
            )
        pages = []
        for i, person in enumerate(people):
            pages.append(
                Page(
                    cause=cause,
                    owner=person,
                    kind=PageKind.PERSONAL,
                    slug=f"agent-{i}",
                    title=f"Agent {i} for water",
                    status=PageStatus.PUBLISHED,
                    published_at=now,
                    parent=hosted[i % events],
                )
            )
        db.session.add_all(hosted + pages)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        db.engine.dispose()
    print(
        f"seed: 1 cause, {events} events, {agents} agents and pages "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    return {
        "events": [f"event-{i}" for i in range(events)],
        "pages": [f"agent-{i}" for i in range(agents)],
        "emails": [f"agent{i}@night.example.org" for i in range(agents)],
    }
