"""The French catalog is complete and its compiled .mo matches the .po."""

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations/fr/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


def _entries(catalog, *, skip_fuzzy):
    """What gettext will answer from a catalog: (context, id) -> translation(s).

    Compared as content, not bytes: the .mo's header names the Babel version that
    wrote it, so a byte comparison fails whenever a fresh install resolves another
    Babel release, although the translations are the same.
    """
    entries = {}
    for message in catalog:
        if not message.id or (skip_fuzzy and message.fuzzy) or not message.string:
            continue
        entries[(message.context, _plain(message.id))] = _plain(message.string)
    return entries


def _plain(value):
    # Plural ids and strings come back as tuples from the .po, lists from the .mo.
    return tuple(value) if isinstance(value, list | tuple) else value


def test_compiled_catalog_is_up_to_date():
    with PO.open("rb") as f:
        source = read_po(f)
    with MO.open("rb") as f:
        compiled = read_mo(f)
    # pybabel compile leaves fuzzy entries out of the .mo.
    assert _entries(compiled, skip_fuzzy=False) == _entries(source, skip_fuzzy=True), (
        "run: pybabel compile -d translations"
    )
    assert compiled.plural_forms == source.plural_forms, "run: pybabel compile -d translations"


def test_catalog_check_notices_a_stale_mo(tmp_path):
    """The comparison above fails when a translation changes in the .po only."""
    with PO.open("rb") as f:
        source = read_po(f)
    with MO.open("rb") as f:
        compiled = read_mo(f)
    message = next(m for m in source if m.id and isinstance(m.string, str) and m.string)
    message.string += " (changed)"
    assert _entries(compiled, skip_fuzzy=False) != _entries(source, skip_fuzzy=True)


def test_every_message_is_translated():
    with PO.open("rb") as f:
        catalog = read_po(f)
    missing = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not missing, f"untranslated: {missing[:10]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:10]}"


def test_french_pages_are_in_french(client):
    response = client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert b'lang="fr"' in response.data
    assert b"Aller au contenu" in response.data
    response = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert b"Skip to content" in response.data


def test_every_source_message_is_in_the_catalog():
    """A string added to the code without a French translation fails here."""
    from babel.messages.extract import extract_from_dir

    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    method_map = [
        ("app.py", "python"),
        ("agents/**.py", "python"),
        ("campaigns/**.py", "python"),
        ("messaging/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    skip = {".venv", ".git", "tests", "instance", "node_modules", "bench", "migrations"}
    with PO.open("rb") as f:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    found = [
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            ROOT,
            method_map=method_map,
            keywords=keywords,
            directory_filter=lambda path: Path(path).name not in skip,
        )
    ]
    assert len(found) > 300, "the extraction found too few messages: check method_map"
    missing = sorted({m for m in found if m and m not in known})
    assert not missing, f"not in translations/fr (pybabel extract/update): {missing[:10]}"
