"""Totals per page, event, cause, project and organisation, equal to the ledger.

Each ledger row adds to its scopes with one ``INSERT … ON CONFLICT DO UPDATE``
per scope, so concurrent writers never lose an update. The cause and
organisation rows every gift touches are split into ``HOT_SLOTS`` rows picked
by the donation id, so two gifts to different pages rarely wait on the same
row lock; readers sum the slots. Every row of one gift (the gift, its refunds,
disputes and reversals) uses the gift's slot, so a transaction that writes a
gift and the refunds parked for it takes the same row locks, in the same
order (organisation, cause, project, page, event), as any other writer.

What collecting the money cost (``FEE`` rows, Stripe's fees) is kept apart in
``fees_minor``: ``raised_minor`` — what goals, leaderboards and every public
figure count — stays the gross amount given. What donors added to cover the
fees (``COVER`` rows) is kept apart too, in ``covers_minor``, unless their
organisation counts covers (``COVER_RAISED`` rows count in ``raised_minor``);
net is raised + covers - fees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import case, func, select

from campaigns.giving.models import COST_KINDS, Donation, DonationKind
from campaigns.pages.models import EVENT_KINDS, Page
from campaigns.totals import written
from campaigns.totals.models import Total, TotalDonor, TotalScope
from extensions import db, dialect_insert

HOT_SLOTS = 8
HOT_SCOPES = {TotalScope.CAUSE, TotalScope.ORGANISATION}
COUNTED_KINDS = (DonationKind.GIFT, DonationKind.OFFLINE)
# A gift staff moved to a page (``giving.transfers``) is counted where it went:
# its ``transfer_in`` row counts one gift (and its donor) on the page and its
# event, its ``transfer_out`` row takes the one gift back from where it left,
# so the cause and the organisation still count it once.
COUNT_DELTAS = {
    **dict.fromkeys(COUNTED_KINDS, 1),
    DonationKind.TRANSFER_IN: 1,
    DonationKind.TRANSFER_OUT: -1,
}
DONOR_KINDS = (*COUNTED_KINDS, DonationKind.TRANSFER_IN)
SCOPE_COLUMNS = {
    TotalScope.ORGANISATION: Donation.organisation_id,
    TotalScope.CAUSE: Donation.cause_id,
    TotalScope.PROJECT: Donation.project_id,
    TotalScope.PAGE: Donation.page_id,
    TotalScope.EVENT: Donation.event_id,
}


@dataclass(frozen=True)
class Figures:
    raised_minor: int = 0
    donation_count: int = 0
    donor_count: int = 0
    fees_minor: int = 0  # what collecting raised_minor cost (positive)
    covers_minor: int = 0  # what donors added for the fees, not in raised_minor

    @property
    def net_minor(self) -> int:
        return self.raised_minor + self.covers_minor - self.fees_minor


# Rows outside what was raised: costs (fees) and covers kept apart.
APART_KINDS = (*COST_KINDS, DonationKind.COVER)


def raised_amount(row=Donation):
    """A ledger row's part in what was raised, in SQL: its amount, or nothing
    for a cost row (a fee)."""
    return case((row.kind.in_(APART_KINDS), 0), else_=row.amount_minor)


def cover_amount(row=Donation):
    """A ledger row's part in the covers kept apart from what was raised, in SQL."""
    return case((row.kind == DonationKind.COVER, row.amount_minor), else_=0)


def fee_amount(row=Donation):
    """A ledger row's part in the fees, in SQL (positive: a cost)."""
    return case((row.kind.in_(COST_KINDS), -row.amount_minor), else_=0)


def gift_count(row=Donation):
    """A ledger row's part in the number of gifts, in SQL (``COUNT_DELTAS``)."""
    return case(*((row.kind == kind, delta) for kind, delta in COUNT_DELTAS.items()), else_=0)


