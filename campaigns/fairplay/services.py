"""Staff review of flagged gifts: the queue, excluding a gift from rankings
and counting it again.

Excluding changes no money: the gift stays in the ledger and the totals. Its
rows (and its refunds, fees and matches) stop counting in the leaderboards and
the leagues (``campaigns.fairplay.counting``); ``rankings_changed`` tells the
standings, which move the ranks in the same transaction and, after the
commit, the Redis boards and the live streams, exactly as after a refund. The
rank-change messages follow from the next ``rank-snapshots`` run, as for any
move.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select

from agents.models import Agent
from campaigns import audit
from campaigns.errors import Conflict, NotFound
from campaigns.fairplay.models import FairPlayFlag, FlagStatus, GiftCard
from campaigns.giving.models import Donation
from campaigns.model_types import utcnow
from campaigns.money import format_money
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Organisation
from campaigns.pages.models import Page
from campaigns.signals import rankings_changed
from campaigns.unit_of_work import locked_row
from extensions import db

QUEUE_LIMIT = 200


def queue(organisation: Organisation, status: FlagStatus, limit: int = QUEUE_LIMIT) -> list:
    """An organisation's flags of one status, newest first."""
    return list(
        db.session.scalars(
            select(FairPlayFlag)
            .where(FairPlayFlag.organisation_id == organisation.id, FairPlayFlag.status == status)
            .order_by(FairPlayFlag.id.desc())
            .limit(limit)
        )
    )


def counts(organisation: Organisation) -> dict[str, int]:
    """How many flags of each status an organisation has."""
    rows = db.session.execute(
        select(FairPlayFlag.status, func.count())
        .where(FairPlayFlag.organisation_id == organisation.id)
        .group_by(FairPlayFlag.status)
    ).all()
    found = {str(status): int(n) for status, n in rows}
    return {str(status): found.get(str(status), 0) for status in FlagStatus}


def pages_of(flags: list[FairPlayFlag]) -> dict[int, Page]:
    """The pages the flagged gifts were given to, by id (one query)."""
    ids = {f.page_id for f in flags if f.page_id is not None}
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(select(Page).where(Page.id.in_(ids)))}


def get_flag(organisation: Organisation, flag_id) -> FairPlayFlag:
    """One flag of this organisation; NotFound otherwise (another one's too)."""
    flag = db.session.get(FairPlayFlag, flag_id) if isinstance(flag_id, int) else None
    if flag is None or flag.organisation_id != organisation.id:
        raise NotFound(_("There is no flagged gift with this number in your organisation."))
    return flag


def exclude(staff: Agent, flag: FairPlayFlag) -> FairPlayFlag:
    """Leave a flagged gift out of leaderboards and leagues (staff); the money
    still counts in every total. Excluding an excluded gift is refused and
    changes nothing."""
    return _review(staff, flag, FlagStatus.EXCLUDED)


def clear(staff: Agent, flag: FairPlayFlag) -> FairPlayFlag:
    """Find a flagged gift fair (staff): it counts in rankings (again, if it
    was excluded)."""
    return _review(staff, flag, FlagStatus.CLEARED)


ALREADY = {
    FlagStatus.EXCLUDED: lambda: _(
        "This gift is already left out of the leaderboards: nothing changed."
    ),
    FlagStatus.CLEARED: lambda: _("This gift is already counted as fair: nothing changed."),
}
ACTIONS = {FlagStatus.EXCLUDED: "fairplay.exclude", FlagStatus.CLEARED: "fairplay.clear"}


def _review(staff: Agent, flag: FairPlayFlag, status: FlagStatus) -> FairPlayFlag:
    org_services.require_staff(staff, flag.organisation_id)
    flag = locked_row(flag)  # two reviewers never both see it as it was
    if flag.status == status:
        raise Conflict(ALREADY[status]())
    before = flag.status
    flag.status = status
    flag.reviewed_by_id = staff.id
    flag.reviewed_at = utcnow()
    db.session.flush()
    if FlagStatus.EXCLUDED in (before, status):
        _rankings_moved(flag.gift_id)
    gift = db.session.get(Donation, flag.gift_id)
    page = db.session.get(Page, flag.page_id) if flag.page_id else None
    verb = "excluded from" if status == FlagStatus.EXCLUDED else "counted in"
    audit.record(
        flag.organisation_id,
        staff,
        ACTIONS[status],
        f"Gift #{gift.id} of {format_money(gift.amount_minor, gift.currency, 'en')} {verb} "
        f"leaderboards and leagues ({', '.join(flag.reasons) or 'flagged'})",
        subject=flag,
        amount_minor=gift.amount_minor,
        currency=gift.currency,
        details={
            "gift_id": gift.id,
            "before": str(before),
            "reasons": flag.reasons,
            "page_slug": page.slug if page else "",
        },
    )
    return flag


def forget_cards(_email: str, *, gift_ids=(), **_kwargs) -> None:
    """A donor erased on request: the card fingerprints of their gifts go too
    (the flags keep only which check fired, no personal data)."""
    if gift_ids:
        db.session.execute(delete(GiftCard).where(GiftCard.gift_id.in_(list(gift_ids))))


def _rankings_moved(gift_id: int) -> None:
    """Tell the standings which pages and events the gift's rows count in."""
    places = db.session.execute(
        select(Donation.cause_id, Donation.page_id, Donation.event_id)
        .where(
            or_(
                Donation.id == gift_id,
                Donation.original_id == gift_id,
                Donation.matched_gift_id == gift_id,
            ),
            Donation.cause_id.is_not(None),
        )
        .distinct()
    ).all()
    by_cause: dict[int, set[int]] = {}
    for cause_id, page_id, event_id in places:
        by_cause.setdefault(cause_id, set()).update(p for p in (page_id, event_id) if p)
    for cause_id, page_ids in sorted(by_cause.items()):
        rankings_changed.send(None, cause_id=cause_id, page_ids=sorted(page_ids))
