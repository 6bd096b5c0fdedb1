"""/healthz and /readyz: what a load balancer and an operator read."""

from __future__ import annotations

from app import create_app
from tests.conftest import app_config, free_port


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and body["checks"]["database"]["ok"] is True
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_names_a_database_that_was_never_migrated(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path))

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    check = response.get_json()["checks"]["database"]
    assert check["ok"] is False and "alembic_version" in check["error"]


def test_readyz_names_a_database_behind_the_head_revision(tmp_path):
    import flask_migrate

    app = create_app(app_config(f"sqlite:///{tmp_path / 'old.db'}", tmp_path))
    with app.app_context():
        flask_migrate.upgrade(revision="0001_foundation")

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    check = response.get_json()["checks"]["database"]
    assert "relais db upgrade" in check["error"] and check["revision"] == ["0001_foundation"]


def test_readyz_names_redis_when_it_is_configured_and_down(app, tmp_path):
    config = app_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    down = create_app({**config, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})

    response = down.test_client().get("/readyz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["redis"]["ok"] is False and checks["redis"]["error"]


def test_readyz_shows_the_background_processes(client, db):
    from datetime import timedelta

    from campaigns.model_types import utcnow
    from campaigns.runtime import heartbeats

    heartbeats.beat("scheduler:a:1", "scheduler", started_at=utcnow(), is_leader=True)
    old = utcnow() - timedelta(minutes=5)
    heartbeats.beat("worker:b:2", "worker", started_at=old)
    db.session.execute(
        heartbeats.Heartbeat.__table__.update()
        .where(heartbeats.Heartbeat.name == "worker:b:2")
        .values(seen_at=old)
    )
    db.session.commit()

    processes = client.get("/readyz").get_json()["processes"]

    assert processes["scheduler"]["has_leader"] is True and processes["scheduler"]["alive"] == 1
    assert processes["worker"]["alive"] == 0 and processes["worker"]["last_seen_at"]
