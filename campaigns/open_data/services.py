"""Open data: public datasets as JSON and CSV, described by a Frictionless
``datapackage.json``. Never donor personal data (no names, emails, messages
or Stripe ids); a page's amount is null below its organisation's k-donor
floor, so a single gift cannot be read off."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC

from sqlalchemy import func, select

from campaigns.audit import AuditEntry
from campaigns.fund_use import allocation
from campaigns.fund_use.models import Expense
from campaigns.giving import discretion
from campaigns.giving.models import COST_KINDS, Donation
from campaigns.news.models import FieldUpdate
from campaigns.organisations.models import Cause, CauseStatus, Organisation, Project
from campaigns.pages.models import Page, PageStatus
from campaigns.standings import boards as standings_boards
from campaigns.standings import leaderboards as standings_leaderboards
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from campaigns.urls import absolute_url
from extensions import db

PUBLIC_CAUSES = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)
PUBLIC_PAGES = (PageStatus.PUBLISHED, PageStatus.CLOSED)


def _causes() -> list[Cause]:
    return list(
        db.session.scalars(select(Cause).where(Cause.status.in_(PUBLIC_CAUSES)).order_by(Cause.id))
    )


def organisations() -> list[dict]:
    orgs = db.session.scalars(
        select(Organisation)
        .where(
            Organisation.id.in_(
                select(Cause.organisation_id).where(Cause.status.in_(PUBLIC_CAUSES))
            )
        )
        .order_by(Organisation.id)
    ).all()
    figures = totals.figures(TotalScope.ORGANISATION, [o.id for o in orgs])
    return [
        {
            "slug": o.slug,
            "name": o.name,
            "currency": o.currency,
            "raised_minor": discretion.total("organisation", o.id, o, figures[o.id]).raised_minor,
            "donor_count": figures[o.id].donor_count,
        }
        for o in orgs
    ]


def causes() -> list[dict]:
    rows = _causes()
    figures = totals.figures(TotalScope.CAUSE, [c.id for c in rows])
    return [
        {
            "slug": c.slug,
            "organisation": c.organisation.slug,
            "title": c.title,
            "status": str(c.status),
            "currency": c.currency,
            "goal_minor": c.goal_minor,
            "raised_minor": discretion.total(
                "cause", c.id, c.organisation, figures[c.id]
            ).raised_minor,
            "donation_count": figures[c.id].donation_count,
            "donor_count": figures[c.id].donor_count,
        }
        for c in rows
    ]


def projects() -> list[dict]:
    rows = db.session.scalars(
        select(Project).join(Cause).where(Cause.status.in_(PUBLIC_CAUSES)).order_by(Project.id)
    ).all()
    figures = totals.figures(TotalScope.PROJECT, [p.id for p in rows])
    money = allocation.cause_money({p.cause_id for p in rows})
    return [
        {
            "slug": p.slug,
            "cause": p.cause.slug,
            "name": p.name,
            "goal_minor": p.goal_minor,
            "raised_minor": discretion.total(
                "project", p.id, p.cause.organisation, figures[p.id]
            ).raised_minor,
            "donor_count": figures[p.id].donor_count,
            "spent_minor": money[p.cause_id].spent.get(p.id, 0) if p.cause_id in money else 0,
        }
        for p in rows
    ]


def events_hiding_a_page() -> set[int]:
    """Events whose amount would give a small page's gifts away by subtraction.

    An event's total is its own gifts plus its members'; minus the members'
    published totals it leaves the rest. So an event's amounts are shown only
    if every page it counts gifts from (itself included) brought them from no
    donor or from at least k donors."""
    # A gift staff moved to a page counts its donor there (``transfer_in``).
    counted = Donation.kind.in_(totals.DONOR_KINDS)
    floors = dict(
        db.session.execute(
            select(Cause.id, Organisation.open_data_k_floor).join(Organisation)
        ).all()
    )
    hiding = set()
    for event_id, cause_id, donors in db.session.execute(
        select(
            Donation.event_id,
            Donation.cause_id,
            func.count(func.distinct(Donation.donor_key)).filter(counted),
        )
        .where(Donation.event_id.is_not(None), Donation.page_id.is_not(None))
        .group_by(Donation.event_id, Donation.page_id, Donation.cause_id)
    ):
        if 0 < donors < floors.get(cause_id, 3):
            hiding.add(event_id)
    return hiding


def pages() -> list[dict]:
    rows = db.session.scalars(
        select(Page)
        .join(Cause)
        .where(Cause.status.in_(PUBLIC_CAUSES), Page.status.in_(PUBLIC_PAGES))
        .order_by(Page.id)
    ).all()
    own = totals.figures(TotalScope.PAGE, [p.id for p in rows if not p.is_event])
    events = totals.figures(TotalScope.EVENT, [p.id for p in rows if p.is_event])
    slugs = {p.id: p.slug for p in rows}
    hiding = events_hiding_a_page()
    shown_figures = discretion.page_figures(rows, {**own, **events})
    out = []
    for p in rows:
        fig = shown_figures[p.id]
        floor = p.cause.organisation.open_data_k_floor
        shown = fig.donor_count >= floor and p.id not in hiding
        out.append(
            {
                "slug": p.slug,
                "cause": p.cause.slug,
                "kind": str(p.kind),
                "title": p.title,
                "city": p.city,
                "parent": slugs.get(p.parent_id),
                "status": str(p.status),
                "goal_minor": p.goal_minor,
                # Below k donors the amount stays hidden: one gift must not be readable.
                "raised_minor": fig.raised_minor if shown else None,
                "donor_count": fig.donor_count,
            }
        )
    return out


def daily() -> list[dict]:
    day = func.date(Donation.created_at)
    public = select(Cause.id).where(Cause.status.in_(PUBLIC_CAUSES))
    rows = db.session.execute(
        select(
            Donation.cause_id,
            day,
            func.sum(totals.raised_amount()),
            func.count().filter(Donation.kind.in_(totals.COUNTED_KINDS)),
            func.sum(totals.fee_amount()),
            func.sum(totals.cover_amount()),
        )
        .where(Donation.cause_id.in_(public))
        .group_by(Donation.cause_id, day)
        .order_by(Donation.cause_id, day)
    ).all()
    slugs = {c.id: c.slug for c in _causes()}
    return [
        {
            "cause": slugs[cause_id],
            "date": str(date),
            "raised_minor": int(amount or 0),
            "donation_count": int(count or 0),
            "fees_minor": int(fees or 0),
            "covers_minor": int(cover or 0),
        }
        for cause_id, date, amount, count, fees, cover in rows
    ]


def daily_pages() -> list[dict]:
    """Per public page and UTC day: an event counts its members' gifts too.

    The k floor must survive subtraction, so a page shows its day amounts only
    if every one of its days had at least k distinct donors (all or nothing:
    the page's published total minus the shown days then reveals nothing), and
    an event only if the same holds for each page whose gifts it counts,
    itself included (the event's day minus its members' days is then never a
    day of fewer than k donors). Counts of gifts are always shown."""
    day = func.date(Donation.created_at)
    # Pages and events only: a gift staff moved to a page counts there (its
    # ``transfer_in`` row; the ``transfer_out`` side names no page).
    counted = Donation.kind.in_(totals.DONOR_KINDS)
    public = select(Cause.id).where(Cause.status.in_(PUBLIC_CAUSES))
    visible = {
        p.id: p
        for p in db.session.scalars(
            select(Page)
            .join(Cause)
            .where(Cause.status.in_(PUBLIC_CAUSES), Page.status.in_(PUBLIC_PAGES))
        )
    }

    def per_day(column):
        by_id: dict[int, list[tuple]] = defaultdict(list)
        for scope_id, date, amount, count, donors in db.session.execute(
            select(
                column,
                day,
                func.sum(Donation.amount_minor),
                func.count().filter(counted),
                func.count(func.distinct(Donation.donor_key)).filter(counted),
            )
            # Fees are published per cause only (``daily``): a page's day holds gifts.
            .where(
                column.is_not(None),
                Donation.cause_id.in_(public),
                Donation.kind.not_in(COST_KINDS),
            )
            .group_by(column, day)
        ):
            by_id[scope_id].append((str(date), int(amount or 0), int(count or 0), int(donors)))
        return by_id

    pages_days, events_days = per_day(Donation.page_id), per_day(Donation.event_id)
    contributors: dict[int, set[int]] = defaultdict(set)
    for event_id, page_id in db.session.execute(
        select(Donation.event_id, Donation.page_id)
        .where(Donation.event_id.is_not(None), Donation.page_id.is_not(None))
        .distinct()
    ):
        contributors[event_id].add(page_id)

    def every_day_reaches(days: list[tuple], floor: int) -> bool:
        return all(donors >= floor for *_rest, donors in days)

    out = []
    for page_id, page in visible.items():
        floor = page.cause.organisation.open_data_k_floor
        if page.is_event:
            days = events_days.get(page_id, [])
            shown = every_day_reaches(days, floor) and all(
                every_day_reaches(pages_days.get(member, []), floor)
                for member in contributors[page_id]
            )
        else:
            days = pages_days.get(page_id, [])
            shown = every_day_reaches(days, floor)
        out.extend(
            {
                "page": page.slug,
                "cause": page.cause.slug,
                "date": date,
                "raised_minor": amount if shown else None,
                "donation_count": count,
            }
            for date, amount, count, _donors in days
        )
    return sorted(out, key=lambda r: (r["cause"], r["page"], r["date"]))


def leaderboard_rows() -> list[dict]:
    out = []
    hiding = events_hiding_a_page()
    for cause in _causes():
        for board in standings_boards.BOARDS:
            for e in standings_leaderboards.public_board(cause.id, board, limit=100):
                floor = cause.organisation.open_data_k_floor
                out.append(
                    {
                        "cause": cause.slug,
                        "board": board,
                        "rank": e.rank,
                        "page": e.slug,
                        "raised_minor": e.raised_minor
                        if e.donor_count >= floor and e.page_id not in hiding
                        else None,
                        "donor_count": e.donor_count,
                    }
                )
    return out


def expense_rows() -> list[dict]:
    """Published expenses of public causes; never who recorded them."""
    rows = db.session.execute(
        select(Expense, Project.slug, Cause.slug)
        .join(Project, Project.id == Expense.project_id)
        .join(Cause, Cause.id == Project.cause_id)
        .where(Cause.status.in_(PUBLIC_CAUSES), Expense.is_published.is_(True))
        .order_by(Expense.id)
    ).all()
    return [
        {
            "id": e.id,
            "cause": cause,
            "project": project,
            "title": e.title,
            "description": e.description,
            "amount_minor": e.amount_minor,
            "currency": e.currency,
            "spent_at": e.spent_at.astimezone(UTC).date().isoformat(),
            "document_url": absolute_url(
                "expenses.document",
                cause_slug=cause,
                project_slug=project,
                expense_id=e.id,
            )
            if e.document
            else None,
        }
        for e, project, cause in rows
    ]


def fund_use_rows() -> list[dict]:
    """Each public page's share of each project with published expenses (the
    rule of ``campaigns.fund_use.services.shares``); amounts null below the k floor."""
    money = allocation.cause_money(c.id for c in _causes())
    if not money:
        return []
    rows = db.session.scalars(
        select(Page)
        .where(Page.cause_id.in_(list(money)), Page.status.in_(PUBLIC_PAGES))
        .order_by(Page.id)
    ).all()
    own = allocation.own_money(rows)
    donors = {
        **totals.figures(TotalScope.PAGE, [p.id for p in rows if not p.is_event]),
        **totals.figures(TotalScope.EVENT, [p.id for p in rows if p.is_event]),
    }
    project_ids = {pid for m in money.values() for pid in m.spent}
    slugs = dict(
        db.session.execute(
            select(Project.id, Project.slug).where(Project.id.in_(project_ids))
        ).all()
    )
    hiding = events_hiding_a_page()
    out = []
    for p in rows:
        # Below k donors, a share would let one gift (and its designation) be read off.
        shown = (
            donors[p.id].donor_count >= p.cause.organisation.open_data_k_floor
            and p.id not in hiding
        )
        for pid, share in allocation.shares(money[p.cause_id], own.get(p.id, {})).items():
            if share.fraction == 0:
                continue
            out.append(
                {
                    "cause": p.cause.slug,
                    "page": p.slug,
                    "project": slugs[pid],
                    "contribution_minor": share.contribution_minor if shown else None,
                    "funded_minor": share.funded_minor if shown else None,
                    "donor_count": donors[p.id].donor_count,
                }
            )
    return out


def newest_change() -> str:
    """A stamp of the newest timestamped change the datasets are made of:
    ledger rows, pages, expenses, field news, causes, organisations, staff actions."""
    columns = (
        Donation.created_at,
        Page.updated_at,
        Expense.updated_at,
        FieldUpdate.updated_at,
        Cause.created_at,
        Organisation.created_at,
        AuditEntry.created_at,
    )
    stamps = db.session.execute(select(*(select(func.max(c)).scalar_subquery() for c in columns)))
    return "|".join(str(s) for s in stamps.one())
