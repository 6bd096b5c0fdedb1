"""The JSON API, ``/api/v1``: public reads, token-authenticated writes.

Reads need no key and show only public things (published or closed causes and
pages); a request carrying the ``Authorization: Bearer`` token of a page's
owner or co-host also sees that page while it is a draft or hidden. Writes
need a token of the ``write`` scope, never a session cookie: the blueprint is
CSRF-exempt, so a cookie must not be enough to change anything. Writes are
rate-limited per token (``API_WRITE_RATE_LIMIT``). Every error is a problem
document (``campaigns.errors.problem``); the shapes and the OpenAPI document
are in ``campaigns/api_schemas.py`` and ``campaigns/api_docs.py``.

Every view is one unit of work (``campaigns.unit_of_work``, installed for the
whole app): it commits once when it succeeds and rolls back on any error, so a
refused request leaves the database as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest as MalformedBody
from werkzeug.exceptions import Forbidden, Unauthorized
from werkzeug.routing import BuildError

from agents.models import AccessToken, Agent, TokenScope
from agents.services import find_token, token_id, use_token
from campaigns.badges import services as badges
from campaigns.errors import API_WRITES_SCOPE, Conflict, ValidationError, problem
from campaigns.giving.discretion import public_page_figures as page_figures
from campaigns.model_types import utcnow
from campaigns.money import Money
from campaigns.organisations.models import CauseStatus
from campaigns.pages.models import Page, PageStatus
from campaigns.totals.services import Figures
from campaigns.urls import absolute_url
from extensions import db, limiter, limits_off

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

    kind = "unauthorized"


class TokenExpired(TokenRequired):
    kind = "token-expired"


class ReadOnlyToken(Forbidden):
    """A token of the read scope, on a write."""

    kind = "insufficient-scope"


@bp.errorhandler(TokenRequired)
@bp.errorhandler(ReadOnlyToken)
def token_refused(exc: TokenRequired | ReadOnlyToken):
    # RFC 6750: the challenge says what is wrong with the token, if one was sent.
    challenge = 'Bearer realm="relais"'
    if isinstance(exc, ReadOnlyToken):
        challenge += ', error="insufficient_scope", scope="write"'
    elif request.headers.get("Authorization"):
        challenge += ', error="invalid_token"'
    return problem(
        exc.code, exc.description, kind=exc.kind, headers={"WWW-Authenticate": challenge}
    )


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


def bearer_token() -> AccessToken | None:
    """The token the request carries, now marked used; 401 for a bad, revoked
    or expired one (a request without one is anonymous)."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _sep, clear = header.partition(" ")
    if scheme.lower() != "bearer" or not clear.strip():
        raise TokenRequired(_("Send your token as: Authorization: Bearer <token>."))
    token = find_token(clear.strip())
    if token is None:
        raise TokenRequired(
            _("This token is not valid or was revoked. Create a new one on your account page.")
        )
    if token.is_expired(utcnow()):
        raise TokenExpired(
            _(
                "This token expired on %(date)s (UTC). Create a new one on your account page.",
                date=token.expires_at.strftime("%Y-%m-%d %H:%M"),
            )
        )
    use_token(token)
    return token


def bearer_agent() -> Agent | None:
    """The agent whose token the request carries (any scope); 401 for a bad one."""
    token = bearer_token()
    return token.agent if token else None


def require_agent() -> Agent:
    """The agent of a write: a token of the write scope (401 without one, 403
    for a read-only one)."""
    token = bearer_token()
    if token is None:
        raise TokenRequired(_("This needs a personal access token: Authorization: Bearer <token>."))
    if token.scope != TokenScope.WRITE:
        raise ReadOnlyToken(
            _("This token can only read. Create a token with the write scope to make changes.")
        )
    return token.agent


def limit_key() -> str:
    """What API writes are counted by: the token's id, or for a request without
    a known token its address."""
    scheme, _sep, clear = request.headers.get("Authorization", "").partition(" ")
    ident = token_id(clear.strip()) if scheme.lower() == "bearer" else None
    return f"token:{ident}" if ident else f"address:{get_remote_address()}"


# One limit for all writes of a token, whichever view they reach; one object for
# every app (Flask-Limiter keys decorated limits by the view's name).
write_limit = limiter.shared_limit(
    lambda: current_app.config.get("API_WRITE_RATE_LIMIT", "60 per minute"),
    scope=API_WRITES_SCOPE,
    key_func=limit_key,
    exempt_when=limits_off,
)


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
