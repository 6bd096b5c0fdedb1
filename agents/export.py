"""Everything Relais holds about an agent, as one ZIP file (GDPR art. 15 and 20).

The rows are found from the schema itself rather than from a list kept by hand:
every table's rows that point at the agent (a foreign key to ``agents``) or carry
their email address (``email``, ``donor_email``, ``recipient``), the Stripe events
of the gifts they gave, and the photos those rows name. A table added later is
exported without anyone remembering to. Secrets are left out: password hashes,
token hashes, encrypted credentials, session keys and donor keys (a hash of the
address) say nothing to the person and would help an attacker.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path

from flask import current_app
from sqlalchemy import Table, func, or_, select

from campaigns.model_types import utcnow
from extensions import db

EMAIL_COLUMNS = ("email", "donor_email", "recipient", "sponsor_email")
SECRET = re.compile(r"password|secret|token_hash|credentials|uniquifier|donor_(key|id)|^tf_|^us_")
PHOTO = re.compile(r"^[0-9a-f]{32}\.jpg$")
README = """\
This archive holds every record Relais keeps about you, as JSON in data.json:
one list of rows per table, with the columns as they are stored. Amounts are
in minor units (cents). Photos named by those rows are in photos/.

Left out on purpose: your password hash, the hashes of your tokens, the
encrypted keys of your connected social accounts and other secrets.
"""


def _agent_columns(table: Table) -> list:
    return [
        column
        for column in table.columns
        if any(fk.column.table.name == "agents" for fk in column.foreign_keys)
    ]


def _about(table: Table, agent_id: int, email: str):
    """A filter on ``table`` for the rows about the agent, or None."""
    if table.name == "agents":
        return table.c.id == agent_id
    tests = [column == agent_id for column in _agent_columns(table)]
    if email:
        tests += [func.lower(table.c[name]) == email for name in EMAIL_COLUMNS if name in table.c]
    return or_(*tests) if tests else None


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


def _rows(table: Table, where) -> list[dict]:
    columns = [c for c in table.columns if not SECRET.search(c.name)]
    result = db.session.execute(select(*columns).where(where).order_by(*table.primary_key))
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in result]


def personal_data(agent) -> dict:
    """The agent's rows, table by table (tables with no row about them left out)."""
    email = (agent.email or "").strip().lower()
    tables: dict[str, list[dict]] = {}
    for table in db.metadata.sorted_tables:
        where = _about(table, agent.id, email)
        if where is None:
            continue
        rows = _rows(table, where)
        if rows:
            tables[table.name] = rows
    intents = [
        row["stripe_payment_intent_id"]
        for row in tables.get("donations", [])
        if row.get("stripe_payment_intent_id")
    ]
    if intents and "stripe_events" in db.metadata.tables:
        events = db.metadata.tables["stripe_events"]
        rows = _rows(events, events.c.stripe_payment_intent_id.in_(intents))
        if rows:
            tables["stripe_events"] = rows
    return {"generated_at": utcnow().isoformat(), "agent_id": agent.id, "tables": tables}


def _photo_names(data: dict) -> set[str]:
    return {
        value
        for rows in data["tables"].values()
        for row in rows
        for name, value in row.items()
        if "photo" in name and isinstance(value, str) and PHOTO.match(value)
    }


def personal_data_zip(agent) -> bytes:
    """data.json, README.txt and photos/ in one ZIP."""
    data = personal_data(agent)
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=1, default=str))
        for name in sorted(_photo_names(data)):
            path = folder / name
            if path.is_file():
                archive.write(path, f"photos/{name}")
    return out.getvalue()
