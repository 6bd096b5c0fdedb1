"""The money of a match: each gift of its window gets ``ratio × what it holds``
of it, as a ledger row, while the cap lasts; a refund gives its part back.

How it hooks into the ledger, and why this way: ``gift_recorded`` (sent by
``ledger.record_gift``) and ``further_row_recorded`` (sent by
``ledger.record_further_row`` for a refund, dispute or reversal) are blinker
signals, and blinker calls its receivers at once, inside the sender's
transaction and savepoint — so a match is written in the same unit of work as
the gift, and rolls back with it. A direct call from the ledger would do the
same but make the ledger import this area (which imports the ledger): the
signal keeps the ledger unaware of matching and its diff to one line.
Exactly once comes from the data, not the hook: the match's row is locked
(``FOR UPDATE``) before it is read, and ``matched_gifts`` holds one row per
(match, gift) under a unique key, so a replayed or concurrent delivery of the
same gift finds it and writes nothing.

The invariant, whatever the order of gifts, refunds and replays: for each
match, ``matched = min(cap, Σ full)`` where a gift's ``full`` is
``what it still holds × ratio_num // ratio_den``, and no gift holds more than
its ``full``. A refund lowers its gift's ``full``; what it frees is offered
again, first to the gifts of the window that were matched short (oldest
first: they came when the cap ran out), then to later gifts.

Match rows are the sponsor's money: counted in ``raised_minor`` (totals, goals,
leaderboards), never as a gift or a donor, never part of what the gift holds
(its receipt, its refunds): they name their gift in ``matched_gift_id``, not
``original_id``, and their donor key is ``match:<id>``. They use their gift's
totals slot, so the match adds no row lock its gift did not already take.
Only a refund that frees money for another gift writes on that gift's rows:
a PostgreSQL deadlock with a writer there is run again by the unit of work.
A gift moved later from unattributed money to a page (``giving.transfers``)
keeps the matches of where it was recorded; its match rows stay there.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, or_, select

from campaigns.giving.follow_ups import remaining
from campaigns.giving.models import Donation, DonationKind
from campaigns.matching.models import Match, MatchedGift, MatchScope
from campaigns.totals import services as totals
from campaigns.unit_of_work import locked_row
from extensions import db

# Ledger rows a match follows: the first is matched, the others change what it holds.
MATCHABLE_KINDS = (DonationKind.GIFT, DonationKind.OFFLINE)
CHANGING_KINDS = (
    DonationKind.REFUND,
    DonationKind.REFUND_REVERSAL,
    DonationKind.DISPUTE,
    DonationKind.DISPUTE_REVERSAL,
)


def donor_key(match: Match) -> str:
    return f"match:{match.id}"


def full_of(match: Match, held_minor: int) -> int:
    """What a gift holding ``held_minor`` gets of the match without its cap."""
    return max(0, held_minor) * match.ratio_num // match.ratio_den


def matches_for(gift: Donation) -> list[Match]:
    """The matches whose scope and window take this gift, by id (the lock order)."""
    if gift.cause_id is None or gift.kind not in MATCHABLE_KINDS or gift.original_id:
        return []
    params = {
        "cause_id": gift.cause_id,
        "page_id": gift.page_id,  # None matches no page-scoped match
        "event_id": gift.event_id,
        "organisation_id": gift.organisation_id,
        "currency": gift.currency,
        "at": gift.created_at,
    }
    return list(db.session.scalars(_MATCHES_FOR, params))


# Built once: a gift's way asks it every time.
_MATCHES_FOR = (
    select(Match)
    .where(
        or_(
            (Match.scope == MatchScope.CAUSE) & (Match.cause_id == bindparam("cause_id")),
            (Match.scope == MatchScope.PAGE) & (Match.page_id == bindparam("page_id")),
            (Match.scope == MatchScope.EVENT) & (Match.page_id == bindparam("event_id")),
        ),
        Match.organisation_id == bindparam("organisation_id"),
        Match.currency == bindparam("currency"),
        Match.starts_at <= bindparam("at"),
        Match.ends_at > bindparam("at"),
    )
    .order_by(Match.id)
)


def _book(match: Match, entry: MatchedGift, gift: Donation, target: int, full: int) -> None:
    """Set what ``entry`` holds to ``target`` (and its full to ``full``) with
    one ledger row for the difference, where its gift is counted."""
    delta = target - entry.matched_minor
    entry.full_minor, entry.matched_minor = full, target
    match.matched_minor += delta
    if delta == 0:
        return
    row = Donation(
        kind=DonationKind.MATCH if delta > 0 else DonationKind.MATCH_RELEASE,
        organisation_id=gift.organisation_id,
        cause_id=gift.cause_id,
        project_id=gift.project_id,
        page_id=gift.page_id,
        event_id=gift.event_id,
        amount_minor=delta,
        currency=gift.currency,
        donor_key=donor_key(match),
        donor_name=match.sponsor_name,
        is_unattributed=False,
        matched_gift_id=gift.id,
        payment_method="match",
    )
    db.session.add(row)
    db.session.flush()
    totals.apply(row)


def _fill(match: Match) -> None:
    """Offer what the cap has left to the gifts matched short, oldest first."""
    left = match.cap_minor - match.matched_minor
    if left <= 0:
        return
    short = db.session.scalars(
        select(MatchedGift)
        .where(MatchedGift.match_id == match.id, MatchedGift.matched_minor < MatchedGift.full_minor)
        .order_by(MatchedGift.gift_id)
    ).all()
    for entry in short:
        if left <= 0:
            return
        give = min(entry.full_minor - entry.matched_minor, left)
        gift = db.session.get(Donation, entry.gift_id)
        _book(match, entry, gift, entry.matched_minor + give, entry.full_minor)
        left -= give


def match_gift(gift: Donation) -> int:
    """Match a gift just recorded by every match that takes it; returns the
    amount matched. A gift seen before (a replay) writes nothing."""
    added = 0
    for candidate in matches_for(gift):
        match = locked_row(candidate)
        if db.session.scalar(
            select(MatchedGift.id).where(
                MatchedGift.match_id == match.id, MatchedGift.gift_id == gift.id
            )
        ):
            continue
        full = full_of(match, remaining(gift))
        entry = MatchedGift(match_id=match.id, gift_id=gift.id, full_minor=full, matched_minor=0)
        db.session.add(entry)
        db.session.flush()  # the unique key: a concurrent twin stops here
        give = min(full, match.cap_minor - match.matched_minor)
        _book(match, entry, gift, give, full)
        added += give
    return added


def resettle(gift: Donation) -> None:
    """A gift's held amount changed (refund, dispute, reversal): each match it
    is in follows — its part shrinks to its new full, what is freed (or the
    more it may now get) is offered to the gifts matched short."""
    entries = db.session.scalars(
        select(MatchedGift).where(MatchedGift.gift_id == gift.id).order_by(MatchedGift.match_id)
    ).all()
    for entry in entries:
        match = locked_row(db.session.get(Match, entry.match_id))
        db.session.refresh(entry)
        full = full_of(match, remaining(gift))
        _book(match, entry, gift, min(entry.matched_minor, full), full)
        _fill(match)


def on_gift(donation: Donation, **_kwargs) -> None:
    """``gift_recorded``: match it in the same transaction."""
    match_gift(donation)


def on_further_row(row: Donation, **_kwargs) -> None:
    """``further_row_recorded``: a refund, dispute or reversal changes its match."""
    if row.kind in CHANGING_KINDS and row.original_id is not None:
        gift = db.session.get(Donation, row.original_id)
        if gift is not None:
            resettle(gift)


def ledger_sum(match: Match) -> int:
    """What the ledger holds for the match: the sum of its rows."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
                Donation.donor_key == donor_key(match),
                Donation.kind.in_((DonationKind.MATCH, DonationKind.MATCH_RELEASE)),
            )
        )
    )
