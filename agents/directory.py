"""The staff directory of an organisation's free agents: everyone who has a
page under one of its causes, with their pages and what those raised (staff
see real figures: nothing here is public), found by name or city."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from agents.models import Agent, Profile
from campaigns.discovery.search import fold, in_city
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page, PageStatus
from campaigns.totals.models import Total, TotalScope
from extensions import db

PER_SCREEN = 25
PUBLIC = (PageStatus.PUBLISHED, PageStatus.CLOSED)


@dataclass(frozen=True)
class Filters:
    name: str = ""
    city: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.name.strip() or self.city.strip())


@dataclass(frozen=True)
class Row:
    agent: Agent
    profile_handle: str | None  # their public profile, if they show one
    pages: int
    public_pages: int
    events: int
    raised_minor: int  # given on their own pages (an event's members count on theirs)
    gifts: int
    cities: list[str]
    last_page_at: datetime | None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _org_pages(organisation_id: int):
    return (
        select(Page)
        .join(Cause, Cause.id == Page.cause_id)
        .where(Cause.organisation_id == organisation_id)
    )


def agents_query(organisation_id: int, filters: Filters) -> Select:
    """The organisation's agents matching ``filters``, most raised first."""
    raised = (
        select(Page.owner_id.label("owner_id"), func.sum(Total.raised_minor).label("raised"))
        .join(Cause, Cause.id == Page.cause_id)
        .join(Total, and_(Total.scope == TotalScope.PAGE, Total.scope_id == Page.id))
        .where(Cause.organisation_id == organisation_id)
        .group_by(Page.owner_id)
        .subquery()
    )
    mine = and_(Page.owner_id == Agent.id, Cause.organisation_id == organisation_id)
    query = (
        select(Agent)
        .outerjoin(raised, raised.c.owner_id == Agent.id)
        .where(
            Agent.deleted_at.is_(None),
            exists().where(mine, Cause.id == Page.cause_id),
        )
        .order_by(func.coalesce(raised.c.raised, 0).desc(), func.lower(Agent.name), Agent.id)
    )
    name = fold(filters.name)[:120]
    if name:
        # The folded text of their pages carries the owner's name, accents
        # and case ignored ("elodie" finds "Élodie"); the name column the rest.
        typed = filters.name.strip().lower()[:120]
        query = query.where(
            or_(
                func.lower(Agent.name).like(f"%{_escape(typed)}%", escape="\\"),
                exists().where(
                    mine,
                    Cause.id == Page.cause_id,
                    Page.search_text.like(f"%{_escape(name)}%", escape="\\"),
                ),
            )
        )
    if fold(filters.city):
        event = aliased(Page)
        in_event_city = exists().where(
            event.id == Page.parent_id,
            event.search_text.like(f"{_escape(fold(filters.city))} |%", escape="\\"),
        )
        query = query.where(
            exists().where(
                mine, Cause.id == Page.cause_id, or_(in_city(filters.city), in_event_city)
            )
        )
    return query


def rows(organisation_id: int, agents: list[Agent]) -> list[Row]:
    """The directory's figures for one screen of agents (three queries)."""
    ids = [a.id for a in agents]
    if not ids:
        return []
    pages = db.session.execute(
        _org_pages(organisation_id)
        .with_only_columns(
            Page.id, Page.owner_id, Page.status, Page.kind, Page.city, Page.created_at
        )
        .where(Page.owner_id.in_(ids))
    ).all()
    money = dict.fromkeys(ids, (0, 0))
    sums = db.session.execute(
        select(Page.owner_id, func.sum(Total.raised_minor), func.sum(Total.donation_count))
        .join(Total, and_(Total.scope == TotalScope.PAGE, Total.scope_id == Page.id))
        .where(Page.id.in_([p.id for p in pages]))
        .group_by(Page.owner_id)
    )
    for owner_id, raised, gifts in sums:
        money[owner_id] = (int(raised or 0), int(gifts or 0))
    handles = dict(
        db.session.execute(
            select(Profile.agent_id, Profile.handle).where(
                Profile.agent_id.in_(ids), Profile.is_public.is_(True)
            )
        ).all()
    )
    out = []
    for agent in agents:
        own = [p for p in pages if p.owner_id == agent.id]
        out.append(
            Row(
                agent=agent,
                profile_handle=handles.get(agent.id),
                pages=len(own),
                public_pages=sum(1 for p in own if p.status in PUBLIC),
                events=sum(1 for p in own if p.kind != "personal"),
                raised_minor=money[agent.id][0],
                gifts=money[agent.id][1],
                cities=sorted({p.city for p in own if p.city}),
                last_page_at=max((p.created_at for p in own), default=None),
            )
        )
    return out
