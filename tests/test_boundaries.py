"""The house rules the folder tree stands for: no import loops between modules,
and campaigns never imports messaging (messaging listens to campaigns' signals
and answers its questions through them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agents", "campaigns", "messaging")
# Where campaigns still reaches into messaging, each for a reason of its own:
# the demo command runs the scheduler in its process, and the metrics endpoint
# counts the outbox.
CAMPAIGNS_MAY_IMPORT_MESSAGING = {
    "campaigns/demo/cli.py",
    "campaigns/runtime/metrics.py",
}


def modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py", "extensions": ROOT / "extensions.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(tree: ast.AST, *, top_level_only: bool) -> set[str]:
    """Modules a file imports; with ``top_level_only``, only those imported when
    the module itself is (not inside functions nor under TYPE_CHECKING)."""
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_campaigns_does_not_import_messaging():
    offenders = set()
    for name, path in modules().items():
        if name.startswith("campaigns"):
            tree = ast.parse(path.read_text())
            if any(m.split(".")[0] == "messaging" for m in imported(tree, top_level_only=False)):
                offenders.add(str(path.relative_to(ROOT)))
    assert offenders <= CAMPAIGNS_MAY_IMPORT_MESSAGING, offenders - CAMPAIGNS_MAY_IMPORT_MESSAGING


def test_no_import_loops():
    known = modules()
    graph = {
        name: {m for m in imported(ast.parse(path.read_text()), top_level_only=True) if m in known}
        - {name}
        for name, path in known.items()
    }
    loops = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                loops.append(" -> ".join([*path[path.index(other) :], other]))
            elif other not in state:
                visit(other, [*path, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert loops == []
