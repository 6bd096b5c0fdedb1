"""What agents erases when an account is deleted: its own tables."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import delete

from agents.models import AccessToken, Agent, Membership, Profile, agents_roles
from agents.signals import Erasure, account_deleted
from campaigns import unit_of_work
from campaigns.model_types import utcnow
from extensions import db


def erase_account(erasure: Erasure) -> None:
    """The account row stays (pages point to it), with nothing personal left."""
    agent = db.session.get(Agent, erasure.agent_id)
    agent.email = None
    agent.name = ""
    agent.bio = ""
    agent.locale = ""
    agent.password = None
    agent.active = False
    agent.confirmed_at = None
    agent.fs_uniquifier = uuid.uuid4().hex  # ends every session
    agent.deleted_at = agent.deleted_at or utcnow()
    db.session.execute(delete(agents_roles).where(agents_roles.c.agent_id == agent.id))
    db.session.execute(delete(Membership).where(Membership.agent_id == agent.id))
    db.session.execute(delete(AccessToken).where(AccessToken.agent_id == agent.id))
    profile = db.session.get(Profile, agent.id)
    if profile is not None:
        if profile.photo:
            folder = Path(current_app.config["UPLOAD_FOLDER"])
            photo = folder / profile.photo
            # Their face is personal data: gone with the account, once that is committed.
            unit_of_work.after_commit(lambda: photo.unlink(missing_ok=True))
        db.session.delete(profile)


def init_app(app: Flask) -> None:
    account_deleted.connect(erase_account)
