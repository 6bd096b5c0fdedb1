"""The JSON API, ``/api/v1``: public reads, token-authenticated writes.

Reads need no key and show only public things (published or closed causes and
pages); a request carrying the ``Authorization: Bearer`` token of a page's
owner or co-host also sees that page while it is a draft or hidden. Writes
need a token, never a session cookie: the blueprint is CSRF-exempt, so a
cookie must not be enough to change anything.

Every view is one unit of work: it commits once when it succeeds and rolls
back on any error, so a refused request leaves the database as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import BadRequest as MalformedBody
from werkzeug.exceptions import Unauthorized
from werkzeug.routing import BuildError

from agents.models import Agent
from agents.services import authenticate_token
from campaigns import leaderboards, services
from campaigns.errors import Conflict, NotFound, ValidationError
from campaigns.models import Cause, CauseStatus, Page, PageKind, PageStatus, TotalScope
from campaigns.money import Money
from campaigns.totals import Figures, figures
from extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_CAUSE = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)
PUBLIC_PAGE = (PageStatus.PUBLISHED, PageStatus.CLOSED)
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
# The fields a client may send when creating or changing a page.
PASSED_THROUGH = ("title", "slug", "story", "city", "venue", "starts_at", "status")
WRITABLE = ("cause", "kind", "goal", *PASSED_THROUGH)
# Service field names that differ from the JSON ones.
FIELD_NAMES = {"goal_minor": "goal"}


class BadRequest(ValidationError):
    """Input the API cannot read at all (a query parameter, a non-JSON body): 400."""

    status = 400


class TokenRequired(Unauthorized):
    """No, bad or revoked bearer token."""


@bp.errorhandler(TokenRequired)
def token_required(exc: TokenRequired):
    response = jsonify({"error": exc.description, "status": 401})
    response.status_code = 401
    challenge = 'Bearer realm="relais"'
    if request.headers.get("Authorization"):
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


# --- plumbing ----------------------------------------------------------------


def unit_of_work(view: Callable) -> Callable:
    """Commit once when the view succeeds, roll back on any error."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            response = view(*args, **kwargs)
            db.session.commit()
        except IntegrityError:
            # Two requests raced for the same slug; the loser gets a clear answer.
            db.session.rollback()
            raise Conflict(
                _("Someone saved the same address at the same moment. Try again.")
            ) from None
        except BaseException:
            db.session.rollback()
            raise
        return response

    return wrapper


def bearer_agent() -> Agent | None:
    """The agent whose token the request carries; 401 for a bad or revoked one."""
    header = request.headers.get("Authorization", "")
    agent = None
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRequired(_("Send your token as: Authorization: Bearer <token>."))
        agent = authenticate_token(token.strip())
        if agent is None:
            raise TokenRequired(
                _("This token is not valid or was revoked. Create a new one on your account page.")
            )
    return agent


def require_agent() -> Agent:
    agent = bearer_agent()
    if agent is None:
        raise TokenRequired(_("This needs a personal access token: Authorization: Bearer <token>."))
    return agent


def json_body() -> dict:
    try:
        # Not silent: a body over MAX_CONTENT_LENGTH stays a 413.
        body = request.get_json(force=True)
    except MalformedBody:
        body = None
    if not isinstance(body, dict):
        raise BadRequest({"body": _('Send a JSON object, for example {"title": "My page"}.')})
    return body


