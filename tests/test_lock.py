"""The committed lock files pin every dependency pyproject.toml asks for."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    return {_canonical(m[1]): m[2] for m in PIN.finditer(text)}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock", "extras"), [("main.txt", ()), ("test.txt", ("test",))], ids=["main", "test"]
)
def test_lock_pins_every_dependency_within_its_range(lock, extras):
    project = _project()
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    pins = _pins(lock)
    problems = []
    for line in wanted:
        requirement = Requirement(line)
        version = pins.get(_canonical(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in requirements/{lock}")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    assert not problems, "run requirements/lock: " + "; ".join(problems)


def test_every_pin_carries_a_hash():
    for lock in ("main.txt", "test.txt"):
        text = (ROOT / "requirements" / lock).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
        unhashed = [b.split()[0] for b in blocks if "==" in b and "--hash=sha256:" not in b]
        assert not unhashed, f"requirements/{lock}: no hash for {unhashed}"
