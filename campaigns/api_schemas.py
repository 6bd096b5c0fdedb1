"""The shapes of the JSON API (``/api/v1``), as pydantic models.

The OpenAPI document (``campaigns/api_docs.py``) is generated from these
models, and the suite's schemathesis run checks every answer of the app
against it. Answers are built as plain dicts by each area's ``api.py``; a
field added there must be added here too (the run fails until it is). Answer
models allow extra fields, so adding a field never breaks a client: only
removing or changing one does.

Request bodies forbid fields they do not know, as the views do (422).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from campaigns import inputs

Slug = Annotated[str, Field(min_length=1, max_length=80, examples=["twestival"])]
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]
Count = Annotated[int, Field(ge=0)]
PageKindName = Literal["personal", "event", "team"]
PageStatusName = Literal["draft", "published", "hidden", "closed"]
Timestamp = Annotated[
    datetime,
    Field(description="RFC 3339, in UTC", examples=["2026-06-21T17:00:00+00:00"]),
]


def omittable(**constraints):
    """A field a request may leave out but not send as null."""

    def no_default(schema: dict) -> None:
        schema.pop("default", None)

    return Field(None, json_schema_extra=no_default, **constraints)


class Answer(BaseModel):
    """Base of every answer: fields may be added, never removed."""

    model_config = ConfigDict(extra="allow")


class Money(Answer):
    """An amount in minor units (cents) of an ISO 4217 currency."""

    amount_minor: int = Field(examples=[150000])
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])


# --- causes and organisations ----------------------------------------------------


class Cause(Answer):
    """A published or closed cause with its totals."""

    slug: Slug
    title: str
    summary: str
    organisation: Slug = Field(description="the organisation's slug")
    status: Literal["published", "closed"]
    goal: Money
    raised: Money = Field(description="hidden below the discretion floor: see the docs")
    donation_count: Count
    donor_count: Count
    page_count: Count = Field(description="public pages, events included")
    event_count: Count
    starts_at: Timestamp | None
    ends_at: Timestamp | None
    url: Url | None = Field(description="the cause's page on the site")


class CauseList(Answer):
    causes: list[Cause]


class Organisation(Answer):
    slug: Slug
    name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    locale: str
    website: str | None
    suggested_amounts: list[Money]
    raised: Money
    donation_count: Count
    donor_count: Count


# --- pages --------------------------------------------------------------------------


class Badge(Answer):
    """An achievement badge a page earned, in the request's language."""

    code: str = Field(pattern=r"^[a-z0-9_]+$", examples=["first_gift"])
    title: str
    description: str
    awarded_at: Timestamp


class PageSummary(Answer):
    """A page in a list: the same shape everywhere pages are listed."""

    slug: Slug
    kind: PageKindName
    title: str
    parent: Slug | None = Field(description="the slug of the event this page belongs to")
    city: str
    venue: str
    starts_at: Timestamp | None
    status: PageStatusName
    goal: Money
    raised: Money
    donation_count: Count
    donor_count: Count
    badges: list[Badge] = Field(
        description="the badges the page earned and its organisation awards, in catalogue order"
    )
    url: Url | None


class PageDetail(PageSummary):
    """One page, with its story; an event lists its public member pages."""

    cause: Slug
    organisation: Slug
    story: str = Field(description="Markdown source; the site sanitises what it renders")
    created_at: Timestamp
    published_at: Timestamp | None
    closed_at: Timestamp | None
    can_edit: bool = Field(description="whether the token's agent may change this page")
    rank: int | None = Field(ge=1, description="place in its leaderboard; null when unranked")
    hidden_reason: str | None = Field(
        None, description="why the organisers hid it (only to its editors, while hidden)"
    )
    members: list[PageSummary] | None = Field(None, description="events only")


class Paged(Answer):
    """Paging fields of a list: ``next`` and ``previous`` are full URLs or null."""

    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=500)
    total: Count
    total_pages: Count
    next: Url | None
    previous: Url | None


class CausePages(Paged):
    cause: Slug
    pages: list[PageSummary]


class PageSearch(Paged):
    q: str
    cause: str | None
    city: str | None
    pages: list[PageSummary]


# --- leaderboards and the live stream ----------------------------------------------


class LeaderboardEntry(Answer):
    rank: int = Field(ge=1)
    slug: Slug
    title: str
    kind: PageKindName
    city: str
    raised: Money
    donor_count: Count
    url: Url | None


class Leaderboard(Answer):
    """Pages or events ranked by amount raised, donor count breaking ties."""

    cause: Slug
    board: Literal["pages", "events"]
    entries: list[LeaderboardEntry]


class LiveEntry(Answer):
    rank: int = Field(ge=1)
    slug: Slug
    title: str
    kind: PageKindName
    city: str
    raised: Money
    donor_count: Count
    url: str = Field(description="the page on the site (empty when it cannot be built)")


class LivePage(Answer):
    raised: Money
    donor_count: Count
    rank: int = Field(ge=1)


class LiveMatch(Answer):
    """A match challenge running now: what is left of its cap."""

    left: Money
    cap: Money


