"""What a live stream sends: a cause's totals and boards at one version, and
the figures of the pages a notice names. Built once per notice by the hub
(``campaigns/standings/live.py``), never by a stream."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from campaigns.giving import discretion
from campaigns.giving.models import Donation
from campaigns.matching import services as matching
from campaigns.money import Money
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page
from campaigns.standings import leaderboards
from campaigns.standings.boards import BOARDS, RANKED_STATUSES
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from campaigns.urls import absolute_url
from extensions import db

BOARD_LIMIT = 50  # rows per board in a message: the cause page shows 10, the leaderboard 50


@dataclass(frozen=True)
class Snapshot:
    version: int
    body: dict  # everything but "pages"
    top: dict  # "pages" of a first message: the pages on the boards

    def message(self, pages: dict | None = None) -> dict:
        return {**self.body, "pages": self.top if pages is None else pages}


def _figures(entry: leaderboards.Entry, currency: str) -> dict:
    return {
        "raised": Money(entry.raised_minor, currency).as_json(),
        "donor_count": entry.donor_count,
        "rank": entry.rank,
    }


def snapshot(cause_id: int) -> Snapshot:
    """The cause's totals and boards now, as a stream message (no "pages" yet)."""
    # Read first: the figures read next are at least as new as this version.
    version = db.session.scalar(select(func.max(Donation.id)).where(Donation.cause_id == cause_id))
    cause = db.session.get(Cause, cause_id)
    currency = cause.organisation.currency
    fig = discretion.total(
        "cause", cause_id, cause.organisation, totals.figures_one(TotalScope.CAUSE, cause_id)
    )
    boards = {b: leaderboards.public_board(cause_id, b, limit=BOARD_LIMIT) for b in BOARDS}
    body = {
        "cause": cause.slug,
        "version": int(version or 0),
        "raised": Money(fig.raised_minor, currency).as_json(),
        "donation_count": fig.donation_count,
        "donor_count": fig.donor_count,
        "goal": Money(cause.goal_minor, currency).as_json(),
        # The match challenges of the cause running now (what is left of each).
        "matches": matching.live_figures(cause_id),
        "leaderboards": {
            name: [
                {
                    "rank": e.rank,
                    "slug": e.slug,
                    "title": e.title,
                    "kind": e.kind,
                    "city": e.city,
                    "raised": Money(e.raised_minor, currency).as_json(),
                    "donor_count": e.donor_count,
                    "url": absolute_url("campaigns.page_detail", slug=e.slug, fallback=""),
                }
                for e in entries
            ]
            for name, entries in boards.items()
        },
    }
    top = {e.slug: _figures(e, currency) for entries in boards.values() for e in entries}
    return Snapshot(int(version or 0), body, top)


def changed_pages(cause_id: int, page_ids: Iterable[int]) -> dict:
    """Figures and rank of the ranked pages among these (hidden ones are left out)."""
    ids = sorted(set(page_ids))
    if not ids:
        return {}
    pages = db.session.scalars(
        select(Page).where(
            Page.id.in_(ids),
            Page.cause_id == cause_id,
            Page.status.in_(RANKED_STATUSES),
        )
    ).all()
    currency = pages[0].currency if pages else ""
    out = {}
    for page in pages:
        entry = leaderboards.public_rank_of(page)
        if entry is not None:
            out[page.slug] = _figures(entry, currency)
    return out
