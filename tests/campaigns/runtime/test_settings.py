"""Typed settings: the environment, then .env, then the defaults; a bad value
stops every command with one line and exit status 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app, main
from campaigns.runtime.settings import Settings, env_example

ROOT = Path(__file__).resolve().parents[3]
NAMES = [name.upper() for name in Settings.model_fields]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No Relais variable from outside, and an empty working directory (no .env)."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RELAIS_INSTANCE", str(tmp_path / "instance"))
    # FlaskGroup sets it for the process; let it be undone after the test.
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def relais(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The ``relais`` entry point in a process of its own, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-c", "from app import main; main()", *args],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


BAD_VALUES = [
    ("TRUSTED_PROXIES", "abc", "a whole number ≥ 0"),
    ("LIVE_STREAM_SECONDS", "-1", "a number > 0"),
    ("LIVE_MAX_STREAMS", "many", "a whole number ≥ 1"),
    ("RATELIMIT_AUTH", "ten a minute", "a rate limit such as '10 per minute'"),
    ("OPEN_DATA_RATE_LIMIT", "120 per fortnight", "a rate limit"),
    ("SMTP_URL", "smtq://mail.example.org", "smtp://, smtps://, smtp+starttls://"),
    ("RELAIS_ENV", "prod", "one of development, production, test"),
    ("RELAIS_LOG_FORMAT", "xml", "one of text, json"),
    ("OUTBOX_RATE_LIMITS", "email=fast", "channel=sends per second"),
    ("DATABASE_URL", "mysql://db/relais", "a postgresql://… or sqlite:///path URL"),
    ("PUBLIC_URL", "dons.example.org", "an http:// or https:// URL"),
    ("SHOW_SENT_MAIL", "perhaps", "1 or 0"),
    ("PORT", "70000", "a whole number from 1 to 65535"),
]


@pytest.mark.parametrize("args", [["orgs", "list"], ["--help"], []])
@pytest.mark.parametrize(("name", "value", "expects"), BAD_VALUES)
def test_a_bad_value_stops_any_command_with_one_line(
    clean_env, monkeypatch, capsys, args, name, value, expects
):
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["relais", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1, err
    assert err.startswith(f"Error: {name}") and expects in err, err
    assert "Traceback" not in out + err


def test_a_bad_value_is_one_line_and_status_2_for_the_real_command(tmp_path):
    done = relais(["orgs", "list"], tmp_path, TRUSTED_PROXIES="abc")
    assert done.returncode == 2
    assert done.stderr == (
        "Error: TRUSTED_PROXIES='abc' is not valid: it expects a whole number ≥ 0\n"
    )
    assert done.stdout == ""


def test_several_bad_values_are_named_on_one_line_and_secrets_are_not_repeated(
    clean_env, monkeypatch, capsys
):
    monkeypatch.setenv("SMTP_URL", "http://relais:hunter2@mail.example.org")
    monkeypatch.setenv("LIVE_HEARTBEAT_SECONDS", "0")
    monkeypatch.setattr(sys, "argv", ["relais", "orgs", "list"])
    with pytest.raises(SystemExit):
        main()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "SMTP_URL" in err and "LIVE_HEARTBEAT_SECONDS='0'" in err
    assert "hunter2" not in err


def test_production_without_secrets_is_one_line_too(clean_env, monkeypatch, capsys):
    monkeypatch.setenv("RELAIS_ENV", "Production")
    monkeypatch.setattr(sys, "argv", ["relais", "orgs", "list"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "SECRET_KEY, SECURITY_PASSWORD_SALT, DATABASE_URL" in err


def test_relais_env_is_read_in_any_case(clean_env, monkeypatch):
    monkeypatch.setenv("RELAIS_ENV", " PRODUCTION ")
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("SECURITY_PASSWORD_SALT", "salt")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{clean_env / 'relais.db'}")
    app = create_app()
    assert app.config["RELAIS_ENV"] == "production"
    assert app.config["PREFERRED_URL_SCHEME"] == "https"
    assert app.config["SECRET_KEY"] == "s3cret"
    assert app.config["SHOW_SENT_MAIL"] is False


def test_the_defaults_are_those_of_before(clean_env):
    config = create_app().config
    assert config["RELAIS_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{clean_env / 'instance' / 'relais.db'}"
    assert config["UPLOAD_FOLDER"] == str(clean_env / "instance" / "uploads")
    assert config["MAX_CONTENT_LENGTH"] == 8 * 1024 * 1024
    assert config["TRUSTED_PROXIES"] == 0
    assert config["SHOW_SENT_MAIL"] is True
    assert config["OUTBOX_RATE_LIMITS"] == {"email": 20.0, "x": 1.0, "facebook": 1.0}
    assert config["LIVE_MAX_STREAMS"] == 200
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_a_dotenv_value_is_used_and_the_environment_wins(clean_env, monkeypatch):
    (clean_env / ".env").write_text(
        "TRUSTED_PROXIES=2\nLIVE_MAX_STREAMS=7\nOUTBOX_RATE_LIMITS=email=5\n"
        'MAIL_FROM="Eau Vive <dons@example.org>"\nDATABASE_URL=postgres://db.example.org/relais\n'
    )
    config = create_app().config
    assert config["TRUSTED_PROXIES"] == 2
    assert config["LIVE_MAX_STREAMS"] == 7
    assert config["OUTBOX_RATE_LIMITS"] == {"email": 5.0}
    assert config["MAIL_FROM"] == config["SECURITY_EMAIL_SENDER"] == "Eau Vive <dons@example.org>"
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db.example.org/relais"

    monkeypatch.setenv("TRUSTED_PROXIES", "3")
    assert create_app().config["TRUSTED_PROXIES"] == 3


def test_the_relais_command_reads_dotenv_and_the_environment_wins(tmp_path):
    (tmp_path / ".env").write_text("TRUSTED_PROXIES=abc\n")
    done = relais(["--help"], tmp_path, RELAIS_INSTANCE=str(tmp_path / "instance"))
    assert done.returncode == 2
    assert "TRUSTED_PROXIES='abc'" in done.stderr
    assert "python-dotenv" not in done.stderr

    done = relais(["--help"], tmp_path, RELAIS_INSTANCE=str(tmp_path), TRUSTED_PROXIES="1")
    assert done.returncode == 0, done.stderr
    assert "python-dotenv" not in done.stderr
    assert "orgs" in done.stdout


def test_config_given_to_create_app_still_wins(clean_env, monkeypatch):
    monkeypatch.setenv("LIVE_STREAM_SECONDS", "30")
    app = create_app({"LIVE_STREAM_SECONDS": 1.5, "TESTING": True})
    assert app.config["LIVE_STREAM_SECONDS"] == 1.5


def test_env_example_lists_every_setting_with_its_default():
    text = (ROOT / ".env.example").read_text()
    assert text == env_example(), "run: python -m campaigns.runtime.settings > .env.example"
    assigned = re.findall(r"^([A-Z_]+)=", text, flags=re.MULTILINE)
    assert assigned == NAMES
    assert 'RATELIMIT_AUTH="10 per minute"' in text.splitlines()
    assert "TRUSTED_PROXIES=0" in text.splitlines()


def test_copying_env_example_to_dotenv_changes_nothing(clean_env):
    before = create_app().config
    (clean_env / ".env").write_text((ROOT / ".env.example").read_text())
    after = create_app().config
    for key in ("SQLALCHEMY_DATABASE_URI", "MAIL_FROM", "RATELIMIT_AUTH", "OUTBOX_RATE_LIMITS"):
        assert after[key] == before[key]
    assert Settings() == Settings(_env_file=None)


def test_the_readme_table_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", "\n".join(row.split(" | ")[0] for row in rows)))
    assert set(NAMES) <= named, sorted(set(NAMES) - named)
