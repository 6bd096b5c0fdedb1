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


@pytest.mark.parametrize("backend", BACKENDS)
def test_donor_ids_are_filled_in_and_the_donor_sets_keep_their_donors(backend, tmp_path, worker_id):
    """0023 gives every ledger row the id the code gives it, and converts the
    donor sets the totals hold: the same donors, counted the same way after."""
    from datetime import UTC, datetime

    from sqlalchemy import select, text

    from campaigns.giving.ledger import donor_key_for
    from campaigns.giving.models import donor_id_for
    from campaigns.totals import services as totals
    from campaigns.totals.models import TotalDonor

    name = f"relais_donor_ids_{worker_id}"
    app = create_app(app_config(fresh_database_url(backend, tmp_path, name), tmp_path))
    keys = [donor_key_for("ana@example.org"), donor_key_for("bo@example.org"), "row:3", ""]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="0022_monthly_covers")
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO organisations (id, slug, name, legal_name, address, website,"
                        " currency, locale, suggested_amounts, min_amount_minor,"
                        " max_amount_minor, open_data_k_floor, receipt_prefix,"
                        " issues_tax_receipts, created_at) VALUES (1, 'o', 'O', 'O', '', '',"
                        " 'EUR', 'fr', '[]', 100, 100000, 3, 'R', :no, :now)"
                    ),
                    {"no": False, "now": now},
                )
                connection.execute(
                    text(
                        "INSERT INTO donations (id, kind, organisation_id, amount_minor, currency,"
                        " donor_key, donor_name, donor_email, message, is_anonymous,"
                        " is_unattributed, payment_method, created_at) VALUES (:id, 'gift', 1,"
                        " 1000, 'EUR', :key, '', '', '', :no, :no, 'card', :now)"
                    ),
                    [{"id": n, "key": key, "no": False, "now": now} for n, key in enumerate(keys)],
                )
                connection.execute(
                    text(
                        "INSERT INTO totals (scope, scope_id, slot, raised_minor, donation_count,"
                        " donor_count) VALUES ('organisation', 1, 0, 4000, 4, 3)"
                    )
                )
                connection.execute(
                    text(
                        "INSERT INTO total_donors (scope, scope_id, donor_key)"
                        " VALUES ('organisation', 1, :key)"
                    ),
                    [{"key": key} for key in keys if key],
                )
            flask_migrate.upgrade()
            ids = dict(db.session.execute(text("SELECT donor_key, donor_id FROM donations")).all())
            assert ids == {key: donor_id_for(key) for key in keys}
            assert ids[""] is None and len({ids[key] for key in keys[:3]}) == 3
            donors = set(db.session.execute(select(TotalDonor.donor_id)).scalars())
            assert donors == {donor_id_for(key) for key in keys if key}
            assert totals.drift() == []
            primary_key = inspect(db.engine).get_pk_constraint("total_donors")
            assert primary_key["constrained_columns"] == ["scope_id", "donor_id", "scope"]
            db.session.remove()
            # Going back recomputes the text-keyed sets from the ledger.
            flask_migrate.downgrade(revision="0022_monthly_covers")
            with db.engine.connect() as connection:
                back = set(connection.execute(text("SELECT donor_key FROM total_donors")).scalars())
            assert back == {key for key in keys if key}
            db.engine.dispose()
    finally:
        drop_database(backend, name)
