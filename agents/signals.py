"""Signals agents sends; the other packages answer for their own tables."""

from __future__ import annotations

import re
from dataclasses import dataclass

from blinker import Namespace
from sqlalchemy import func, or_

signals = Namespace()

# sender: an ``Erasure``. Sent inside the deleting unit of work: each package's
# receiver erases or anonymises the rows it owns (they may only change rows).
account_deleted = signals.signal("account-deleted")

REDACTED = "[…]"


@dataclass(frozen=True)
class Erasure:
    """Who is leaving: the agent's id, address and the strings to forget."""

    agent_id: int
    email: str  # lower-cased, "" if none
    forget: tuple[str, ...]  # the name and the address; short strings are skipped

    def mentions(self, *columns):
        """A SQL filter: one of ``columns`` contains a string to forget."""
        return or_(
            *(
                func.lower(column).contains(s.lower(), autoescape=True)
                for column in columns
                for s in self.forget
            )
        )

    def text(self, value: str) -> str:
        """``value`` with every whole-word occurrence of a string to forget redacted."""
        for s in self.forget:
            if value and s.lower() in value.lower():
                value = re.sub(rf"(?<!\w){re.escape(s)}(?!\w)", REDACTED, value, flags=re.I)
        return value

    def json(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value


def erasure_for(agent) -> Erasure:
    email = (agent.email or "").strip().lower()
    # Three characters or more: a one-letter name would redact half of every text.
    strings = tuple(s for s in {(agent.name or "").strip(), email} if len(s) >= 3)
    return Erasure(agent_id=agent.id, email=email, forget=strings)
