"""Accounts (free agents and staff), organisation memberships, access tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_security import RoleMixin, UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint, exists
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db

agents_roles = db.Table(
    "agents_roles",
    db.Column("agent_id", db.Integer, db.ForeignKey("agents.id"), primary_key=True),
    db.Column("role_id", db.Integer, db.ForeignKey("roles.id"), primary_key=True),
)


class Role(db.Model, RoleMixin):
    """Site-wide roles (Flask-Security needs the table). Organisation roles are
    ``Membership`` rows instead."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    permissions: Mapped[str | None] = mapped_column(String(255))
    update_datetime: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Agent(db.Model, UserMixin):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null once the account is deleted (personal data erased, pages kept).
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    fs_uniquifier: Mapped[str] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str] = mapped_column(String(10), default="")
    bio: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles = relationship("Role", secondary=agents_roles, backref="agents")
    memberships: Mapped[list[Membership]] = relationship(back_populates="agent")
    profile: Mapped[Profile | None] = relationship(back_populates="agent", uselist=False)

    @property
    def display_name(self) -> str:
        return self.name or (self.email or "").split("@")[0]

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Profile(db.Model):
    """A free agent's public side, shown at ``/agents/<handle>`` once they choose to
    (off by default). The name and bio are the account's; a photo and links
    are the profile's own."""

    __tablename__ = "profiles"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    handle: Mapped[str] = mapped_column(String(40), unique=True)
    is_public: Mapped[bool] = mapped_column(default=False)
    photo: Mapped[str | None] = mapped_column(String(120))
    website_url: Mapped[str] = mapped_column(String(300), default="")
    blog_url: Mapped[str] = mapped_column(String(300), default="")
    x_url: Mapped[str] = mapped_column(String(300), default="")
    facebook_url: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    agent: Mapped[Agent] = relationship(back_populates="profile")


class MembershipRole(StrEnum):
    ADMIN = "admin"  # everything, including staff management
    STAFF = "staff"  # causes, projects, moderation, dashboard


class Membership(db.Model):
    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[MembershipRole] = mapped_column(String(20), default=MembershipRole.STAFF)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agent: Mapped[Agent] = relationship(back_populates="memberships")
    organisation = relationship("Organisation")

    __table_args__ = (UniqueConstraint("agent_id", "organisation_id"),)


# Read with the agent (an EXISTS on the memberships' agent index), so that the
# menu's "Staff" link costs no query of its own on every signed-in page. As of
# the agent's load: a membership made later in the same request shows next time.
Agent.has_memberships = column_property(
    exists().where(Membership.agent_id == Agent.id).correlate_except(Membership)
)


class TokenScope(StrEnum):
    READ = "read"  # reads as its agent: drafts and hidden pages it may see
    WRITE = "write"  # reads and writes


class AccessToken(db.Model):
    """A personal access token for the API; only its sha256 is stored."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scope: Mapped[TokenScope] = mapped_column(String(10), default=TokenScope.WRITE)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agent: Mapped[Agent] = relationship()

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now
