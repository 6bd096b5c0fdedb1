"""Teams: a captain (the team page's owner, or a co-host) lets members in.

A free agent asks to join from the team's page and the captain approves or
declines; or the captain shares an invitation link (also sent by email), and
whoever opens it joins at once with their own page. Members' gifts then roll
up into the team exactly as into an event (``campaigns.totals``)."""

from __future__ import annotations

import re

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from agents.models import Agent
from campaigns.errors import NotFound, ValidationError
from campaigns.model_types import utcnow
from campaigns.pages.models import JoinRequestStatus, Page, PageKind, TeamJoinRequest
from campaigns.pages.services import can_edit, check_join, join_event, require_editor
from campaigns.signals import team_invited
from campaigns.urls import absolute_url
from extensions import db

_SALT = "relais.team-invite"
INVITE_DAYS = 30


def _require_team(page: Page) -> None:
    if page.kind != PageKind.TEAM:
        raise NotFound(_("This page is not a team."))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def invite_link(agent: Agent, team: Page) -> str:
    """The link a captain shares: it lets its holder join for 30 days."""
    require_editor(agent, team)
    _require_team(team)
    token = _serializer().dumps(team.id)
    return absolute_url("campaigns.team_invite", slug=team.slug, token=token)


def is_valid_invite(team: Page, token: str) -> bool:
    try:
        team_id = _serializer().loads(token, max_age=INVITE_DAYS * 86400)
    except (BadSignature, ValueError, TypeError):
        return False
    return team_id == team.id


def join_with_invite(agent: Agent, page: Page, team: Page, token: str) -> Page:
    """Join at once: the captain's link is their approval."""
    _require_team(team)
    if not is_valid_invite(team, token):
        raise NotFound(
            _("This invitation link is not valid or has expired. Ask the captain for a new one.")
        )
    join_event(agent, page, team, approved=True)
    _settle(team, page, JoinRequestStatus.APPROVED, None)
    return page


def ask_to_join(agent: Agent, page: Page, team: Page) -> TeamJoinRequest | None:
    """Ask the captain to let the agent's page in; None when it joined at once
    (the agent hosts the team)."""
    _require_team(team)
    check_join(agent, page, team)
    if can_edit(agent, team):
        join_event(agent, page, team)
        return None
    if page.parent_id == team.id:
        raise ValidationError({"page": _("Your page is already in this team.")})
    request = db.session.scalar(
        select(TeamJoinRequest).where(
            TeamJoinRequest.team_id == team.id, TeamJoinRequest.page_id == page.id
        )
    )
    if request is None:
        request = TeamJoinRequest(team_id=team.id, page_id=page.id)
        db.session.add(request)
    request.status = JoinRequestStatus.PENDING
    request.created_at, request.decided_at, request.decided_by_id = utcnow(), None, None
    db.session.flush()
    return request


def _settle(team: Page, page: Page, status: JoinRequestStatus, by: Agent | None) -> None:
    request = db.session.scalar(
        select(TeamJoinRequest).where(
            TeamJoinRequest.team_id == team.id, TeamJoinRequest.page_id == page.id
        )
    )
    if request is not None and request.status == JoinRequestStatus.PENDING:
        request.status, request.decided_at = status, utcnow()
        request.decided_by_id = by.id if by else None
        db.session.flush()


def decide(agent: Agent, team: Page, request_id: int, *, approve: bool) -> TeamJoinRequest:
    """The captain lets a page in, or not. A page that can no longer join
    (closed, moved to another cause) is refused with the reason."""
    require_editor(agent, team)
    _require_team(team)
    request = db.session.get(TeamJoinRequest, request_id)
    if request is None or request.team_id != team.id:
        raise NotFound(_("This request is not for this team."))
    if request.status != JoinRequestStatus.PENDING:
        raise ValidationError({"request": _("This request was already answered.")})
    if approve:
        page = request.page
        join_event(page.owner, page, team, approved=True)
    request.status = JoinRequestStatus.APPROVED if approve else JoinRequestStatus.DECLINED
    request.decided_at, request.decided_by_id = utcnow(), agent.id
    db.session.flush()
    return request


def pending(team: Page) -> list[TeamJoinRequest]:
    return list(
        db.session.scalars(
            select(TeamJoinRequest)
            .where(
                TeamJoinRequest.team_id == team.id,
                TeamJoinRequest.status == JoinRequestStatus.PENDING,
            )
            .order_by(TeamJoinRequest.created_at)
        )
    )


def waiting_pages(agent: Agent | None, team: Page) -> list[Page]:
    """The agent's pages whose request to join this team waits for the captain."""
    if agent is None or team.kind != PageKind.TEAM:
        return []
    return list(
        db.session.scalars(
            select(Page)
            .join(TeamJoinRequest, TeamJoinRequest.page_id == Page.id)
            .where(
                TeamJoinRequest.team_id == team.id,
                TeamJoinRequest.status == JoinRequestStatus.PENDING,
                Page.owner_id == agent.id,
            )
        )
    )


def invite_by_email(agent: Agent, team: Page, email: str) -> str:
    """Mail the invitation link to an address (queued by messaging); returns it."""
    link = invite_link(agent, team)
    email = (email or "").strip().lower()
    if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email) or len(email) > 255:
        raise ValidationError({"email": _("Enter a valid email address.")})
    inviter = agent.display_name
    subject = _("%(name)s invites you to the team “%(page)s”", name=inviter, page=team.title)
    text = "\n\n".join(
        (
            _(
                "%(name)s invites you to join the team “%(page)s” on Relais with your own "
                "fundraising page: what you raise counts for the team too.",
                name=inviter,
                page=team.title,
            ),
            _("Join here (the link works for 30 days):"),
            link,
            _("If you did not expect this email, you can ignore it."),
        )
    )
    team_invited.send(
        team,
        email=email,
        subject=subject,
        text=text,
        organisation_id=team.cause.organisation_id,
    )
    return link
