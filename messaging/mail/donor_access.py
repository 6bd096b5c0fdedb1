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


def queue_monthly_mail(
    email: str, *, subject: str, text: str, organisation_id: int | None, dedupe_key: str
) -> str | None:
    """Queue the mail confirming a monthly gift, with its stop link, once."""
    return queue_email(
        to=email,
        subject=subject,
        text=text,
        trigger="monthly_gift",
        organisation_id=organisation_id,
        dedupe_key=dedupe_key,
    )
