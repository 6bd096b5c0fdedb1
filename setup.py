"""Which files the wheel holds; the project's metadata is in pyproject.toml.

templates/, static/, migrations/ and translations/ stay at the top of the
repository, but a wheel installs them as ``relais_assets/<folder>/`` — one
namespace Relais owns — instead of as generic top-level names (``templates``,
``migrations``) in site-packages, where they would clash with other
distributions. campaigns/runtime/paths.py finds them at run time. This needs
``package_dir``, which pyproject.toml's ``[tool.setuptools]`` cannot combine
with package discovery, hence this file.
"""

from setuptools import find_namespace_packages, find_packages, setup

# Each folder's files, matched in it and in every folder below it.
ASSETS = {
    "templates": ["*"],
    "static": ["*"],
    "translations": ["*.po", "*.mo"],
    # env.py and versions/*.py are modules of these packages, so they are in too.
    "migrations": ["alembic.ini", "script.py.mako", "README"],
}


def asset_packages(folder: str) -> list[str]:
    """relais_assets.<folder> and one package per folder below it: setuptools
    counts every folder as an importable (namespace) package."""
    below = find_namespace_packages(where=folder, exclude=["__pycache__", "*.__pycache__"])
    return [f"relais_assets.{folder}", *(f"relais_assets.{folder}.{name}" for name in below)]


setup(
    py_modules=["app", "extensions"],
    packages=[
        *find_packages(include=["campaigns*", "agents*", "messaging*"]),
        *(name for folder in ASSETS for name in asset_packages(folder)),
    ],
    package_dir={f"relais_assets.{folder}": folder for folder in ASSETS},
    package_data={
        name: globs for folder, globs in ASSETS.items() for name in asset_packages(folder)
    },
)
