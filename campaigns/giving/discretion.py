""" "Hide my amount" kept when a total would tell it anyway.

A donor who hides their amount is left out of the donor wall's amounts; but
on a page (or event) whose gifts all come from that one donor, the total *is*
the amount. There, every public reader shows the total as the organisation
chose (``Organisation.hidden_gift_total``): rounded to one significant figure
(at least 10 in the currency's unit), or not at all until a second donor gives.
The same rule for the page, its event, the API, the leaderboards, the live
stream and open data; staff screens and the owner's dashboard see real figures.
"""

from __future__ import annotations

import dataclasses
import math

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from campaigns.giving.models import Donation, DonationKind, PendingGift
from campaigns.money import minor_factor
from campaigns.totals import services as totals
from campaigns.totals.services import Figures
from extensions import db

ROUNDED = "rounded"
HIDDEN = "hidden"
CHOICES = (ROUNDED, HIDDEN)


def rounded(amount_minor: int, currency: str) -> int:
    """777.00 → 800.00, 25 → 30, 5 → 10: one significant figure, at least 10 units."""
    unit = minor_factor(currency)
    major = max(amount_minor, 1) / unit
    step = max(10, 10 ** math.floor(math.log10(major))) * unit
    return max(step, (amount_minor + step // 2) // step * step)


def _with_a_hidden_gift(column, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    # A gift staff moved to a page is there as its ``transfer_in`` row: the
    # donor's choice is the original gift's.
    gift = aliased(Donation)
    return set(
        db.session.scalars(
            select(column)
            .join(gift, gift.id == func.coalesce(Donation.original_id, Donation.id))
            .join(PendingGift, PendingGift.id == gift.pending_gift_id)
            .where(
                column.in_(ids),
                Donation.kind.in_((DonationKind.GIFT, DonationKind.TRANSFER_IN)),
                PendingGift.is_amount_hidden.is_(True),
            )
            .distinct()
        )
    )


def _shown(organisation, raised_minor: int) -> int | None:
    if organisation.hidden_gift_total == HIDDEN:
        return None
    return rounded(raised_minor, organisation.currency)


def masked(rows: list[tuple[int, bool, int, int]], organisation) -> dict[int, int | None]:
    """The public raised figure of each row (page id, is an event, raised, donors)
    whose total would tell a hidden gift; rows that tell nothing are left out."""
    few = [(pid, is_event) for pid, is_event, raised, donors in rows if raised > 0 and donors <= 1]
    if not few:
        return {}
    hide = _with_a_hidden_gift(Donation.page_id, [p for p, e in few if not e])
    hide |= _with_a_hidden_gift(Donation.event_id, [p for p, e in few if e])
    return {pid: _shown(organisation, raised) for pid, _, raised, _ in rows if pid in hide}


def total(scope: str, scope_id: int, organisation, figures: Figures) -> Figures:
    """A cause's, an organisation's or a project's total (``scope``: "cause",
    "organisation" or "project") as the public may see it: the same rule as a page's."""
    if not (figures.raised_minor > 0 and figures.donor_count <= 1):
        return figures
    column = {
        "cause": Donation.cause_id,
        "organisation": Donation.organisation_id,
        "project": Donation.project_id,
    }[scope]
    if not _with_a_hidden_gift(column, [scope_id]):
        return figures
    return dataclasses.replace(figures, raised_minor=_shown(organisation, figures.raised_minor))


def page_figures(pages: list, figures: dict[int, Figures]) -> dict[int, Figures]:
    """``figures`` (by page id) as the public may see them: a total that would
    tell a hidden amount rounded, or ``raised_minor=None`` ("hidden")."""
    out = dict(figures)
    by_org: dict[int, tuple] = {}
    for page in pages:
        org = page.cause.organisation
        by_org.setdefault(org.id, (org, []))[1].append(page)
    for org, group in by_org.values():
        fig = [(p.id, p.is_event, out[p.id].raised_minor, out[p.id].donor_count) for p in group]
        for pid, raised in masked(fig, org).items():
            out[pid] = dataclasses.replace(out[pid], raised_minor=raised)
    return out


def public_page_figures(pages) -> dict[int, Figures]:
    """What each page shows the public as raised (``totals.page_figures``: its
    own gifts, an event's with its members'), masked as above."""
    pages = list(pages)
    return page_figures(pages, totals.page_figures(pages))
