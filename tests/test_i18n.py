"""The French catalog is complete and its compiled .mo matches the .po."""

from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations/fr/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


def test_compiled_catalog_is_up_to_date():
    with PO.open("rb") as f:
        catalog = read_po(f)
    out = BytesIO()
    write_mo(out, catalog)
    assert MO.read_bytes() == out.getvalue(), "run: pybabel compile -d translations"


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
