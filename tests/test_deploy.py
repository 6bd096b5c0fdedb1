"""Dockerfile, compose.yaml and the systemd units: they cannot be built or run
here (no Docker engine, no image pulls); what can be checked is."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def relais_commands() -> list[list[str]]:
    """Every `relais …` command line the deploy files run."""
    commands = [service.get("command") for service in compose()["services"].values()]
    cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.M)
    commands.append(json.loads(cmd[1]))
    for unit in UNITS:
        for line in re.findall(r"^ExecStart(?:Pre)?=(.+)$", unit.read_text(), re.M):
            commands.append(shlex.split(line))
    return [c for c in commands if c and Path(c[0]).name == "relais"]


def test_every_relais_command_they_run_exists(runner):
    commands = relais_commands()
    assert {" ".join(c[1:]) for c in commands} >= {"serve", "scheduler", "worker", "db upgrade"}
    for command in commands:
        result = runner.invoke(args=[*command[1:], "--help"])
        assert result.exit_code == 0, f"{command}: {result.output}"


def test_compose_migrates_once_before_the_others_start():
    services = compose()["services"]
    for name in ("web", "scheduler", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "db", "redis"):
        assert services[name]["healthcheck"]["test"]
    assert services["web"]["environment"]["HOST"] == "0.0.0.0"  # noqa: S104 - in its container


def test_health_checks_are_python_that_asks_a_path_that_answers(client):
    dockerfile = (ROOT / "Dockerfile").read_text()
    checks = [
        re.search(r'^HEALTHCHECK .*\\\n\s+CMD python -c "(.+)"$', dockerfile, re.M)[1],
        compose()["services"]["web"]["healthcheck"]["test"][-1],
    ]
    for code in checks:
        compile(code, "<healthcheck>", "exec")
        path = re.search(r"http://127\.0\.0\.1:[^/']*(/[^']*)'", code)[1]
        assert client.get(path).status_code == 200, code


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_units_verify(tmp_path):
    # verify wants ExecStart='s program to exist: this venv's relais stands in for /opt/relais's.
    relais = str(Path(sys.executable).with_name("relais"))
    for unit in UNITS:
        text = unit.read_text().replace("/opt/relais/bin/relais", relais)
        (tmp_path / unit.name).write_text(text)
    names = [f"./{unit.name}" for unit in UNITS] + ["./relais-worker@1.service"]
    result = subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=tmp_path, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
