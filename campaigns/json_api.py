"""The JSON API, ``/api/v1``: public reads, token-authenticated writes.

Reads need no key and show only public things (published or closed causes and
pages); a request carrying the ``Authorization: Bearer`` token of a page's
owner or co-host also sees that page while it is a draft or hidden. Writes
need a token, never a session cookie: the blueprint is CSRF-exempt, so a
cookie must not be enough to change anything.

Every view is one unit of work (``campaigns.unit_of_work``, installed for the
whole app): it commits once when it succeeds and rolls back on any error, so a
refused request leaves the database as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest as MalformedBody
from werkzeug.exceptions import Unauthorized
from werkzeug.routing import BuildError

from agents.models import Agent
from agents.services import authenticate_token
from campaigns.badges import services as badges
from campaigns.errors import Conflict, ValidationError
from campaigns.giving.discretion import public_page_figures as page_figures
from campaigns.money import Money
from campaigns.organisations.models import CauseStatus
from campaigns.pages.models import Page, PageStatus
from campaigns.totals.services import Figures
from campaigns.urls import absolute_url
from extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_CAUSE = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)
PUBLIC_PAGE = (PageStatus.PUBLISHED, PageStatus.CLOSED)
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500


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
    """A write of the API: a unique key lost to a concurrent request (a slug)
    is a 409 with a sentence. The app's unit of work commits or rolls back."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            # Flushed here, so that a lost race shows as this API's Conflict.
            response = view(*args, **kwargs)
            db.session.flush()
        except IntegrityError:
            # Two requests raced for the same slug; the loser gets a clear answer.
            raise Conflict(
                _("Someone saved the same address at the same moment. Try again.")
            ) from None
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


@dataclass(frozen=True)
class Screen:
    """One screen of a paged list, from ``?page=`` and ``?per_page=`` (1 to
    ``MAX_PER_PAGE``; anything else is a 400, not a silently different size)."""

    number: int
    per_page: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def has_rows(self) -> bool:
        # Also keeps absurd page numbers away from the database.
        return self.offset < self.total

    def fields(self, link: Callable[[int], str]) -> dict:
        """The paging fields of the answer; ``link(n)`` is screen n's URL."""
        total_pages = -(-self.total // self.per_page)
        last = self.offset + self.per_page >= self.total
        back = min(self.number - 1, max(total_pages, 1))
        return {
            "page": self.number,
            "per_page": self.per_page,
            "total": self.total,
            "total_pages": total_pages,
            "next": None if last else link(self.number + 1),
            "previous": link(back) if self.number > 1 else None,
        }


def screen(total: int) -> Screen:
    return Screen(
        int_arg("page", 1), int_arg("per_page", DEFAULT_PER_PAGE, maximum=MAX_PER_PAGE), total
    )


def site_url(endpoint: str, **values) -> str | None:
    """A link to the human page, when the web app has that view."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return absolute_url(endpoint, **values)
    except BuildError:  # the web view changed its arguments: no link beats a 500
        return None


def money(amount_minor: int, currency: str) -> dict:
    return Money(amount_minor, currency).as_json()


def iso(value) -> str | None:
    return value.isoformat() if value else None


# --- visibility --------------------------------------------------------------


# --- shapes ------------------------------------------------------------------


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
    earned = badges.shown(pages, numbers)
    return [
        page_json(p, numbers[p.id], currency, parents.get(p.parent_id), earned[p.id]) for p in pages
    ]


def page_json(
    page: Page,
    fig: Figures,
    currency: str,
    parent: str | None,
    earned: list[badges.Shown] | None = None,
) -> dict:
    """A page's shape; ``earned``, its badges when the caller read them for a
    whole list (``badges.shown``), else they are read here."""
    if earned is None:
        earned = badges.shown([page], {page.id: fig})[page.id]
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
        "badges": [badge.as_json() for badge in earned],
        "url": site_url("campaigns.page_detail", slug=page.slug),
    }
