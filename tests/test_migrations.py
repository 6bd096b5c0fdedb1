import flask_migrate
import pytest
from sqlalchemy import inspect

from app import create_app
from extensions import db
from tests.conftest import BACKENDS, app_config, drop_database, fresh_database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_go_down_and_up_again(backend, tmp_path, worker_id):
    name = f"relais_mig_{worker_id}"
    app = create_app(app_config(fresh_database_url(backend, tmp_path, name), tmp_path))
    try:
        with app.app_context():
            flask_migrate.upgrade()
            assert "donations" in inspect(db.engine).get_table_names()
            flask_migrate.downgrade(revision="base")
            assert "donations" not in inspect(db.engine).get_table_names()
            flask_migrate.upgrade()
            assert "pending_gifts" in inspect(db.engine).get_table_names()
            db.engine.dispose()
    finally:
        drop_database(backend, name)


def test_models_and_migrations_agree(app, db):
    """Autogenerate would find nothing to do: the models are what the migrations build."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens_made_before_scopes_keep_writing_and_never_expire(backend, tmp_path, worker_id):
    from datetime import UTC, datetime

    from sqlalchemy import text

    from agents.services import authenticate_token, find_token
    from campaigns.pages.services import hash_token

    name = f"relais_scopes_{worker_id}"
    app = create_app(app_config(fresh_database_url(backend, tmp_path, name), tmp_path))
    clear = "rls_made-before-scopes"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="0013_badges_profiles")
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO agents (id, email, name, active, fs_uniquifier, locale, bio,"
                        " created_at) VALUES (1, 'old@example.org', 'Old', :yes, 'u1', '', '',"
                        " :now)"
                    ),
                    {"yes": True, "now": now},
                )
                connection.execute(
                    text(
                        "INSERT INTO access_tokens (agent_id, name, token_hash, prefix,"
                        " created_at) VALUES (1, 'script', :hash, 'rls_made-b', :now)"
                    ),
                    {"hash": hash_token(clear), "now": now},
                )
            flask_migrate.upgrade()
            token = find_token(clear)
            assert (token.scope, token.expires_at) == ("write", None)
            assert authenticate_token(clear).email == "old@example.org"
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database(backend, name)
