from app import ConfigError, create_app


def test_factory_uses_given_config(app):
    assert app.testing
    assert not create_app({"TESTING": False}).testing


def test_production_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.setenv("RELAIS_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    try:
        create_app()
    except ConfigError as exc:
        assert "SECRET_KEY" in str(exc)
    else:
        raise AssertionError("production start-up accepted a missing SECRET_KEY")


def test_home_page_answers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Relais" in response.data


def test_one_migration_head(app):
    from alembic.script import ScriptDirectory
    from flask_migrate import Config

    config = Config(str(app.extensions["migrate"].directory) + "/alembic.ini")
    config.set_main_option("script_location", app.extensions["migrate"].directory)
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1
