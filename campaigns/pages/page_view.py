"""A page as its viewer sees it: what the template needs, gathered once, and
the copy kept for signed-in viewers (``page_cache.for_signed_in``)."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from sqlalchemy import Integer, bindparam, select

from agents.models import Agent
from agents.profiles import public_profile_of
from campaigns import page_cache
from campaigns.badges import services as badges
from campaigns.giving import services as giving
from campaigns.giving.discretion import public_page_figures as page_figures
from campaigns.giving.forms import GiveForm
from campaigns.news import services as news
from campaigns.organisations.forms import ConfirmForm
from campaigns.pages import services as page_services
from campaigns.pages import sponsors, teams
from campaigns.pages.forms import JoinForm, choice
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.urls import absolute_url
from campaigns.web import PUBLIC_STATUSES, agent
from extensions import db


def joinable_pages(who, event: Page) -> list[Page]:
    """The agent's own personal pages that could join this event."""
    return own_pages_around(who, event)[0]


def own_pages_around(who, event: Page) -> tuple[list[Page], list[Page]]:
    """The agent's own pages that could join this event (personal ones, by
    title) and those already in it (not hidden, by id): one query."""
    if who is None or not event.is_event:
        return [], []
    query = _AROUND if event.status == PageStatus.PUBLISHED else _IN
    params = {"owner_id": who.id, "cause_id": event.cause_id, "event_id": event.id}
    pages = db.session.scalars(query, params).all()
    # A page in the event matched ``_member``; any other matched ``_could_join``.
    joined = sorted((p for p in pages if p.parent_id == event.id), key=lambda p: p.id)
    return [p for p in pages if p.parent_id != event.id], joined


# Built once: every signed-in view of an event asks.
_event_id = bindparam("event_id", type_=Integer)
_member = (Page.parent_id == _event_id) & (Page.status != PageStatus.HIDDEN)
_could_join = (
    (Page.kind == PageKind.PERSONAL)
    & Page.status.in_((PageStatus.DRAFT, PageStatus.PUBLISHED))
    & ((Page.parent_id.is_(None)) | (Page.parent_id != _event_id))
)
_own = (Page.owner_id == bindparam("owner_id", type_=Integer)) & (
    Page.cause_id == bindparam("cause_id", type_=Integer)
)
_AROUND = select(Page).where(_own, _member | _could_join).order_by(Page.title, Page.id)
_IN = select(Page).where(_own, _member).order_by(Page.title, Page.id)


def render_page(
    page: Page,
    *,
    join_form: JoinForm | None = None,
    give_form: GiveForm | None = None,
    give_errors: dict[str, str] | None = None,
    status: int = 200,
):
    who = agent()
    can_edit = page_services.can_edit(who, page)
    # The agent's own pages already in this event are in, not asked to join.
    candidates, joined = own_pages_around(who, page)
    waiting = teams.waiting_pages(who, page)

    def render():
        return _page_html(
            page,
            who,
            can_edit=can_edit,
            candidates=candidates,
            joined=joined,
            waiting=waiting,
            join_form=join_form,
            give_form=give_form,
            give_errors=give_errors,
        )

    if status != 200 or join_form is not None or give_form is not None:
        return render(), status  # a form shown again with its errors
    # The same page for every signed-in viewer unless they can do more on it.
    personal = (
        can_edit
        or candidates
        or joined
        or waiting
        or news.can_post(who, page=page)
        or news.has_written_on(who, page)
    )
    relation = (who.id, page.updated_at) if personal else (None, page.updated_at)
    return page_cache.for_signed_in(relation, render), status


def _page_html(
    page, who, *, can_edit, candidates, joined, waiting, join_form, give_form, give_errors
):
    """The page as ``who`` sees it (everything the template needs gathered here)."""
    give_options = giving.gift_options(page)
    if give_form is None:
        give_form = GiveForm.for_page(
            page,
            give_options,
            share=request.args.get("s", ""),
            project=request.args.get("project", ""),
        )
    members = [m for m in page.members if m.status in PUBLIC_STATUSES] if page.is_event else []
    if can_edit and page.is_event:
        # Hosts also see their members' drafts, so they know who is getting ready.
        members = [m for m in page.members if m.status != PageStatus.HIDDEN]
    # The template names the page's owner and each member's: one query for all;
    # the lazy loads find them in the session while this list keeps them alive.
    owner_ids = {page.owner_id, *(m.owner_id for m in members)}
    owners = db.session.scalars(select(Agent).where(Agent.id.in_(owner_ids))).all()
    if join_form is None:
        join_form = JoinForm()
    join_form.page.choices = [choice(p.slug, p.title) for p in candidates]
    figures = page_figures([page])[page.id]
    return render_template(
        "campaigns/page.html",
        page=page,
        cause=page.cause,
        figures=figures,
        badges=badges.shown([page], {page.id: figures})[page.id],
        owner_profile=public_profile_of(page.owner),
        members=members,
        member_totals=page_figures(members),
        can_edit=can_edit,
        is_owner=who is not None and who.id == page.owner_id,
        join_form=join_form,
        can_join=bool(candidates),
        joined_pages=joined,
        waiting_pages=waiting,
        confirm_form=ConfirmForm(),
        page_url=absolute_url("campaigns.page_detail", slug=page.slug),
        # Plain text built here: in a template it would come back HTML-escaped.
        share_text=_("Support “%(title)s” on Relais", title=page.title),
        give_form=give_form,
        give_options=give_options,
        give_errors=give_errors or {},
        give_refusal=giving.refusal(page),
        donor_wall=giving.donor_wall(page),
        sponsors=sponsors.shown(page) if page.is_event else [],
        owners=owners,
    )
