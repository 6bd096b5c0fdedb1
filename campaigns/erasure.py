"""What campaigns erases when an account is deleted (``agents.signals.account_deleted``).

Pages and money stay: a page keeps its owner row (anonymised by agents) and its
gifts; ledger rows are anonymised, never deleted, so totals still equal the ledger.

A gift the person gave (its donor email is theirs) is erased as a donor's
erasure on request is (``campaigns.donors.services.erase_donor``): amount, date,
page and the Stripe ids stay; a gift with an issued receipt keeps the name and
address the receipt states.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import delete, func, or_, select, update

from agents.signals import Erasure, account_deleted
from campaigns.audit import AuditEntry
from campaigns.donors.services import erase_donor
from campaigns.giving.models import Donation
from campaigns.offline.models import OfflineGift
from campaigns.pages.models import CohostInvite, Page, PageHost
from extensions import db


def _redact(rows, erasure: Erasure, fields: tuple[str, ...]) -> None:
    for row in rows:
        for field in fields:
            value = getattr(row, field)
            setattr(row, field, erasure.json(value) if value else value)


def erase_pages(erasure: Erasure) -> None:
    """Their pages stay online without their name; co-hosting and invitations go."""
    _redact(
        db.session.scalars(select(Page).where(Page.owner_id == erasure.agent_id)),
        erasure,
        ("title", "story", "city", "venue", "hidden_reason"),
    )
    db.session.execute(delete(PageHost).where(PageHost.agent_id == erasure.agent_id))
    sent_to_them = func.lower(CohostInvite.email) == erasure.email if erasure.email else False
    db.session.execute(
        delete(CohostInvite).where(
            or_(
                CohostInvite.invited_by_id == erasure.agent_id,
                CohostInvite.accepted_by_id == erasure.agent_id,
                sent_to_them,
            )
        )
    )


def erase_gifts(erasure: Erasure) -> None:
    """Gifts they gave lose the donor's details (see the module docstring); gifts to
    their pages lose their name in donors' messages."""
    if erasure.email:
        erase_donor(erasure.email, forget=erasure.forget)
    if erasure.forget:
        their_pages = select(Page.id).where(Page.owner_id == erasure.agent_id)
        _redact(
            db.session.scalars(
                select(Donation).where(
                    or_(Donation.page_id.in_(their_pages), Donation.event_id.in_(their_pages)),
                    erasure.mentions(Donation.message, Donation.donor_name),
                )
            ),
            erasure,
            ("message", "donor_name"),
        )
        _redact(
            db.session.scalars(
                select(OfflineGift).where(
                    or_(
                        OfflineGift.recorded_by_id == erasure.agent_id,
                        OfflineGift.page_id.in_(their_pages),
                    )
                )
            ),
            erasure,
            ("donor_name", "note", "reason"),
        )


def erase_audit(erasure: Erasure) -> None:
    """Audit entries stay (who did what is the organisation's record), without their name."""
    db.session.execute(
        update(AuditEntry).where(AuditEntry.actor_id == erasure.agent_id).values(actor_name="")
    )
    if erasure.forget:
        _redact(
            db.session.scalars(select(AuditEntry).where(erasure.mentions(AuditEntry.summary))),
            erasure,
            ("summary", "details"),
        )


def init_app(app: Flask) -> None:
    account_deleted.connect(erase_pages)
    account_deleted.connect(erase_gifts)
    account_deleted.connect(erase_audit)
