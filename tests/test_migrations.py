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
