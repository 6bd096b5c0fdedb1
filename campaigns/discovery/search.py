"""Finding a page or an event by a word of its title, its city, its venue or
its owner's name, accents and case ignored, on SQLite and PostgreSQL alike.

Each page keeps that text folded in ``pages.search_text``; a session hook
refreshes it whenever a page or its owner's name changes (an erased account's
name included), so a search never finds a name that is gone."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Select, event, func, inspect, select
from sqlalchemy.orm import Session

from agents.models import Agent
from campaigns.organisations.models import Cause, CauseStatus
from campaigns.pages.models import Page, PageStatus
from extensions import db

PUBLIC_PAGES = (PageStatus.PUBLISHED, PageStatus.CLOSED)
PUBLIC_CAUSES = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)
MAX_TERMS = 8
MAX_QUERY = 200


def fold(text: str | None) -> str:
    """Lower case, accents removed, words separated by one space: 'Éau-Vive!' → 'eau vive'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.split(r"[^\w]+", bare.casefold())).strip()


def page_text(page: Page, owner_name: str) -> str:
    """'<city> | <title> <venue> <owner>', folded: the city first, so that a city
    filter matches the city itself and not a word of a title."""
    words = fold(" ".join((page.title or "", page.venue or "", owner_name or "")))
    return f"{fold(page.city)} | {words}"


def _escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(term: str) -> str:
    return f"%{_escaped(term)}%"


def in_city(city: str):
    """Pages in ``city``, accents and case ignored ('orleans' finds 'Orléans')."""
    return Page.search_text.like(f"{_escaped(fold(city))} |%", escape="\\")


@dataclass(frozen=True)
class Query:
    words: str = ""
    cause: str = ""
    city: str = ""

    @property
    def terms(self) -> list[str]:
        return fold(self.words[:MAX_QUERY]).split()[:MAX_TERMS]

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.city.strip() or self.cause.strip())


def statement(query: Query) -> Select:
    """Public pages of public causes matching every word (and the cause and city)."""
    found = (
        select(Page)
        .join(Cause, Cause.id == Page.cause_id)
        .where(Page.status.in_(PUBLIC_PAGES), Cause.status.in_(PUBLIC_CAUSES))
    )
    for term in query.terms:
        found = found.where(Page.search_text.like(_like(term), escape="\\"))
    if query.cause.strip():
        found = found.where(Cause.slug == query.cause.strip())
    if fold(query.city):
        found = found.where(in_city(query.city))
    return found


def count(query: Query) -> int:
    return db.session.scalar(select(func.count()).select_from(statement(query).subquery()))


def ordered(query: Query) -> Select:
    """Matching pages, published ones first, then by title."""
    return statement(query).order_by(Page.status, func.lower(Page.title), Page.id)


def search(query: Query, *, offset: int = 0, limit: int = 20) -> list[Page]:
    if query.is_empty:
        return []
    return list(db.session.scalars(ordered(query).offset(offset).limit(limit)))


def _refresh(session: Session, flush_context, instances) -> None:
    pages = [o for o in (*session.new, *session.dirty) if isinstance(o, Page)]
    renamed = [
        o
        for o in session.dirty
        if isinstance(o, Agent) and session.is_modified(o) and _name_changed(o)
    ]
    with session.no_autoflush:
        for page in pages:
            owner = page.owner if page.owner is not None else session.get(Agent, page.owner_id)
            text = page_text(page, owner.name if owner else "")
            if page.search_text != text:
                page.search_text = text
        for agent in renamed:
            for page in session.scalars(select(Page).where(Page.owner_id == agent.id)):
                page.search_text = page_text(page, agent.name)


def _name_changed(agent: Agent) -> bool:
    return inspect(agent).attrs.name.history.has_changes()


def init_app(app) -> None:
    """Keep every page's search text current (registered by create_app)."""
    if not event.contains(Session, "before_flush", _refresh):
        event.listen(Session, "before_flush", _refresh)
