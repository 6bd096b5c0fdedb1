"""Input rules every area shares: slugs, short texts, goals, dates."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from extensions import db

MAX_GOAL_MINOR = 100_000_000_00  # 100 million in major units
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = {"new", "edit", "api", "admin", "staff", "static", "media", "account", "me"}


# --- slugs -----------------------------------------------------------------


def slugify(text: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "page"


def _slug_taken(model, slug: str, exclude_id: int | None = None) -> bool:
    query = select(model.id).where(func.lower(model.slug) == slug.lower())
    if exclude_id:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query) is not None


def suggest_slug(model, title: str) -> str:
    """A free slug from a title: 'lyon-twestival', then 'lyon-twestival-2', …"""
    base = slugify(title)
    if base in RESERVED_SLUGS:
        base = f"{base}-page"
    candidate, n = base, 1
    while _slug_taken(model, candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def check_slug(model, slug: str, exclude_id: int | None = None) -> str | None:
    """An error message for a slug, or None when it can be used."""
    if not slug or len(slug) > 80 or not SLUG_RE.match(slug):
        return _("Use lower-case letters, digits and dashes only (for example lyon-2026).")
    if slug in RESERVED_SLUGS:
        return _("This address is reserved. Choose another one.")
    if _slug_taken(model, slug, exclude_id):
        return _("This address is already taken. Choose another one.")
    return None


# --- input -----------------------------------------------------------------


def text_field(
    data: dict,
    key: str,
    errors: dict,
    *,
    max_length: int,
    required: bool = False,
    required_message: str | None = None,
) -> str:
    """``data[key]`` as stripped text; what is wrong with it goes to ``errors[key]``."""
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        errors[key] = _("This must be text.")
        return ""
    value = value.strip()
    if required and not value:
        errors[key] = required_message or _("This field is required.")
    elif len(value) > max_length:
        errors[key] = _("Keep this under %(n)s characters.", n=max_length)
    return value


def as_text(value: Any, max_length: int) -> str:
    """Any value as text that can be stored: a string without NUL (PostgreSQL
    refuses it), stripped and cut to ``max_length``; anything else empty. For
    what must be recorded whatever it is, such as Stripe's data."""
    return value.replace("\x00", "").strip()[:max_length] if isinstance(value, str) else ""


def parse_goal(value: Any) -> int:
    """A goal in minor units: a whole number from 0 up; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise ValueError("not an integer")
    if value < 0 or value > MAX_GOAL_MINOR:
        raise ValueError("out of range")
    return value


def parse_datetime(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError("not a date")
    if parsed.tzinfo is None:
        # A naive time is the organiser's wall clock; the demo organisation is in Paris.
        from zoneinfo import ZoneInfo

        parsed = parsed.replace(tzinfo=ZoneInfo("Europe/Paris"))
    from datetime import UTC

    return parsed.astimezone(UTC)


def web_address(value: str | None, *, max_length: int = 300) -> str:
    """An http(s) address as typed ('example.org' gets https://); ValueError
    for anything else (javascript:, a space, no host, too long)."""
    from urllib.parse import urlsplit

    text = (value or "").strip()
    if not text:
        return ""
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if (
        parts.scheme not in ("http", "https")
        or "." not in host
        or any(c.isspace() or ord(c) < 32 for c in text)
        or len(text) > max_length
    ):
        raise ValueError("not a web address")
    return text
