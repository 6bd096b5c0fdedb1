"""JSON API of pages: read, create, edit, join, leave, close (``api`` blueprint)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_babel import gettext as _
from sqlalchemy import select

from agents.models import Agent
from campaigns import api_schemas as schemas
from campaigns import inputs
from campaigns.api_docs import operation
from campaigns.badges import services as badges
from campaigns.errors import NotFound, ValidationError
from campaigns.giving.discretion import public_page_figures as page_figures
from campaigns.json_api import (
    PUBLIC_CAUSE,
    PUBLIC_PAGE,
    bearer_agent,
    bp,
    iso,
    json_body,
    page_json,
    parent_slugs,
    require_agent,
    unit_of_work,
    write_limit,
)
from campaigns.organisations.models import Cause
from campaigns.pages import services as page_services
from campaigns.pages import teams
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.standings import leaderboards as standings_leaderboards
from campaigns.urls import absolute_url
from extensions import db

# The fields a client may send when creating or changing a page.
PASSED_THROUGH = ("title", "slug", "story", "city", "venue", "starts_at", "status")
WRITABLE = ("cause", "kind", "goal", *PASSED_THROUGH)
# Service field names that differ from the JSON ones.
FIELD_NAMES = {"goal_minor": "goal"}


def page_detail_json(page: Page, agent: Agent | None) -> dict:
    """One page with its story, its cause and, for an event, its member pages."""
    currency = page.cause.organisation.currency
    members: list[Page] = []
    if page.is_event:
        viewer = agent.id if agent else None
        members = list(
            db.session.scalars(
                select(Page)
                .where(
                    Page.parent_id == page.id,
                    Page.status.in_(PUBLIC_PAGE) | (Page.owner_id == viewer),
                )
                .order_by(Page.id)
            )
        )
    numbers = page_figures([page, *members])
    parents = parent_slugs([page], agent)
    earned = badges.shown([page, *members], numbers)
    body = page_json(page, numbers[page.id], currency, parents.get(page.parent_id), earned[page.id])
    body.update(
        cause=page.cause.slug,
        organisation=page.cause.organisation.slug,
        story=page.story,
        created_at=iso(page.created_at),
        published_at=iso(page.published_at),
        closed_at=iso(page.closed_at),
        can_edit=page_services.can_edit(agent, page),
    )
    # The page's place in its leaderboard (pages or events); null when unranked.
    ranked = standings_leaderboards.rank_of(page)
    body["rank"] = ranked.rank if ranked else None
    if body["can_edit"] and page.status == PageStatus.HIDDEN:
        body["hidden_reason"] = page.hidden_reason
    if page.is_event:
        body["members"] = [
            page_json(m, numbers[m.id], currency, page.slug, earned[m.id]) for m in members
        ]
    return body


@bp.get("/pages/<slug>")
@operation(tags=("pages",), answer=schemas.PageDetail, slug="the page")
@unit_of_work
def page_detail(slug: str):
    """One page, with its story and its rank; an event lists its member pages.

    Drafts and hidden pages are shown to their owner, co-hosts and the
    organisation's staff (with their token), a 404 to anyone else."""
    agent = bearer_agent()
    return jsonify(page_detail_json(page_services.visible_page(agent, slug), agent))


# --- writes ------------------------------------------------------------------


def goal_minor(value: Any, currency: str, errors: dict) -> int | None:
    example = {"amount_minor": 50000, "currency": currency}
    if not isinstance(value, dict):
        errors["goal"] = _(
            "Give the goal as an object in minor units (cents), for example %(example)s.",
            example=str(example).replace("'", '"'),
        )
        return None
    amount = value.get("amount_minor")
    if isinstance(amount, bool) or not isinstance(amount, int):
        errors["goal"] = _(
            "goal.amount_minor must be a whole number of minor units (cents), "
            "for example 50000 for 500.00."
        )
    elif not 0 <= amount <= inputs.MAX_GOAL_MINOR:
        errors["goal"] = _(
            "goal.amount_minor must be between 0 and %(n)s.", n=inputs.MAX_GOAL_MINOR
        )
    elif value.get("currency", currency) != currency:
        errors["goal"] = _("Goals are in %(currency)s, this cause's currency.", currency=currency)
    else:
        return amount
    return None


def page_input(body: dict, *, cause: Cause | None, page: Page | None) -> tuple[dict, dict]:
    """The service's field dict from a JSON body, and the API-level problems."""
    errors: dict[str, str] = {}
    for key in sorted(set(body) - set(WRITABLE)):
        errors[key] = _("Unknown field. The fields are: %(fields)s.", fields=", ".join(WRITABLE))
    data = {k: body[k] for k in PASSED_THROUGH if k in body}
    if page is None and "goal" not in body:
        errors["goal"] = _('Give a goal, for example {"amount_minor": 50000}.')
    elif "goal" in body:
        currency = cause.organisation.currency if cause else "EUR"
        amount = goal_minor(body["goal"], currency, errors)
        if amount is not None:
            data["goal_minor"] = amount
    if page is not None:
        # A page cannot move to another cause or change kind; sending the
        # current value back (from a GET) is fine.
        if "cause" in body and body["cause"] != page.cause.slug:
            errors["cause"] = _("A page cannot move to another cause.")
        if "kind" in body and body["kind"] != page.kind:
            errors["kind"] = _("A page's kind cannot change; create a new page instead.")
    return data, errors