def scopes_of(donation: Donation) -> list[tuple[TotalScope, int]]:
    scopes: list[tuple[TotalScope, int]] = [(TotalScope.ORGANISATION, donation.organisation_id)]
    if donation.cause_id:
        scopes.append((TotalScope.CAUSE, donation.cause_id))
    if donation.project_id:
        scopes.append((TotalScope.PROJECT, donation.project_id))
    if donation.page_id:
        scopes.append((TotalScope.PAGE, donation.page_id))
    if donation.event_id:
        scopes.append((TotalScope.EVENT, donation.event_id))
    return scopes


def slot_of(donation: Donation) -> int:
    """The hot-row slot of a ledger row: its gift's, for refunds and disputes
    (and matches: a match row takes no row lock its gift did not take)."""
    return (donation.original_id or donation.matched_gift_id or donation.id) % HOT_SLOTS


def apply(donation: Donation) -> None:
    """Add one (flushed) ledger row to every scope it belongs to.

    Two statements whatever the number of scopes: one multi-row insert of the
    donor into each scope's donor set (returning the scopes where the donor is
    new), one multi-row upsert of the figures.
    """
    counted = donation.kind in DONOR_KINDS
    is_cost = donation.kind in COST_KINDS
    is_cover = donation.kind == DonationKind.COVER
    scopes = scopes_of(donation)
    new_donor_in: set[tuple[str, int]] = set()
    if counted and donation.donor_id is not None:
        inserted = db.session.execute(
            dialect_insert(TotalDonor)
            .values(
                [
                    {"scope": scope, "scope_id": scope_id, "donor_id": donation.donor_id}
                    for scope, scope_id in scopes
                ]
            )
            .on_conflict_do_nothing()
            .returning(TotalDonor.scope, TotalDonor.scope_id)
        ).all()
        new_donor_in = {(str(scope), scope_id) for scope, scope_id in inserted}
    stmt = dialect_insert(Total).values(
        [
            {
                "scope": scope,
                "scope_id": scope_id,
                "slot": slot_of(donation) if scope in HOT_SCOPES else 0,
                "raised_minor": 0 if is_cost or is_cover else donation.amount_minor,
                "donation_count": COUNT_DELTAS.get(donation.kind, 0),
                "donor_count": 1 if (str(scope), scope_id) in new_donor_in else 0,
                "fees_minor": -donation.amount_minor if is_cost else 0,
                "covers_minor": donation.amount_minor if is_cover else 0,
            }
            for scope, scope_id in scopes
        ]
    )
    rows = db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Total.scope, Total.scope_id, Total.slot],
            set_={
                "raised_minor": Total.raised_minor + stmt.excluded.raised_minor,
                "donation_count": Total.donation_count + stmt.excluded.donation_count,
                "donor_count": Total.donor_count + stmt.excluded.donor_count,
                "fees_minor": Total.fees_minor + stmt.excluded.fees_minor,
                "covers_minor": Total.covers_minor + stmt.excluded.covers_minor,
            },
        ).returning(Total.scope, Total.scope_id, *_FIGURE_COLUMNS)
    ).all()
    # The one-row scopes' new figures, for the gift's listeners (``written``).
    written.remember(row for row in rows if TotalScope(row[0]) not in HOT_SCOPES)


_FIGURE_COLUMNS = (
    Total.raised_minor,
    Total.donation_count,
    Total.donor_count,
    Total.fees_minor,
    Total.covers_minor,
)


def figures(scope: TotalScope, ids: Iterable[int]) -> dict[int, Figures]:
    """Totals for many ids of one scope in one query (none for the figures this
    transaction has just written, see ``written``); missing ids are zero."""
    ids = list(ids)
    known = {i: Figures(*values) for i, values in written.known(scope, ids).items()}
    if len(known) == len(set(ids)):
        return {i: known[i] for i in ids}
    rows = db.session.execute(
        select(
            Total.scope_id,
            func.sum(Total.raised_minor),
            func.sum(Total.donation_count),
            func.sum(Total.donor_count),
            func.sum(Total.fees_minor),
            func.sum(Total.covers_minor),
        )
        .where(Total.scope == scope, Total.scope_id.in_([i for i in ids if i not in known]))
        .group_by(Total.scope_id)
    ).all()
    found = {r[0]: Figures(*(int(value or 0) for value in r[1:])) for r in rows}
    found.update(known)
    return {i: found.get(i, Figures()) for i in ids}


