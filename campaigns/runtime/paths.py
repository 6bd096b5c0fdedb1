"""Where Relais finds its folders, in a checkout and in an installed wheel.

``templates/``, ``static/``, ``migrations/`` and ``translations/`` live at the
top of the repository, beside ``app.py``. A wheel installs them under one
namespace it owns, ``relais_assets`` (see ``setup.py``), never as generic
top-level names in site-packages. The instance folder (the default SQLite
file, uploads) is beside ``app.py`` in a checkout, and in the current working
directory otherwise, so that nothing is ever written inside site-packages;
``RELAIS_INSTANCE`` overrides both.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# campaigns/runtime/paths.py -> the folder that holds app.py and campaigns/.
ROOT = Path(__file__).resolve().parents[2]
ASSET_NAMESPACE = "relais_assets"


def checkout() -> Path | None:
    """The source tree Relais runs from (plain or editable install), or None
    when it runs from an installed wheel."""
    if (ROOT / "pyproject.toml").is_file() and (ROOT / "migrations" / "env.py").is_file():
        return ROOT
    return None


def asset_folder(name: str) -> Path:
    """``templates``, ``static``, ``migrations`` or ``translations``."""
    source = checkout()
    if source is not None:
        return source / name
    spec = importlib.util.find_spec(ASSET_NAMESPACE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"Relais' {name}/ folder is missing: this installation has neither a checkout "
            f"beside app.py nor the {ASSET_NAMESPACE} package. Reinstall Relais "
            "(pip install --no-deps .)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / name


def instance_folder() -> Path:
    """``RELAIS_INSTANCE``, else ``instance/`` beside app.py in a checkout, else
    ``instance/`` in the current working directory."""
    configured = os.environ.get("RELAIS_INSTANCE")
    if configured:
        return Path(configured).resolve()
    return (checkout() or Path.cwd()) / "instance"
