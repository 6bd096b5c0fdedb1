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


def test_nul_bytes_are_a_clear_400_never_a_500(client):
    for response in (
        client.get("/p/a%00b"),
        client.get("/api/v1/pages/a%00b"),
        client.get("/c/x", query_string={"q": "a\x00b"}),
        client.post(
            "/api/v1/pages", data='{"title": "a\\u0000b"}', content_type="application/json"
        ),
        client.post("/account/login", data={"email": "a\x00@b.org", "password": "x"}),
    ):
        assert response.status_code == 400


def test_sent_mail_page_is_off_when_smtp_is_configured(monkeypatch):
    monkeypatch.delenv("RELAIS_ENV", raising=False)
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:25")
    monkeypatch.delenv("SHOW_SENT_MAIL", raising=False)
    assert create_app().config["SHOW_SENT_MAIL"] is False
    monkeypatch.delenv("SMTP_URL")
    assert create_app().config["SHOW_SENT_MAIL"] is True


def test_client_address_comes_from_the_trusted_proxy(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    app = create_app({"TESTING": True})

    @app.get("/whoami")
    def whoami():
        from flask import request

        return f"{request.remote_addr} {request.scheme}"

    response = app.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    )
    assert response.text == "203.0.113.7 https"


def test_ids_too_large_for_a_key_are_404_not_500(client, login_as, db):
    from tests.factories import MembershipFactory

    staff = MembershipFactory()
    db.session.commit()
    login_as(staff.agent)
    org = staff.organisation.slug
    huge = "99999999999999999999"
    for path in (f"/mail/{huge}", f"/staff/{org}/broadcasts/{huge}", f"/staff/{org}/outbox/"):
        response = client.get(path)
        assert response.status_code in (200, 404), path
    assert client.get(f"/staff/{org}/broadcasts/{huge}").status_code == 404
    response = client.post(
        f"/staff/{org}/broadcasts/new",
        data={"cause_id": huge, "template_id": huge, "event_id": huge, "action": "preview"},
    )
    assert response.status_code in (200, 422)
