"""Open data: public datasets as JSON and CSV, described by a Frictionless
``datapackage.json``. Never donor personal data (no names, emails, messages
or Stripe ids); a page's amount is null below its organisation's k-donor
floor, so a single gift cannot be read off."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from campaigns import leaderboards, totals
from campaigns.models import (
    Cause,
    CauseStatus,
    Donation,
    Organisation,
    Page,
    PageStatus,
    Project,
    TotalScope,
)
from extensions import db

PUBLIC_CAUSES = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)
PUBLIC_PAGES = (PageStatus.PUBLISHED, PageStatus.CLOSED)
LICENCE = {
    "name": "CC-BY-4.0",
    "title": "Creative Commons Attribution 4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
}


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    fields: tuple[tuple[str, str], ...]  # (name, Frictionless type)
    rows: Callable[[], list[dict]]


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
            "raised_minor": figures[o.id].raised_minor,
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
            "raised_minor": figures[c.id].raised_minor,
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
    return [
        {
            "slug": p.slug,
            "cause": p.cause.slug,
            "name": p.name,
            "goal_minor": p.goal_minor,
            "raised_minor": figures[p.id].raised_minor,
            "donor_count": figures[p.id].donor_count,
        }
        for p in rows
    ]


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
    out = []
    for p in rows:
        fig = events[p.id] if p.is_event else own[p.id]
        floor = p.cause.organisation.open_data_k_floor
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
                "raised_minor": fig.raised_minor if fig.donor_count >= floor else None,
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
            func.sum(Donation.amount_minor),
            func.count().filter(Donation.kind.in_(totals.COUNTED_KINDS)),
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
        }
        for cause_id, date, amount, count in rows
    ]


def leaderboard_rows() -> list[dict]:
    out = []
    for cause in _causes():
        for board in leaderboards.BOARDS:
            for e in leaderboards.board(cause.id, board, limit=100):
                floor = cause.organisation.open_data_k_floor
                out.append(
                    {
                        "cause": cause.slug,
                        "board": board,
                        "rank": e.rank,
                        "page": e.slug,
                        "raised_minor": e.raised_minor if e.donor_count >= floor else None,
                        "donor_count": e.donor_count,
                    }
                )
    return out


MONEY = ("raised_minor", "integer")
DATASETS = {
    d.name: d
    for d in (
        Dataset(
            "organisations",
            "Organisations",
            (
                ("slug", "string"),
                ("name", "string"),
                ("currency", "string"),
                MONEY,
                ("donor_count", "integer"),
            ),
            organisations,
        ),
        Dataset(
            "causes",
            "Causes",
            (
                ("slug", "string"),
                ("organisation", "string"),
                ("title", "string"),
                ("status", "string"),
                ("currency", "string"),
                ("goal_minor", "integer"),
                MONEY,
                ("donation_count", "integer"),
                ("donor_count", "integer"),
            ),
            causes,
        ),
        Dataset(
            "projects",
            "Projects",
            (
                ("slug", "string"),
                ("cause", "string"),
                ("name", "string"),
                ("goal_minor", "integer"),
                MONEY,
                ("donor_count", "integer"),
            ),
            projects,
        ),
        Dataset(
            "pages",
            "Pages and events",
            (
                ("slug", "string"),
                ("cause", "string"),
                ("kind", "string"),
                ("title", "string"),
                ("city", "string"),
                ("parent", "string"),
                ("status", "string"),
                ("goal_minor", "integer"),
                MONEY,
                ("donor_count", "integer"),
            ),
            pages,
        ),
        Dataset(
            "daily",
            "Daily series per cause",
            (("cause", "string"), ("date", "date"), MONEY, ("donation_count", "integer")),
            daily,
        ),
        Dataset(
            "leaderboards",
            "Leaderboards",
            (
                ("cause", "string"),
                ("board", "string"),
                ("rank", "integer"),
                ("page", "string"),
                MONEY,
                ("donor_count", "integer"),
            ),
            leaderboard_rows,
        ),
    )
}


def to_csv(dataset: Dataset, rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[name for name, _ in dataset.fields])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def datapackage(base_url: str) -> dict:
    """A Frictionless Data Package describing every CSV file."""
    sources = [{"title": o["name"]} for o in organisations()] or [{"title": "Relais"}]
    return {
        "name": "relais-open-data",
        "title": "Relais: open fundraising data",
        "licenses": [LICENCE],
        "sources": sources,
        "resources": [
            {
                "name": d.name,
                "title": d.title,
                "path": f"{base_url}{d.name}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {"fields": [{"name": n, "type": t} for n, t in d.fields]},
            }
            for d in DATASETS.values()
        ],
    }
