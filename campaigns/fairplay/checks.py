"""Which gifts look unfair, checked as each gift is recorded (the receivers of
``gift_recorded`` and ``card_seen``, inside the gift's transaction).

- **Self-gift**: the donor's address is the page owner's (or a co-host's), of
  the page or of the event it counts in; or the card (Stripe's fingerprint)
  is one that such an address gave with, in the same organisation.
- **Velocity**: a burst of small gifts from one card or one address —
  ``FAIRPLAY_VELOCITY_COUNT`` gifts of at most ``FAIRPLAY_SMALL_GIFT_MINOR``
  within ``FAIRPLAY_VELOCITY_MINUTES`` — flags every gift of the burst.

A flag only asks staff to look: the gift counts everywhere until staff
exclude it (``campaigns.fairplay.services``). Each check is a few indexed
reads; the card may be known only later (the fee lookup's charge), and is
checked then.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from agents.models import Agent
from campaigns.fairplay.models import FairPlayFlag, FlagReason, FlagStatus, GiftCard
from campaigns.giving.ledger import donor_key_for
from campaigns.giving.models import Donation, DonationKind
from campaigns.model_types import utcnow
from campaigns.pages.models import Page, PageHost
from extensions import db, dialect_insert

# Gifts a donor chose to make (a card gift, or cash an agent recorded).
CHECKED_KINDS = (DonationKind.GIFT, DonationKind.OFFLINE)
DEFAULTS = {
    "FAIRPLAY_VELOCITY_MINUTES": 60,
    "FAIRPLAY_VELOCITY_COUNT": 5,
    "FAIRPLAY_SMALL_GIFT_MINOR": 500,
}


def setting(name: str):
    return current_app.config.get(name, DEFAULTS[name])


def _window() -> timedelta:
    return timedelta(minutes=float(setting("FAIRPLAY_VELOCITY_MINUTES")))


def _is_small(amount_minor: int) -> bool:
    return amount_minor <= int(setting("FAIRPLAY_SMALL_GIFT_MINOR"))


def _has_address(donor_key: str) -> bool:
    # Cash without an address and sponsors' matches have keys of their own.
    return bool(donor_key) and not donor_key.startswith(("row:", "match:"))


# --- who a page belongs to ---------------------------------------------------------


def owner_keys(page_ids) -> set[str]:
    """The donor keys of the owners and co-hosts of these pages."""
    ids = [p for p in page_ids if p is not None]
    if not ids:
        return set()
    people = (
        select(Page.owner_id)
        .where(Page.id.in_(ids))
        .union(select(PageHost.agent_id).where(PageHost.page_id.in_(ids)))
    )
    emails = db.session.scalars(select(Agent.email).where(Agent.id.in_(people)))
    return {donor_key_for(email) for email in emails if email}


# --- flags ---------------------------------------------------------------------------


def flag(gift_ids, reason: FlagReason, how: str) -> list[FairPlayFlag]:
    """Flag these gifts for ``reason`` (``how``: "email" or "card"), once per
    gift; a reason new to a flag staff cleared opens it again."""
    ids = sorted(set(gift_ids))
    if not ids:
        return []
    found = {
        f.gift_id: f
        for f in db.session.scalars(select(FairPlayFlag).where(FairPlayFlag.gift_id.in_(ids)))
    }
    missing = [i for i in ids if i not in found]
    if missing:
        now = utcnow()
        gifts = db.session.execute(
            select(Donation.id, Donation.organisation_id, Donation.cause_id, Donation.page_id)
            .where(Donation.id.in_(missing))
            .order_by(Donation.id)
        ).all()
        # ON CONFLICT: a concurrent gift of the same burst may flag the same gift.
        db.session.execute(
            dialect_insert(FairPlayFlag)
            .values(
                [
                    {
                        "gift_id": gift_id,
                        "organisation_id": org_id,
                        "cause_id": cause_id,
                        "page_id": page_id,
                        "is_self_gift": False,
                        "is_velocity": False,
                        "evidence": {},
                        "status": FlagStatus.OPEN,
                        "flagged_at": now,
                    }
                    for gift_id, org_id, cause_id, page_id in gifts
                ]
            )
            .on_conflict_do_nothing(index_elements=["gift_id"])
        )
        found.update(
            {
                f.gift_id: f
                for f in db.session.scalars(
                    select(FairPlayFlag).where(FairPlayFlag.gift_id.in_(missing))
                )
            }
        )
    flags = [found[i] for i in ids if i in found]
    for row in flags:
        evidence = dict(row.evidence or {})
        ways = list(evidence.get(str(reason), []))
        if how in ways:
            continue
        evidence[str(reason)] = sorted({*ways, how})
        row.evidence = evidence
        if reason == FlagReason.SELF_GIFT:
            row.is_self_gift = True
        else:
            row.is_velocity = True
        if row.status == FlagStatus.CLEARED:
            row.status = FlagStatus.OPEN
    db.session.flush()
    return flags


# --- the checks ----------------------------------------------------------------------


def check_gift(gift: Donation) -> None:
    """A gift just recorded: the owner's address, and a burst from the address."""
    if gift.kind not in CHECKED_KINDS or gift.original_id is not None:
        return
    if gift.page_id is not None and gift.donor_key in owner_keys((gift.page_id, gift.event_id)):
        flag([gift.id], FlagReason.SELF_GIFT, "email")
    if gift.kind == DonationKind.GIFT and _has_address(gift.donor_key):
        _burst(
            gift,
            select(Donation.id).where(
                Donation.donor_key == gift.donor_key,
                Donation.organisation_id == gift.organisation_id,
                Donation.kind == DonationKind.GIFT,
                Donation.original_id.is_(None),
                Donation.amount_minor <= int(setting("FAIRPLAY_SMALL_GIFT_MINOR")),
                Donation.created_at > gift.created_at - _window(),
                Donation.created_at <= gift.created_at,
            ),
            "email",
        )