def raise_all(errors: dict, data: dict, kind: str | None, page: Page | None) -> None:
    """Raise the API's problems together with the service's own field checks."""
    if errors and kind in set(PageKind):
        try:
            page_services.clean_page_input(data, kind=PageKind(kind), page=page)
        except ValidationError as exc:
            errors = {**{FIELD_NAMES.get(k, k): v for k, v in exc.errors.items()}, **errors}
    if errors:
        raise ValidationError(errors)


def created(page: Page, agent: Agent):
    response = jsonify(page_detail_json(page, agent))
    response.status_code = 201
    response.headers["Location"] = absolute_url("api.page_detail", slug=page.slug)
    return response


@bp.post("/pages")
@write_limit
@operation(
    tags=("pages",), answer=schemas.PageDetail, body=schemas.PageCreate, writes=True, created=True
)
@unit_of_work
def page_create():
    """Create a page under a published cause: a draft unless status says published.

    Every field that needs fixing is named at once (422), and nothing is created."""
    agent = require_agent()
    body = json_body()
    cause = None
    cause_slug = body.get("cause")
    if not isinstance(cause_slug, str) or not cause_slug.strip():
        problem = _("Give the slug of the cause this page raises money for.")
    else:
        cause = db.session.scalar(select(Cause).where(Cause.slug == cause_slug.strip()))
        problem = None
        if cause is None or cause.status not in PUBLIC_CAUSE:
            cause, problem = None, _("There is no cause with this slug.")
    data, errors = page_input(body, cause=cause, page=None)
    if problem:
        errors["cause"] = problem
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in set(PageKind):
        errors["kind"] = _('Choose a kind: "personal" or "event".')
        kind = None
    raise_all(errors, data, kind, None)
    page = page_services.create_page(agent, cause, kind, data)
    return created(page, agent)


def editable_page(slug: str, agent: Agent) -> Page:
    page = page_services.visible_page(agent, slug)
    page_services.require_editor(agent, page)
    return page


@bp.patch("/pages/<slug>")
@write_limit
@operation(
    tags=("pages",),
    answer=schemas.PageDetail,
    body=schemas.PageChange,
    writes=True,
    slug="the page",
)
@unit_of_work
def page_update(slug: str):
    """Change a page's fields (its owner or a co-host); the fields left out stay as they are.

    A page's own GET answer can be sent back as it is: cause and kind cannot change."""
    agent = require_agent()
    page = editable_page(slug, agent)
    body = json_body()
    data, errors = page_input(body, cause=page.cause, page=page)
    raise_all(errors, data, page.kind, page)
    page_services.update_page(agent, page, data)
    return jsonify(page_detail_json(page, agent))


@bp.post("/pages/<slug>/join")
@write_limit
@operation(
    tags=("pages",),
    answer=schemas.PageDetail,
    accepted=schemas.JoinRequested,
    body=schemas.JoinEvent,
    writes=True,
    slug="the event or team to join",
)
@unit_of_work
def page_join(slug: str):
    """Put your personal page into this event (slug): its gifts count for the event from now on.
    A team takes it once its captain approves: 202, the request waits."""
    agent = require_agent()
    event = page_services.visible_page(agent, slug)
    body = json_body()
    mine = body.get("page")
    if not isinstance(mine, str) or not mine.strip():
        raise ValidationError({"page": _("Give the slug of your personal page.")})
    try:
        page = page_services.get_page(mine.strip())
    except NotFound:
        raise ValidationError({"page": _("There is no page with this slug.")}) from None
    if event.kind == PageKind.TEAM and not page_services.can_edit(agent, event):
        # A team's captain lets pages in: the request waits for them (202).
        teams.ask_to_join(agent, page, event)
        return jsonify({"team": event.slug, "page": page.slug, "status": "pending"}), 202
    page_services.join_event(agent, page, event)
    return jsonify(page_detail_json(page, agent))


@bp.post("/pages/<slug>/leave")
@write_limit
@operation(tags=("pages",), answer=schemas.PageDetail, writes=True, slug="your page")
@unit_of_work
def page_leave(slug: str):
    """Take your page out of its event; what it raised there stays counted there."""
    agent = require_agent()
    page = page_services.visible_page(agent, slug)
    page_services.leave_event(agent, page)
    return jsonify(page_detail_json(page, agent))


@bp.post("/pages/<slug>/close")
@write_limit
@operation(tags=("pages",), answer=schemas.PageDetail, writes=True, slug="your page")
@unit_of_work
def page_close(slug: str):
    """Close your page (its owner only): it stays online, takes no more gifts."""
    agent = require_agent()
    page = editable_page(slug, agent)
    page_services.close_page(agent, page)
    return jsonify(page_detail_json(page, agent))
