"""What campaigns erases when an account is deleted (``agents.signals.account_deleted``).

Pages and money stay: a page keeps its owner row (anonymised by agents) and its
gifts; ledger rows are anonymised, never deleted, so totals still equal the ledger.

A gift the person gave (its donor email is theirs) is the donor's personal data:
name, email, message and postal address are erased; amount, date, page and the
Stripe ids stay. Except on a gift whose tax receipt (reçu fiscal) was issued:
the organisation must keep the receipt's duplicate for six years (French Livre
des procédures fiscales, art. L102 E), so that gift keeps the donor's name and
postal address as the receipt states them; its email and message still go.
"""

from __future__ import annotations

import secrets

from flask import Flask
from sqlalchemy import delete, func, or_, select, update

from agents.signals import Erasure, account_deleted
from campaigns.audit import AuditEntry
from campaigns.giving.models import Donation, PendingGift, StripeEvent
from campaigns.offline.models import OfflineGift
from campaigns.pages.models import CohostInvite, Page, PageHost
from campaigns.totals.models import TotalDonor
from extensions import db

DONOR_ADDRESS = ("donor_address_line", "donor_postal_code", "donor_city", "donor_country")


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
        given = list(
            db.session.scalars(
                select(Donation).where(func.lower(Donation.donor_email) == erasure.email)
            )
        )
        # The donor key is an unsalted hash of the address: a new random key, the
        # same for all their rows and in total_donors, keeps donor counts exact.
        new_key = secrets.token_hex(32)
        for old_key in {g.donor_key for g in given if not g.donor_key.startswith("row:")}:
            db.session.execute(
                update(Donation).where(Donation.donor_key == old_key).values(donor_key=new_key)
            )
            db.session.execute(
                update(TotalDonor).where(TotalDonor.donor_key == old_key).values(donor_key=new_key)
            )
        for gift in given:
            gift.donor_email = ""
            gift.message = ""
            gift.is_anonymous = True
            if gift.receipt_number is None:  # an issued receipt is a legal record
                gift.donor_name = ""
                for field in DONOR_ADDRESS:
                    setattr(gift, field, "")
        intents = [g.stripe_payment_intent_id for g in given if g.stripe_payment_intent_id]
        if intents:
            _redact(
                db.session.scalars(
                    select(StripeEvent).where(StripeEvent.stripe_payment_intent_id.in_(intents))
                ),
                erasure,
                ("detail", "payload"),
            )
        db.session.execute(
            update(PendingGift)
            .where(func.lower(PendingGift.donor_email) == erasure.email)
            .values(donor_name="", donor_email="", message="", **dict.fromkeys(DONOR_ADDRESS, ""))
        )
        db.session.execute(
            update(OfflineGift)
            .where(func.lower(OfflineGift.donor_email) == erasure.email)
            .values(donor_name="", donor_email="", note="", **dict.fromkeys(DONOR_ADDRESS, ""))
        )
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