def figures_one(scope: TotalScope, scope_id: int) -> Figures:
    return figures(scope, [scope_id])[scope_id]


def page_scope(kind: str) -> TotalScope:
    """The totals a page of ``kind`` shows as raised: an event's or a team's
    count its member pages' gifts too (``TotalScope.EVENT``)."""
    return TotalScope.EVENT if kind in EVENT_KINDS else TotalScope.PAGE


def page_scope_column():
    """``page_scope`` in SQL: the scope of ``Page``'s row, to join its totals."""
    return case((Page.is_event, TotalScope.EVENT.value), else_=TotalScope.PAGE.value)


def page_figures(pages: Iterable[Page]) -> dict[int, Figures]:
    """What each page shows as raised, two queries at most (see ``page_scope``)."""
    pages = list(pages)
    out = figures(TotalScope.PAGE, [p.id for p in pages if not p.is_event])
    out.update(figures(TotalScope.EVENT, [p.id for p in pages if p.is_event]))
    return out


def figures_subquery(scope: TotalScope, ids):
    """The stored figures of one scope (slots summed) for ``ids`` (a select of
    ids), as a subquery: page_id, raised, gifts, donors, fees, covers."""
    return (
        select(
            Total.scope_id.label("page_id"),
            func.sum(Total.raised_minor).label("raised"),
            func.sum(Total.donation_count).label("gifts"),
            func.sum(Total.donor_count).label("donors"),
            func.sum(Total.fees_minor).label("fees"),
            func.sum(Total.covers_minor).label("covers"),
        )
        .where(Total.scope == scope, Total.scope_id.in_(ids))
        .group_by(Total.scope_id)
        .subquery()
    )


def _ledger_figures(scope: TotalScope):
    """One scope's figures from the ledger alone: (scope, id, slot 0, raised,
    donations, distinct donors, fees) per id, grouped in the database."""
    column = SCOPE_COLUMNS[scope]
    counted = Donation.kind.in_(DONOR_KINDS)
    return (
        select(
            db.literal(scope.value).label("scope"),
            column.label("scope_id"),
            db.literal(0).label("slot"),
            func.sum(raised_amount()).label("raised_minor"),
            func.coalesce(func.sum(gift_count()), 0).label("donation_count"),
            # The donor sets' id, not the text key: the same 64-bit collisions
            # (``donor_id_for``) on both sides, so check and sets agree.
            func.count(func.distinct(case((counted, Donation.donor_id)))).label("donor_count"),
            func.sum(fee_amount()).label("fees_minor"),
            func.sum(cover_amount()).label("covers_minor"),
        )
        .where(column.is_not(None))
        .group_by(column)
    )


def from_ledger() -> dict[tuple[str, int], Figures]:
    """Recompute every scope's figures from the ledger alone."""
    out = {}
    for scope in SCOPE_COLUMNS:
        for row in db.session.execute(_ledger_figures(scope)):
            out[(scope, row.scope_id)] = Figures(
                int(row.raised_minor or 0),
                int(row.donation_count),
                int(row.donor_count),
                int(row.fees_minor or 0),
                int(row.covers_minor or 0),
            )
    return out


def stored() -> dict[tuple[str, int], Figures]:
    rows = db.session.execute(
        select(
            Total.scope,
            Total.scope_id,
            func.sum(Total.raised_minor),
            func.sum(Total.donation_count),
            func.sum(Total.donor_count),
            func.sum(Total.fees_minor),
            func.sum(Total.covers_minor),
        ).group_by(Total.scope, Total.scope_id)
    )
    return {(r[0], r[1]): Figures(*(int(value) for value in r[2:])) for r in rows}


def drift() -> list[tuple[tuple[str, int], Figures, Figures]]:
    """Every scope whose stored totals differ from the ledger: (key, stored, ledger)."""
    have, want = stored(), from_ledger()
    out = []
    for key in sorted(set(have) | set(want), key=lambda k: (str(k[0]), k[1])):
        a, b = have.get(key, Figures()), want.get(key, Figures())
        if a != b:
            out.append((key, a, b))
    return out
