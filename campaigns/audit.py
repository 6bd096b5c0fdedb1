"""The staff audit log: who changed money or visibility, when, and why.

Services call ``record`` in the same transaction as the change, so an entry
exists exactly when the change was committed. Entries are never edited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.model_types import UTCDateTime, utcnow
from extensions import db


class AuditEntry(db.Model):
    """One staff action that changed money or visibility; append-only."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # The actor's name is copied: the entry outlives the account.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(40))  # "page.hide", "offline.confirm", …
    subject_type: Mapped[str] = mapped_column(String(40), default="")
    subject_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(500), default="")
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_audit_entries_organisation_created", "organisation_id", "created_at"),
    )


def record(
    organisation_id: int,
    actor,
    action: str,
    summary: str,
    *,
    subject=None,
    amount_minor: int | None = None,
    currency: str | None = None,
    details: dict | None = None,
) -> AuditEntry:
    """Add one entry; ``actor`` is the acting agent (None for the CLI or a job),
    ``subject`` the changed row (its table name and id are kept)."""
    entry = AuditEntry(
        organisation_id=organisation_id,
        actor_id=actor.id if actor is not None else None,
        actor_name=(actor.name or actor.email or "") if actor is not None else "",
        action=action,
        subject_type=subject.__tablename__ if subject is not None else "",
        subject_id=subject.id if subject is not None else None,
        summary=summary[:500],
        amount_minor=amount_minor,
        currency=currency,
        details=details or {},
    )
    db.session.add(entry)
    return entry


def latest(organisation_id: int, limit: int = 50, before_id: int | None = None) -> list[AuditEntry]:
    """The newest entries of an organisation, newest first (keyset paging)."""
    query = select(AuditEntry).where(AuditEntry.organisation_id == organisation_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
