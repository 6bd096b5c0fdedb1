"""The demo: a French organisation's Twestival-style day, seeded once."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.models import Organisation
from extensions import db

DEMO_ORG_SLUG = "eau-vive"


def seed() -> bool:
    """Create the demo data unless it is there; returns whether it was created."""
    if db.session.scalar(select(Organisation.id).where(Organisation.slug == DEMO_ORG_SLUG)):
        return False
    db.session.add(Organisation(slug=DEMO_ORG_SLUG, name="Eau Vive", currency="EUR", locale="fr"))
    db.session.commit()
    return True
