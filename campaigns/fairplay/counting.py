"""What rankings leave out: the ledger rows of gifts staff excluded.

An excluded gift stays in the ledger and in every total (pages, events,
causes, goals, open data's amounts): only the leaderboards and the leagues
leave it out, with everything that follows it — its refunds, disputes and
their reversals, its fees, a move to a page (``original_id``) and a sponsor's
match of it (``matched_gift_id``). A board's figures are the page's totals
minus ``excluded_figures`` (``campaigns.standings`` subtracts them wherever it
reads totals to rank); a league filters its rows with ``counted``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import bindparam, case, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import BindParameter

from campaigns.fairplay.models import FairPlayFlag, FlagStatus
from campaigns.giving.models import Donation
from campaigns.totals.models import TotalScope
from campaigns.totals.services import DONOR_KINDS, SCOPE_COLUMNS, raised_amount
from extensions import db

RANKED_SCOPES = (TotalScope.PAGE, TotalScope.EVENT)


def excluded_gift_ids():
    """The ids of the gifts staff excluded, as a select."""
    return select(FairPlayFlag.gift_id).where(FairPlayFlag.status == FlagStatus.EXCLUDED)


def gift_of(row=Donation):
    """The gift a ledger row belongs to, in SQL: its matched gift, the gift it
    follows, or itself."""
    return func.coalesce(row.matched_gift_id, row.original_id, row.id)


def counted(row=Donation):
    """SQL: whether a ledger row counts in rankings (its gift is not excluded)."""
    return gift_of(row).not_in(excluded_gift_ids())


def excluded_figures(scope: TotalScope, ids: Iterable[int] | None = None):
    """What excluded gifts add to the figures of each page (``PAGE``) or event
    (``EVENT``) holding any of their rows: (scope, scope_id, raised, donors).

    ``donors`` counts the donors whose every gift in the scope is excluded:
    a donor with one fair gift there still counts once, as in the totals."""
    column = SCOPE_COLUMNS[scope]
    excluded = excluded_gift_ids()
    # The scopes holding an excluded gift's row: three indexed lookups.
    holding = select(column).where(
        or_(
            Donation.id.in_(excluded),
            Donation.original_id.in_(excluded),
            Donation.matched_gift_id.in_(excluded),
        ),
        column.is_not(None),
    )
    if ids is not None:
        holding = holding.where(column.in_(ids if isinstance(ids, BindParameter) else list(ids)))
    out = case((gift_of().in_(excluded_gift_ids()), 1), else_=0)

    def rows():
        return (
            select(
                column.label("scope_id"),
                Donation.kind.label("kind"),
                Donation.donor_id.label("donor_id"),
                raised_amount().label("raised"),
                out.label("out"),
            )
            .where(column.in_(holding))
            .subquery()
        )

    money = rows()
    raised = (
        select(
            money.c.scope_id,
            func.sum(case((money.c.out == 1, money.c.raised), else_=0)).label("raised"),
        )
        .group_by(money.c.scope_id)
        .subquery()
    )
    people = rows()
    per_donor = (
        select(people.c.scope_id, func.min(people.c.out).label("gone"))
        .where(people.c.kind.in_(DONOR_KINDS), people.c.donor_id.is_not(None))
        .group_by(people.c.scope_id, people.c.donor_id)
        .subquery()
    )
    donors = (
        select(per_donor.c.scope_id, func.sum(per_donor.c.gone).label("donors"))
        .group_by(per_donor.c.scope_id)
        .subquery()
    )
    return select(
        literal(scope.value).label("scope"),
        raised.c.scope_id.label("scope_id"),
        func.coalesce(raised.c.raised, 0).label("raised"),
        func.coalesce(donors.c.donors, 0).label("donors"),
    ).outerjoin(donors, donors.c.scope_id == raised.c.scope_id)


def excluded_subquery(scope: TotalScope):
    """``excluded_figures`` of one scope for every id, to outer-join on ``scope_id``."""
    return excluded_figures(scope).subquery()


# Whether staff excluded any gift at all: one probe of the (status, gift) index.
_ANY_EXCLUDED = excluded_gift_ids().limit(1)


@lru_cache(maxsize=1)
def _excluded_statement():
    """``excluded_figures`` of pages and events for the ids bound as ``ids``:
    built once (every gift asks, and building it cost more than running it)."""
    ids = bindparam("ids", expanding=True)
    return union_all(*(excluded_figures(scope, ids) for scope in RANKED_SCOPES))


def excluded_for(page_ids: Iterable[int], executor=None) -> dict[tuple[str, int], tuple[int, int]]:
    """(raised, donors) the excluded gifts add, by (scope, page id), for these
    pages as pages and as events; one query, none while no gift is excluded.
    ``executor``: a session or a connection (the Redis sync reads what is
    committed)."""
    ids = sorted(set(page_ids))
    if not ids:
        return {}
    executor = executor if executor is not None else db.session
    if executor.execute(_ANY_EXCLUDED).first() is None:
        return {}
    return {
        (str(scope), int(scope_id)): (int(raised or 0), int(donors or 0))
        for scope, scope_id, raised, donors in executor.execute(_excluded_statement(), {"ids": ids})
    }
