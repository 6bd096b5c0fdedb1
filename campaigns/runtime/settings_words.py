"""Settings in words: what a bad value should have been, and ``.env.example``."""

from __future__ import annotations

import types
import typing
from typing import Literal

from pydantic import SecretStr


def problem(error: dict, fields: dict, unshown: set[str]) -> str:
    """One pydantic error as a line: the variable, its value (unless secret), what it expects."""
    name = str(error["loc"][0]) if error["loc"] else ""
    field = fields.get(name)
    if error["type"] == "value_error":
        expects = str(error["ctx"]["error"])
    elif field is not None:
        expects = expects_of(field)
    else:
        expects = error["msg"]
    shown = "" if name in unshown else f"={error['input']!r}"
    return f"{name.upper()}{shown} is not valid: it expects {expects}"


def expects_of(field) -> str:
    """What a field accepts, in words: 'a whole number ≥ 0', 'one of text, json'."""
    kind = field.annotation
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # int | None
        kind = next(t for t in typing.get_args(kind) if t is not type(None))
    if typing.get_origin(kind) is Literal:
        return "one of " + ", ".join(typing.get_args(kind))
    words = {int: "a whole number", float: "a number", bool: "1 or 0 (true/false, yes/no)"}
    text = words.get(kind, "text")
    bounds = {a: getattr(m, a) for m in field.metadata for a in ("ge", "gt", "le") if hasattr(m, a)}
    if "ge" in bounds and "le" in bounds:
        return f"{text} from {bounds['ge']} to {bounds['le']}"
    for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤")):
        if attribute in bounds:
            text += f" {sign} {bounds[attribute]}"
    return text


def env_file(fields: dict) -> str:
    """The text of ``.env.example``: every setting with its comment and default."""
    lines = [
        "# Relais settings. Copy this file to .env in the folder you start relais from;",
        "# a variable set in the environment wins over .env. Empty means the default.",
        "# Regenerate: python -m campaigns.runtime.settings > .env.example",
    ]
    for name, field in fields.items():
        lines += ["", f"# {field.description}", f"{name.upper()}={_example(field.default)}"]
    return "\n".join(lines) + "\n"


def _example(default) -> str:
    if isinstance(default, SecretStr):
        default = default.get_secret_value()
    if default is None:
        return ""
    if isinstance(default, bool):
        return "1" if default else "0"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    text = str(default)
    # Quoted when it has spaces or <>: .env, systemd and compose read it the same.
    return f'"{text}"' if any(c in text for c in " <>") else text