def _burst(gift: Donation, small_gifts, how: str) -> None:
    if not _is_small(gift.amount_minor):
        return
    ids = list(db.session.scalars(small_gifts))
    if len(ids) >= int(setting("FAIRPLAY_VELOCITY_COUNT")):
        flag(ids, FlagReason.VELOCITY, how)


def check_card(gift: Donation, fingerprint: str) -> None:
    """Stripe named the card of a gift: keep it (once), then the card checks."""
    if gift.kind != DonationKind.GIFT or gift.original_id is not None:
        return
    fingerprint = fingerprint.strip()[:64] if isinstance(fingerprint, str) else ""
    if not fingerprint:
        return
    if db.session.get(GiftCard, gift.id) is not None:
        return  # already seen (a replayed event, the fee lookup after the session)
    db.session.execute(
        dialect_insert(GiftCard)
        .values(
            gift_id=gift.id,
            organisation_id=gift.organisation_id,
            fingerprint=fingerprint,
            amount_minor=gift.amount_minor,
            given_at=gift.created_at,
        )
        .on_conflict_do_nothing(index_elements=["gift_id"])
    )
    _card_self_gifts(gift.organisation_id, fingerprint)
    _burst(
        gift,
        select(GiftCard.gift_id).where(
            GiftCard.organisation_id == gift.organisation_id,
            GiftCard.fingerprint == fingerprint,
            GiftCard.amount_minor <= int(setting("FAIRPLAY_SMALL_GIFT_MINOR")),
            GiftCard.given_at > gift.created_at - _window(),
            GiftCard.given_at <= gift.created_at,
        ),
        "card",
    )


def _card_self_gifts(organisation_id: int, fingerprint: str) -> None:
    """The gifts of one card on a page whose owner (or co-host) gave with that
    card from their own address: either may be the newer one."""
    rows = db.session.execute(
        select(Donation.id, Donation.page_id, Donation.event_id, Donation.donor_key)
        .join(GiftCard, GiftCard.gift_id == Donation.id)
        .where(GiftCard.organisation_id == organisation_id, GiftCard.fingerprint == fingerprint)
    ).all()
    owners: dict[tuple, set[str]] = {}
    selfish = []
    for gift_id, page_id, event_id, _key in rows:
        if page_id is None:
            continue
        place = (page_id, event_id)
        if place not in owners:
            owners[place] = owner_keys(place)
        # Another gift of this card came from an owner's address.
        if any(k in owners[place] for g, _p, _e, k in rows if g != gift_id):
            selfish.append(gift_id)
    flag(selfish, FlagReason.SELF_GIFT, "card")


def on_gift(donation: Donation, **_kwargs) -> None:
    """``gift_recorded``: check it in the gift's transaction."""
    check_gift(donation)


def on_card(gift: Donation, fingerprint: str = "", **_kwargs) -> None:
    """``card_seen``: keep the card and check it in the same transaction."""
    check_card(gift, fingerprint)