class LiveTotals(Answer):
    """The data of one ``totals`` event of the live stream: a whole state, so a
    client that missed some only needs the latest."""

    cause: Slug
    version: Count = Field(description="also the event's id; send it back as Last-Event-ID")
    raised: Money
    donation_count: Count
    donor_count: Count
    goal: Money
    leaderboards: dict[Literal["pages", "events"], list[LiveEntry]]
    matches: dict[str, LiveMatch] = Field(
        default_factory=dict,
        description="the match challenges of the cause running now, by id: what is left",
    )
    pages: dict[str, LivePage] = Field(
        description="the pages this message is about, by slug (the ranked ones at first)"
    )


class LeagueStanding(Answer):
    rank: Count = Field(description="an exact tie on both figures shares its rank")
    organisation: Slug
    cause: Slug | None = Field(
        description="the cause taking part, or null for the whole organisation"
    )
    name: str
    raised: Money = Field(description="donors' gifts in the window, minus refunds in the window")
    donor_count: Count = Field(description="unique donors who gave in the window")
    gift_count: Count


class League(Answer):
    """A contest across organisations: its window, its rule and its board."""

    slug: Slug
    title: str
    rule: Literal["raised", "donors"] = Field(
        description="raised: by amount, donors breaking ties; donors: by unique donors, "
        "amount breaking ties"
    )
    starts_at: Timestamp
    ends_at: Timestamp
    standings: list[LeagueStanding]


# --- requests -----------------------------------------------------------------------


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GoalInput(BaseModel):
    """A goal in the cause's currency (``currency`` may be left out)."""

    amount_minor: int = Field(ge=0, le=inputs.MAX_GOAL_MINOR, examples=[50000])
    currency: str | SkipJsonSchema[None] = omittable(examples=["EUR"])


NewSlug = Annotated[
    str,
    Field(
        max_length=80,
        pattern=inputs.SLUG_RE.pattern,
        description="lower-case letters, digits and dashes; left out, one is made from the title",
        examples=["lyon-2026"],
    ),
]
Text = Annotated[str, Field(description="text; surrounding spaces are dropped")]


class PageChange(Request):
    """The fields of a page a client may send back (``PATCH`` takes any of them;
    null clears the story, city, venue and date, and lets the slug be made)."""

    cause: Slug | SkipJsonSchema[None] = omittable(
        description="cannot change; the current value is accepted"
    )
    kind: PageKindName | SkipJsonSchema[None] = omittable(
        description="cannot change; the current value is accepted"
    )
    title: Text | SkipJsonSchema[None] = omittable(max_length=200)
    goal: GoalInput | SkipJsonSchema[None] = omittable()
    slug: NewSlug | None = None
    story: Text | None = Field(None, max_length=20_000, description="Markdown")
    city: Text | None = Field(None, max_length=120, description="required for events")
    venue: Text | None = Field(None, max_length=200)
    starts_at: datetime | None = Field(None, description="events: in the future, RFC 3339")
    status: Literal["draft", "published"] | None = Field(None, description="default draft")


class PageCreate(PageChange):
    """A new page under a published cause."""

    cause: Slug
    kind: PageKindName
    title: Text = Field(max_length=200, examples=["Twestival Lyon"])
    goal: GoalInput


class JoinEvent(BaseModel):
    page: Slug = Field(description="the slug of your personal page")


class JoinRequested(BaseModel):
    """A team lets pages in on its captain's approval: the request waits."""

    team: Slug
    page: Slug
    status: Literal["pending"]


# --- query strings ------------------------------------------------------------------

PageNumber = Annotated[int, Field(ge=1, le=10**18 - 1, description="from 1")]


class Paging(BaseModel):
    page: PageNumber = 1
    per_page: int = Field(50, ge=1, le=500)


class SearchQuery(Paging):
    q: str = Field("", description="words of the title, city, venue or owner's name")
    cause: str = Field("", description="a cause's slug")
    city: str = Field("", description="a city (accents and case ignored)")


class LeaderboardQuery(BaseModel):
    board: Literal["pages", "events"] = "pages"
    limit: int = Field(10, ge=1, le=100)


class StreamQuery(BaseModel):
    last_event_id: str | SkipJsonSchema[None] = omittable(
        description="the same as Last-Event-ID, for clients that cannot send headers"
    )


# --- problems (RFC 9457) ---------------------------------------------------------------


class Problem(Answer):
    """Every error of the API: ``application/problem+json`` (RFC 9457).

    ``error`` repeats ``detail`` and ``status`` the HTTP status, as answers did
    before problem documents; 400 and 422 add ``errors``, field by field."""

    type: str = Field(description="a URI naming the kind of problem", examples=["about:blank"])
    title: str = Field(description="a short summary of that kind of problem")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="what went wrong this time, and what to do")
    instance: str | None = Field(None, description="the path that was asked for")
    error: str = Field(description="the same sentence as detail")
    errors: dict[str, str] | None = Field(None, description="what to fix, by field")


class ValidationProblem(Problem):
    """422: what is wrong, field by field; nothing was changed."""

    errors: dict[str, str]


class StreamHeaders(BaseModel):
    last_event_id: str | SkipJsonSchema[None] = omittable(
        alias="Last-Event-ID",
        description="the id of the last event received: the stream resumes after it",
    )
