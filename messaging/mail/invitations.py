"""Invitation mail, queued in the inviting unit of work: co-hosts
(``cohost_invited``) and team members (``team_invited``)."""

from __future__ import annotations

from campaigns.model_types import utcnow
from messaging.outbox.queue import queue_email
from messaging.preferences.services import address_hash


def queue_cohost_invite(invite, *, subject: str, text: str, organisation_id: int) -> str | None:
    """Queue the invitation for its address, once per invite; returns its Message-ID."""
    return queue_email(
        to=invite.email,
        subject=subject,
        text=text,
        trigger="cohost_invite",
        organisation_id=organisation_id,
        dedupe_key=f"cohost-invite:{invite.id}",
    )


def queue_team_invite(
    team, *, email: str, subject: str, text: str, organisation_id: int
) -> str | None:
    """Queue a team invitation, once a day per team and address (a second
    click on "send" queues nothing); returns its Message-ID."""
    return queue_email(
        to=email,
        subject=subject,
        text=text,
        trigger="team_invite",
        organisation_id=organisation_id,
        dedupe_key=f"team-invite:{team.id}:{address_hash(email)}:{utcnow().date().isoformat()}",
    )
