"""The co-host invitation mail: queued in the inviting unit of work when
campaigns sends ``cohost_invited``."""

from __future__ import annotations

from messaging.outbox.queue import queue_email


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
