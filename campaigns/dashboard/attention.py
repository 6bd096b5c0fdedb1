"""What needs a person on the dashboard: unattributed money, Stripe anomalies,
cash waiting for approval, pages to look over, the audit log. Only reads."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from campaigns import audit
from campaigns.giving.models import (
    COST_KINDS,
    Donation,
    DonationKind,
    StripeEvent,
    StripeEventOutcome,
)
from campaigns.offline.models import OfflineGift, OfflineGiftStatus
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page, PageStatus
from campaigns.totals import services as totals
from extensions import db

RECENTLY_PUBLISHED = timedelta(days=7)


def unattributed(organisation_id: int, limit: int = 20) -> tuple[int, int, list]:
    """Net money that names no open page (sum, gift count) and its latest rows
    (what collecting it cost is not money on no page: fees are left out)."""
    condition = (
        Donation.organisation_id == organisation_id,
        Donation.is_unattributed.is_(True),
        Donation.kind.not_in(COST_KINDS),
    )
    amount, count = db.session.execute(
        select(
            func.coalesce(func.sum(Donation.amount_minor), 0),
            # A gift staff moved to a page is no longer counted here (transfer_out: -1).
            func.coalesce(func.sum(totals.gift_count()), 0),
        ).where(*condition)
    ).one()
    moved = aliased(Donation)
    still_here = ~(
        select(moved.id)
        .where(moved.original_id == Donation.id, moved.kind == DonationKind.TRANSFER_IN)
        .exists()
    )
    rows = newest_ledger_rows(
        *condition, Donation.kind.in_(totals.COUNTED_KINDS), still_here, limit=limit
    )
    return int(amount or 0), int(count or 0), rows


def newest_ledger_rows(*conditions, limit: int) -> list:
    """Ledger rows matching ``conditions``, newest first, with what a staff list
    shows (cause and page titles); each links to its staff gift page."""
    return db.session.execute(
        select(
            Donation.id,
            Donation.created_at,
            Donation.kind,
            Donation.amount_minor,
            Donation.currency,
            Donation.donor_name,
            Donation.is_anonymous,
            Donation.payment_method,
            Cause.title.label("cause_title"),
            Page.title.label("page_title"),
        )
        .outerjoin(Cause, Cause.id == Donation.cause_id)
        .outerjoin(Page, Page.id == Donation.page_id)
        .where(*conditions)
        .order_by(Donation.id.desc())
        .limit(limit)
    ).all()


def latest_gifts(cause_id: int, limit: int = 20) -> list:
    """The cause's newest gifts (card and confirmed cash), for staff to open one
    (its ledger rows, audit trail and refund form)."""
    return newest_ledger_rows(
        Donation.cause_id == cause_id, Donation.kind.in_(totals.COUNTED_KINDS), limit=limit
    )


def anomalies(organisation_id: int | None, limit: int = 20) -> tuple[int, list[StripeEvent]]:
    """Stripe events with paid money nobody could record as-is, still open;
    ``None``: those no organisation owns (the operator's, such as an event of a
    Stripe account nobody connected)."""
    owner = (
        StripeEvent.organisation_id.is_(None)
        if organisation_id is None
        else StripeEvent.organisation_id == organisation_id
    )
    condition = (
        owner,
        StripeEvent.outcome == StripeEventOutcome.ANOMALY,
        StripeEvent.resolved_at.is_(None),
    )
    count = db.session.scalar(select(func.count()).select_from(StripeEvent).where(*condition))
    rows = db.session.scalars(
        select(StripeEvent).where(*condition).order_by(StripeEvent.received_at.desc()).limit(limit)
    ).all()
    return int(count or 0), list(rows)


def pending_offline(organisation_id: int, limit: int = 20) -> tuple[int, int, list]:
    """Cash and cheques waiting for a person: count, amount and the oldest first."""
    condition = (
        Cause.organisation_id == organisation_id,
        OfflineGift.status == OfflineGiftStatus.PENDING,
    )
    joined = select(OfflineGift).join(Page, Page.id == OfflineGift.page_id).join(Cause)
    count, amount = db.session.execute(
        joined.with_only_columns(
            func.count(), func.coalesce(func.sum(OfflineGift.amount_minor), 0)
        ).where(*condition)
    ).one()
    rows = db.session.execute(
        joined.with_only_columns(
            OfflineGift.id,
            OfflineGift.amount_minor,
            OfflineGift.currency,
            OfflineGift.method,
            OfflineGift.donor_name,
            OfflineGift.collected_on,
            Page.slug.label("page_slug"),
            Page.title.label("page_title"),
        )
        .where(*condition)
        .order_by(OfflineGift.created_at, OfflineGift.id)
        .limit(limit)
    ).all()
    return int(count or 0), int(amount or 0), rows


def _org_pages(organisation_id: int, *conditions, order, limit: int) -> tuple[int, list]:
    base = select(Page).join(Cause).where(Cause.organisation_id == organisation_id, *conditions)
    count = db.session.scalar(base.with_only_columns(func.count()))
    rows = db.session.execute(
        base.with_only_columns(
            Page.id,
            Page.slug,
            Page.title,
            Page.kind,
            Page.published_at,
            Page.hidden_reason,
            Page.updated_at,
            Cause.title.label("cause_title"),
        )
        .order_by(*order)
        .limit(limit)
    ).all()
    return int(count or 0), rows


def recently_published(organisation_id: int, now: datetime, limit: int = 30) -> tuple[int, list]:
    """Pages published in the last seven days, newest first: what to look over."""
    return _org_pages(
        organisation_id,
        Page.status == PageStatus.PUBLISHED,
        Page.published_at >= now - RECENTLY_PUBLISHED,
        order=(Page.published_at.desc(), Page.id.desc()),
        limit=limit,
    )


def hidden_pages(organisation_id: int, limit: int = 30) -> tuple[int, list]:
    """Hidden pages with the reason their owner sees, most recently changed first."""
    return _org_pages(
        organisation_id,
        Page.status == PageStatus.HIDDEN,
        order=(Page.updated_at.desc(), Page.id.desc()),
        limit=limit,
    )


def audit_page(
    organisation_id: int, before_id: int | None, limit: int = 25
) -> tuple[list, int | None]:
    """One screen of the audit log and the id to ask for the next (older) one."""
    entries = audit.latest(organisation_id, limit + 1, before_id)
    if len(entries) > limit:
        return entries[:limit], entries[limit - 1].id
    return entries, None