def int_arg(name: str, default: int, *, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    raw = raw.strip()
    value = int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else 0
    if value < 1:
        raise BadRequest({name: _("%(name)s must be a whole number, 1 or more.", name=name)})
    if maximum is not None and value > maximum:
        raise BadRequest({name: _("%(name)s can be at most %(n)s.", name=name, n=maximum)})
    return value


def site_url(endpoint: str, **values) -> str | None:
    """A link to the human page, when the web app has that view."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, _external=True, **values)
    except BuildError:  # the web view changed its arguments: no link beats a 500
        return None


def money(amount_minor: int, currency: str) -> dict:
    return Money(amount_minor, currency).as_json()


def iso(value) -> str | None:
    return value.isoformat() if value else None


# --- visibility --------------------------------------------------------------


def is_public(page: Page) -> bool:
    return page.status in PUBLIC_PAGE and page.cause.status in PUBLIC_CAUSE


def visible_page(slug: str, agent: Agent | None) -> Page:
    """The page if the public, or this agent as its editor, may see it; else 404."""
    page = services.get_page(slug)
    if not is_public(page) and not services.can_edit(agent, page):
        raise NotFound(_("There is no page at this address."))
    return page


def public_cause(slug: str) -> Cause:
    cause = services.get_cause(slug)
    if cause.status not in PUBLIC_CAUSE:
        raise NotFound(_("There is no cause at this address."))
    return cause


# --- shapes ------------------------------------------------------------------


def page_figures(pages: Iterable[Page]) -> dict[int, Figures]:
    """Raised per page, two queries at most: a personal page counts its own
    gifts, an event or team counts its members' too."""
    pages = list(pages)
    out = figures(TotalScope.PAGE, [p.id for p in pages if not p.is_event])
    out.update(figures(TotalScope.EVENT, [p.id for p in pages if p.is_event]))
    return out


def parent_slugs(pages: Iterable[Page], agent: Agent | None) -> dict[int, str]:
    """Slugs of the pages' events, in one query; an event the reader may not see
    is left out rather than leaked."""
    ids = {p.parent_id for p in pages if p.parent_id}
    if not ids:
        return {}
    rows = db.session.execute(
        select(Page.id, Page.slug, Page.status, Page.owner_id).where(Page.id.in_(ids))
    )
    viewer = agent.id if agent else None
    return {r.id: r.slug for r in rows if r.status in PUBLIC_PAGE or r.owner_id == viewer}


def pages_json(pages: list[Page], currency: str, agent: Agent | None) -> list[dict]:
    numbers = page_figures(pages)
    parents = parent_slugs(pages, agent)
    return [page_json(p, numbers[p.id], currency, parents.get(p.parent_id)) for p in pages]


def page_json(page: Page, fig: Figures, currency: str, parent: str | None) -> dict:
    return {
        "slug": page.slug,
        "kind": str(page.kind),
        "title": page.title,
        "parent": parent,
        "city": page.city,
        "venue": page.venue,
        "starts_at": iso(page.starts_at),
        "status": str(page.status),
        "goal": money(page.goal_minor, currency),
        "raised": money(fig.raised_minor, currency),
        "donation_count": fig.donation_count,
        "donor_count": fig.donor_count,
        "url": site_url("campaigns.page_detail", slug=page.slug),
    }


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
    body = page_json(page, numbers[page.id], currency, parents.get(page.parent_id))
    body.update(
        cause=page.cause.slug,
        organisation=page.cause.organisation.slug,
        story=page.story,
        created_at=iso(page.created_at),
        published_at=iso(page.published_at),
        closed_at=iso(page.closed_at),
        can_edit=services.can_edit(agent, page),
    )
    # The page's place in its leaderboard (pages or events); null when unranked.
    ranked = leaderboards.rank_of(page)
    body["rank"] = ranked.rank if ranked else None
    if body["can_edit"] and page.status == PageStatus.HIDDEN:
        body["hidden_reason"] = page.hidden_reason
    if page.is_event:
        body["members"] = [page_json(m, numbers[m.id], currency, page.slug) for m in members]
    return body


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
        currency, fig, by_kind = cause.organisation.currency, numbers[cause.id], counts[cause.id]
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
@unit_of_work
def cause_list():
    bearer_agent()  # a bad token is refused even where none is needed
    causes = db.session.scalars(
        select(Cause)
        .where(Cause.status.in_(PUBLIC_CAUSE))
        .options(selectinload(Cause.organisation))
        .order_by(Cause.id)
    ).all()
    return jsonify({"causes": causes_json(list(causes))})


@bp.get("/causes/<slug>")
@unit_of_work
def cause_detail(slug: str):
    bearer_agent()
    return jsonify(causes_json([public_cause(slug)])[0])


@bp.get("/causes/<slug>/leaderboard")
@unit_of_work
def cause_leaderboard(slug: str):
    """``?board=pages|events`` (default pages), ``?limit=`` up to 100 (default 10):
    ranked by amount raised, donor count breaking ties."""
    cause = public_cause(slug)
    board = request.args.get("board", "pages")
    if board not in leaderboards.BOARDS:
        raise BadRequest({"board": _("board must be pages or events.")})
    limit = int_arg("limit", 10, maximum=100)
    currency = cause.organisation.currency
    entries = leaderboards.board(cause.id, board, limit=limit)
    return jsonify(
        {
            "cause": cause.slug,
            "board": board,
            "entries": [
                {
                    "rank": e.rank,
                    "slug": e.slug,
                    "title": e.title,
                    "kind": e.kind,
                    "city": e.city,
                    "raised": money(e.raised_minor, currency),
                    "donor_count": e.donor_count,
                    "url": site_url("campaigns.page_detail", slug=e.slug),
                }
                for e in entries
            ],
        }
    )


@bp.get("/causes/<slug>/pages")
@unit_of_work
def cause_pages(slug: str):
    """Public pages of a cause by id, ``per_page`` up to 500; 400 for anything
    else (rather than a silently different page size)."""
    cause = public_cause(slug)
    number = int_arg("page", 1)
    per_page = int_arg("per_page", DEFAULT_PER_PAGE, maximum=MAX_PER_PAGE)
    where = (Page.cause_id == cause.id, Page.status.in_(PUBLIC_PAGE))
    total = db.session.scalar(select(func.count(Page.id)).where(*where))
    total_pages = -(-total // per_page)
    offset = (number - 1) * per_page
    pages: list[Page] = []
    if offset < total:  # also keeps absurd page numbers away from the database
        pages = list(
            db.session.scalars(
                select(Page).where(*where).order_by(Page.id).offset(offset).limit(per_page)
            )
        )

    def link(n: int) -> str:
        return url_for(".cause_pages", slug=slug, page=n, per_page=per_page, _external=True)

    return jsonify(
        {
            "cause": cause.slug,
            "pages": pages_json(pages, cause.organisation.currency, bearer_agent()),
            "page": number,
            "per_page": per_page,
            "total": total,
            "total_pages": total_pages,
            "next": link(number + 1) if offset + per_page < total else None,
            "previous": link(min(number - 1, max(total_pages, 1))) if number > 1 else None,
        }
    )


@bp.get("/pages/<slug>")
@unit_of_work
def page_detail(slug: str):
    agent = bearer_agent()
    return jsonify(page_detail_json(visible_page(slug, agent), agent))


@bp.get("/organisations/<slug>")
@unit_of_work
def organisation_detail(slug: str):
    bearer_agent()
    org = services.get_organisation(slug)
    fig = figures(TotalScope.ORGANISATION, [org.id])[org.id]
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
    elif not 0 <= amount <= services.MAX_GOAL_MINOR:
        errors["goal"] = _(
            "goal.amount_minor must be between 0 and %(n)s.", n=services.MAX_GOAL_MINOR
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
            services.clean_page_input(data, kind=PageKind(kind), page=page)
        except ValidationError as exc:
            errors = {**{FIELD_NAMES.get(k, k): v for k, v in exc.errors.items()}, **errors}
    if errors:
        raise ValidationError(errors)


def created(page: Page, agent: Agent):
    response = jsonify(page_detail_json(page, agent))
    response.status_code = 201
    response.headers["Location"] = url_for(".page_detail", slug=page.slug, _external=True)
    return response


@bp.post("/pages")
@unit_of_work
def page_create():
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
    page = services.create_page(agent, cause, kind, data)
    return created(page, agent)


def editable_page(slug: str, agent: Agent) -> Page:
    page = visible_page(slug, agent)
    services.require_editor(agent, page)
    return page


@bp.patch("/pages/<slug>")
@unit_of_work
def page_update(slug: str):
    agent = require_agent()
    page = editable_page(slug, agent)
    body = json_body()
    data, errors = page_input(body, cause=page.cause, page=page)
    raise_all(errors, data, page.kind, page)
    services.update_page(agent, page, data)
    return jsonify(page_detail_json(page, agent))


@bp.post("/pages/<slug>/join")
@unit_of_work
def page_join(slug: str):
    agent = require_agent()
    event = visible_page(slug, agent)
    body = json_body()
    mine = body.get("page")
    if not isinstance(mine, str) or not mine.strip():
        raise ValidationError({"page": _("Give the slug of your personal page.")})
    try:
        page = services.get_page(mine.strip())
    except NotFound:
        raise ValidationError({"page": _("There is no page with this slug.")}) from None
    services.join_event(agent, page, event)
    return jsonify(page_detail_json(page, agent))


@bp.post("/pages/<slug>/leave")
@unit_of_work
def page_leave(slug: str):
    agent = require_agent()
    page = visible_page(slug, agent)
    services.leave_event(agent, page)
    return jsonify(page_detail_json(page, agent))


@bp.post("/pages/<slug>/close")
@unit_of_work
def page_close(slug: str):
    agent = require_agent()
    page = editable_page(slug, agent)
    services.close_page(agent, page)
    return jsonify(page_detail_json(page, agent))
