"""Two nodes behind nginx (deploy/twonode/twonode.py), driven over HTTP: one
site, whichever node answers. Needs PostgreSQL, nginx and redis-server."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
from flask_security.utils import hash_password
from PIL import Image
from sqlalchemy import make_url

from app import create_app
from extensions import db
from tests import stripe_objects as so
from tests.campaigns.standings.test_live import EventStream
from tests.conftest import TEST_DATABASE_URL, free_port
from tests.factories import PASSWORD, AgentFactory, CauseFactory, OrganisationFactory, PageFactory
from tests.redis_process import RedisProcess, needs_redis_server

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_two_nodes"
TOKEN = "scrape-both-nodes"
SALT = "two-nodes-salt"  # the seeding app hashes the password as the nodes check it
pytestmark = [
    pytest.mark.slow,
    needs_redis_server,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)"),
    pytest.mark.skipif(
        shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
        reason="needs nginx (apt-get install -y nginx)",
    ),
]


def admin(sql: str) -> None:
    url = make_url(TEST_DATABASE_URL)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql)


def csrf_token(response: requests.Response) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.text)
    assert found, response.text[:500]
    return found.group(1)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def two_nodes(tmp_path):
    name = f"relais_twonode_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    database_url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(False)
    server = RedisProcess(tmp_path / "redis").start()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url,
        "REDIS_URL": server.url,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "RATELIMIT_AUTH": "4 per minute",
        "SECURITY_PASSWORD_SALT": SALT,
        "SMTP_URL": "",
        "LIVE_HEARTBEAT_SECONDS": "1",
        "LIVE_COALESCE_SECONDS": "0.1",
        "METRICS_TOKEN": TOKEN,
    }
    command = [sys.executable, str(ROOT / "deploy/twonode/twonode.py")]
    command += ["--folder", str(tmp_path / "set"), "--port", str(free_port())]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line, f"twonode.py exited with {proc.wait()}: see {tmp_path / 'set' / 'logs'}"
        started = json.loads(line)
        seeding = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "REDIS_URL": "",
                "TESTING": True,
                "SECURITY_PASSWORD_SALT": SALT,
            }
        )
        yield started, seeding
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        server.kill()
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_nodes_behind_nginx_are_one_site(two_nodes):
    started, seeding = two_nodes
    a, b = started["nodes"]
    site = started["url"]
    with seeding.app_context():
        agent = AgentFactory(
            email="camille@example.org", locale="en", password=hash_password(PASSWORD)
        )
        cause = CauseFactory(organisation=OrganisationFactory(currency="EUR"), slug="night")
        page = PageFactory(cause=cause, owner=agent, slug="camille-runs", title="Camille runs")
        db.session.commit()
        email, slug = agent.email, page.slug
        db.engine.dispose()

    # Through nginx, and from each node.
    for base in (site, a, b):
        assert requests.get(f"{base}/c/night", timeout=30).status_code == 200

    # A session and its CSRF token made on one node are good on the other.
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    token = csrf_token(browser.get(f"{a}/account/login", timeout=30))
    signed_in = browser.post(
        f"{b}/account/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    assert browser.get(f"{a}/p/{slug}/edit", timeout=30).status_code == 200

    # A photo uploaded through node B is served by both nodes.
    token = csrf_token(browser.get(f"{a}/p/{slug}/edit", timeout=30))
    saved = browser.post(
        f"{b}/p/{slug}/edit",
        data={
            "title": "Camille runs",
            "slug": slug,
            "goal": "500",
            "story": "Hi",
            "csrf_token": token,
        },
        files={"photo": ("me.png", png(), "image/png")},
        allow_redirects=False,
        timeout=30,
    )
    assert saved.status_code == 302, saved.text[:500]
    photo = re.search(r"/media/([0-9a-f]+\.jpg)", browser.get(f"{a}/p/{slug}", timeout=30).text)
    assert photo, "the page shows no photo"
    bodies = []
    for base in (a, b):
        media = requests.get(f"{base}/media/{photo.group(1)}", timeout=30)
        assert media.status_code == 200 and media.headers["Content-Type"] == "image/jpeg"
        bodies.append(media.content)
    assert bodies[0] == bodies[1]

    # Rate limits are counted once for the whole site (4 sign-ins a minute; one used).
    stranger = requests.Session()
    answers = []
    for base in (a, b, a, b):
        token = csrf_token(stranger.get(f"{base}/account/login", timeout=30))
        answers.append(
            stranger.post(
                f"{base}/account/login",
                data={"email": email, "password": "not the password", "csrf_token": token},
                timeout=30,
            ).status_code
        )
    assert answers[:3] != [429] * 3 and 429 not in answers[:3] and answers[3] == 429, answers

    # A gift recorded by node A is streamed by node B, and through nginx.
    on_b = EventStream(f"{b}/api/v1/causes/night/stream")
    via_nginx = EventStream(f"{site}/api/v1/causes/night/stream")
    try:
        assert on_b.next()["data"]["raised"]["amount_minor"] == 0
        assert via_nginx.next()["data"]["raised"]["amount_minor"] == 0
        session = so.checkout_session(amount=2500, page=slug, cause="night", email="d@example.org")
        body, headers = so.signed(so.event(session, "checkout.session.completed"), SECRET)
        posted = requests.post(f"{a}/webhooks/stripe", data=body, headers=headers, timeout=30)
        assert posted.status_code == 200 and posted.json()["outcome"] == "recorded"
        assert on_b.next()["data"]["raised"]["amount_minor"] == 2500
        assert via_nginx.next()["data"]["raised"]["amount_minor"] == 2500
    finally:
        on_b.close()
        via_nginx.close()

    # Two schedulers, exactly one leading; two workers alive.
    deadline = time.monotonic() + 30
    while True:
        processes = requests.get(f"{site}/readyz", timeout=30).json()["processes"]
        schedulers = processes["scheduler"]["processes"]
        alive = [p for p in schedulers if p["alive"]]
        if (len(alive) == 2 and processes["worker"]["alive"] == 2) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(alive) == 2, schedulers
    assert [p["is_leader"] for p in alive].count(True) == 1, schedulers
    assert processes["worker"]["alive"] == 2

    # Each node's scrape merges its web workers, its outbox worker and its
    # scheduler: the leader's job runs show on the node it runs beside.
    deadline = time.monotonic() + 60
    while True:
        runs = sum(job_runs(base) for base in (a, b))
        if runs > 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert runs > 0


def job_runs(base: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    scraped = requests.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert scraped.status_code == 200
    return sum(
        sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name == "relais_job_runs_total"
    )
