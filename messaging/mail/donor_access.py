"""The mail with a donor's link to their gifts, queued when campaigns sends
``donor_link_requested``."""

from __future__ import annotations

from campaigns.model_types import utcnow
from messaging.outbox.queue import queue_email


def queue_donor_link(email: str, *, subject: str, text: str) -> str | None:
    """Queue the link for the address, at most once an hour (a second request in
    the same hour finds the first mail queued); returns its Message-ID."""
    return queue_email(
        to=email,
        subject=subject,
        text=text,
        trigger="donor_link",
        dedupe_key=f"donor-link:{email}:{utcnow():%Y%m%d%H}",
    )
