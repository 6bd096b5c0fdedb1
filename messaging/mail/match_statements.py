"""The sponsor's statement of a match, queued when campaigns sends
``match_statement_ready``."""

from __future__ import annotations

from messaging.outbox.queue import queue_email


def queue_match_statement(
    match, *, email: str, subject: str, text: str, organisation_id: int
) -> str | None:
    """Queue the statement once per match (the job that runs again queues nothing)."""
    return queue_email(
        to=email,
        subject=subject,
        text=text,
        trigger="match_statement",
        organisation_id=organisation_id,
        dedupe_key=f"match-statement:{match.id}",
    )
