"""JSON API reads of causes and organisations (routes of the ``api`` blueprint)."""

from __future__ import annotations

from flask import jsonify
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from campaigns import api_schemas as schemas
from campaigns.api_docs import operation
from campaigns.errors import NotFound
from campaigns.giving import discretion
from campaigns.json_api import (
    PUBLIC_CAUSE,
    PUBLIC_PAGE,
    bearer_agent,
    bp,
    iso,
    money,
    pages_json,
    screen,
    site_url,
    unit_of_work,
)
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page, PageKind
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures
from campaigns.urls import absolute_url
from extensions import db


def public_cause(slug: str) -> Cause:
    cause = org_services.get_cause(slug)
    if cause.status not in PUBLIC_CAUSE:
        raise NotFound(_("There is no cause at this address."))
    return cause


def causes_json(causes: list[Cause]) -> list[dict]:
    """Causes with totals and public page counts in two queries."""
    numbers = figures(TotalScope.CAUSE, [c.id for c in causes])
    counts: dict[int, dict[str, int]] = {c.id: {} for c in causes}
    if causes:
        rows = db.session.execute(
            select(Page.cause_id, Page.kind, func.count(Page.id))
            .where(Page.cause_id.in_(counts), Page.status.in_(PUBLIC_PAGE))
            .group_by(Page.cause_id, Page.kind)
        )
        for cause_id, kind, count in rows:
            counts[cause_id][kind] = count
    out = []
    for cause in causes:
        currency, by_kind = cause.organisation.currency, counts[cause.id]
        fig = discretion.total("cause", cause.id, cause.organisation, numbers[cause.id])
        out.append(
            {
                "slug": cause.slug,
                "title": cause.title,
                "summary": cause.summary,
                "organisation": cause.organisation.slug,
                "status": str(cause.status),
                "goal": money(cause.goal_minor, currency),
                "raised": money(fig.raised_minor, currency),
                "donation_count": fig.donation_count,
                "donor_count": fig.donor_count,
                "page_count": sum(by_kind.values()),
                "event_count": by_kind.get(PageKind.EVENT, 0),
                "starts_at": iso(cause.starts_at),
                "ends_at": iso(cause.ends_at),
                "url": site_url("campaigns.cause_detail", slug=cause.slug),
            }
        )
    return out


# --- reads -------------------------------------------------------------------


@bp.get("/causes")
@operation(tags=("causes",), answer=schemas.CauseList, errors=(400, 401, 500))
@unit_of_work
def cause_list():
    """The published and closed causes, with their totals and page counts."""
    bearer_agent()  # a bad token is refused even where none is needed
    causes = db.session.scalars(
        select(Cause)
        .where(Cause.status.in_(PUBLIC_CAUSE))
        .options(selectinload(Cause.organisation))
        .order_by(Cause.id)
    ).all()
    return jsonify({"causes": causes_json(list(causes))})


@bp.get("/causes/<slug>")
@operation(tags=("causes",), answer=schemas.Cause, slug="the cause")
@unit_of_work
def cause_detail(slug: str):
    """One published or closed cause."""
    bearer_agent()
    return jsonify(causes_json([public_cause(slug)])[0])


@bp.get("/causes/<slug>/pages")
@operation(tags=("causes",), answer=schemas.CausePages, query=schemas.Paging, slug="the cause")
@unit_of_work
def cause_pages(slug: str):
    """The public pages of a cause, oldest first, a screen at a time.

    per_page goes up to 500; anything else is a 400 rather than a silently
    different page size. A page number past the end gives an empty list."""
    cause = public_cause(slug)
    where = (Page.cause_id == cause.id, Page.status.in_(PUBLIC_PAGE))
    shown = screen(db.session.scalar(select(func.count(Page.id)).where(*where)))
    pages: list[Page] = []
    if shown.has_rows:
        pages = list(
            db.session.scalars(
                select(Page)
                .where(*where)
                .order_by(Page.id)
                .offset(shown.offset)
                .limit(shown.per_page)
            )
        )

    def link(n: int) -> str:
        return absolute_url("api.cause_pages", slug=slug, page=n, per_page=shown.per_page)

    return jsonify(
        {
            "cause": cause.slug,
            "pages": pages_json(pages, cause.organisation.currency, bearer_agent()),
            **shown.fields(link),
        }
    )


@bp.get("/organisations/<slug>")
@operation(tags=("organisations",), answer=schemas.Organisation, slug="the organisation")
@unit_of_work
def organisation_detail(slug: str):
    """An organisation and what all its causes raised."""
    bearer_agent()
    org = org_services.get_organisation(slug)
    fig = discretion.total(
        "organisation", org.id, org, figures(TotalScope.ORGANISATION, [org.id])[org.id]
    )
    return jsonify(
        {
            "slug": org.slug,
            "name": org.name,
            "currency": org.currency,
            "locale": org.locale,
            "website": org.website,
            "suggested_amounts": [money(a, org.currency) for a in org.suggested_amounts or []],
            "raised": money(fig.raised_minor, org.currency),
            "donation_count": fig.donation_count,
            "donor_count": fig.donor_count,
        }
    )
