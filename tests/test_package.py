"""The wheel, installed in a fresh venv outside the checkout, migrates and serves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.served import get, output, server_process, stop

ROOT = Path(__file__).resolve().parent.parent
# Not in the wheel, or made by tools: left out of the copy it is built from.
NOT_COPIED = {".git", ".venv", "build", "dist", "instance", "tests", "bench", "docs", ".env"}
ASSETS = ("templates", "static", "migrations", "translations")


def not_copied(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == ROOT
    return {
        name
        for name in names
        if (top and name in NOT_COPIED)
        or name in ("__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis")
        or name.endswith(".egg-info")
    }


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=600, **kwargs
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_the_installed_wheel_migrates_and_serves_from_any_folder(tmp_path):
    # Built from a copy: a build in the checkout would leave build/ there, and
    # setuptools reuses build/lib, so a deleted module could ship.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=not_copied)
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, source])
    (wheel,) = dist.glob("relais-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "relais_assets/templates/error.html",
        "relais_assets/static/relais.css",
        "relais_assets/migrations/env.py",
        "relais_assets/migrations/alembic.ini",
        "relais_assets/migrations/script.py.mako",
        "relais_assets/migrations/versions/0001_foundation.py",
        "relais_assets/translations/fr/LC_MESSAGES/messages.po",
        "relais_assets/translations/fr/LC_MESSAGES/messages.mo",
    ):
        assert needed in names
    assert not {name.split("/")[0] for name in names} & {*ASSETS, "instance"}

    venv = tmp_path / "venv"
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run([sys.executable, "-m", "venv", venv], env=pip_env)
    pip = venv / "bin" / "pip"
    requirements = ROOT / "requirements" / "main.txt"
    run([pip, "install", "-q", "--require-hashes", "-r", requirements], env=pip_env)
    run([pip, "install", "-q", "--no-deps", wheel], env=pip_env)

    site = tmp_path / "site"  # the working directory: no checkout in sight
    site.mkdir()
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{site / 'relais.db'}"}
    where = run(
        [venv / "bin" / "python", "-c", "import app; print(app.__file__)"], env=env, cwd=site
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)  # not the checkout's app.py
    relais = venv / "bin" / "relais"
    run([relais, "db", "upgrade"], env=env, cwd=site)
    run([relais, "demo", "--no-serve"], env=env, cwd=site)  # seeds a published cause

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(relais), "serve", "--port", str(port)]
    logs = tmp_path / "logs"
    with server_process(command, env=env, cwd=site, port=port, logs=logs) as server:
        status, body = get(base + "/api/v1/causes")
        assert status == 200, body
        slug = json.loads(body)["causes"][0]["slug"]
        assert get(base + "/")[0] == 200
        assert "Des causes à soutenir" in get(base + "/", language="fr")[1]  # the catalogue
        assert get(base + f"/c/{slug}")[0] == 200
        status, body = get(base + "/open/datapackage.json")
        assert status == 200
        assert json.loads(body)["resources"]
        assert get(base + "/static/relais.css")[0] == 200
        assert stop(server) == 0, output(logs)
    assert (site / "instance").is_dir()
    assert not list(venv.glob("lib/python*/site-packages/instance"))
