"""Degraded mode for real: ``relais serve`` on a private PostgreSQL cluster
that is stopped, then started again (never the shared server)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from flask_security.utils import hash_password

from app import create_app
from extensions import db
from tests import stripe_objects as so
from tests.conftest import free_port
from tests.factories import PASSWORD, AgentFactory, CauseFactory, OrganisationFactory, PageFactory
from tests.served import output, server_process, stop

ROOT = Path(__file__).resolve().parents[3]
SECRET = "whsec_degraded_serve"
SALT = "degraded-salt"


def own_services():
    spec = importlib.util.spec_from_file_location(
        "own_services", ROOT / "deploy" / "twonode" / "own_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(own_services().postgres_bin() is None, reason="needs PostgreSQL programs"),
]


@pytest.fixture
def cluster():
    folder = Path(tempfile.mkdtemp(prefix="relais-degraded-pg-"))
    pg = own_services().Postgres(folder / "data").start()
    try:
        yield pg
    finally:
        pg.destroy()
        shutil.rmtree(folder, ignore_errors=True)


def relais(*args: str, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from app import main; main()", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_relais_serve_stays_up_while_postgresql_is_stopped(cluster, tmp_path):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": cluster.url,
        "RELAIS_INSTANCE": str(tmp_path / "instance"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "SECURITY_PASSWORD_SALT": SALT,
        "LAST_GOOD_SECONDS": "0.1",
        "PUBLIC_PAGE_CACHE_SECONDS": "0",
        "SMTP_URL": "",
    }
    migrated = relais("db", "upgrade", env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeding = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": cluster.url.replace(
                "postgresql://", "postgresql+psycopg://"
            ),
            "TESTING": True,
            "REDIS_URL": "",
            "SECURITY_PASSWORD_SALT": SALT,
            "LAST_GOOD_SECONDS": 0,
        }
    )
    with seeding.app_context():
        agent = AgentFactory(email="camille@example.org", password=hash_password(PASSWORD))
        cause = CauseFactory(organisation=OrganisationFactory(currency="EUR"), slug="night")
        PageFactory(cause=cause, owner=agent, slug="camille-runs", title="Camille runs")
        db.session.commit()
        db.engine.dispose()

    command = [sys.executable, "-c", "from app import main; main()", "serve", "--workers", "1"]
    logs = tmp_path / "logs"
    base = f"http://127.0.0.1:{port}"
    english = {"Accept-Language": "en"}
    with server_process(command, env=env, cwd=ROOT, port=port, logs=logs) as server:
        for path in ("/c/night", "/p/camille-runs", "/c/night/leaderboard"):
            assert requests.get(base + path, headers=english, timeout=30).status_code == 200
        session = so.checkout_session(amount=4200, page="camille-runs", cause="night")
        body, headers = so.signed(so.event(session, "checkout.session.completed"), SECRET)

        cluster.stop()
        try:
            for path in ("/c/night", "/p/camille-runs", "/c/night/leaderboard"):
                page = requests.get(base + path, headers=english, timeout=30)
                assert page.status_code == 200, page.text[:500]
                assert re.search(r"figures as of \d{1,2}:\d\d", page.text)
            browser = requests.Session()
            gave = browser.post(
                base + "/p/camille-runs/give", data={"amount": "10"}, headers=english, timeout=30
            )
            login = browser.post(
                base + "/account/login",
                data={"email": "camille@example.org", "password": PASSWORD},
                headers=english,
                timeout=30,
            )
            hook = requests.post(base + "/webhooks/stripe", data=body, headers=headers, timeout=30)
            for answer in (gave, login, hook):
                assert answer.status_code == 503 and answer.headers["Retry-After"] == "120"
                assert "Traceback" not in answer.text
            assert "Giving is paused" in gave.text and "Signing in" in login.text
            assert requests.get(base + "/healthz", timeout=30).status_code == 200
            assert requests.get(base + "/readyz", timeout=30).status_code == 503
        finally:
            cluster.start()

        # Back: Stripe's retry of the same event records the gift once.
        replayed = requests.post(base + "/webhooks/stripe", data=body, headers=headers, timeout=30)
        assert replayed.status_code == 200 and replayed.json()["outcome"] == "recorded"
        again = requests.post(base + "/webhooks/stripe", data=body, headers=headers, timeout=30)
        assert again.json()["outcome"] == "duplicate"
        fresh = requests.get(base + "/c/night", headers=english, timeout=30)
        assert fresh.status_code == 200 and "X-Relais-Degraded" not in fresh.headers
        assert stop(server) == 0, output(logs)

    checked = relais("totals", "check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert cluster.sql("SELECT sum(amount_minor) FROM donations") == "4200"
    assert "the database cannot be reached" in output(logs)
