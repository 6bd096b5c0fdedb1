"""Scheduled job of match challenges: the sponsor's statement when a window ends."""

from __future__ import annotations


def send_match_statements() -> int:
    """Send the statement of each match whose window has ended, once."""
    from campaigns.matching.services import send_statements

    return send_statements()
