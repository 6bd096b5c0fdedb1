"""The badges there are: their codes (stable, in the API), words and signs,
which news can change which, and a badge as a reader sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Kind:
    """One badge: its code (stable, in the API), words and decorative sign."""

    code: str
    title: object
    description: object
    sign: str
    # Tells something of the amount raised: hidden with a total that
    # "hide my amount" hides (campaigns.giving.discretion).
    tells_amount: bool = False


CATALOGUE: tuple[Kind, ...] = (
    Kind("first_gift", _l("First gift"), _l("Received its first gift."), "★"),
    Kind("goal_25", _l("Off to a good start"), _l("Raised a quarter of its goal."), "◔", True),
    Kind("goal_50", _l("Halfway there"), _l("Raised half of its goal."), "◑", True),
    Kind("goal_100", _l("Goal reached"), _l("Raised its whole goal."), "●", True),
    Kind(
        "goal_exceeded",
        _l("Goal smashed"),
        _l("Raised one and a half times its goal."),
        "✦",
        True,
    ),
    Kind("donors_10", _l("10 donors"), _l("Ten different people gave."), "♥"),
    Kind("donors_50", _l("50 donors"), _l("Fifty different people gave."), "♥"),
    Kind(
        "share_brought_gift",
        _l("Word spreads"),
        _l("A gift came through one of its share links."),
        "↗",
    ),
    Kind("top_10", _l("Top 10"), _l("Reached the cause's top 10."), "▲"),
    Kind("news_posted", _l("Field reporter"), _l("Posted news from the field."), "✎"),
    Kind("first_in_city", _l("First in its city"), _l("Led the pages of its city."), "⚐"),
    Kind("team_player", _l("Team player"), _l("Fundraises as part of an event or a team."), "⚑"),
    Kind("event_host", _l("Host"), _l("Another page joined this event or team."), "⌂"),
)
BY_CODE = {kind.code: kind for kind in CATALOGUE}
ORDER = {kind.code: n for n, kind in enumerate(CATALOGUE)}
GOAL_PERCENTS = {"goal_25": 25, "goal_50": 50, "goal_100": 100, "goal_exceeded": 150}
DONORS = {"donors_10": 10, "donors_50": 50}
# What each kind of news can change: a gift moves money, donors and the board;
# a share link only when the gift came through one; a join the event's ties.
GIFT_CODES = frozenset({"first_gift", *GOAL_PERCENTS, *DONORS, "top_10", "first_in_city"})
JOIN_CODES = frozenset({"team_player", "event_host"})
NEWS_CODES = frozenset({"news_posted"})


@dataclass(frozen=True)
class Shown:
    """A badge as a reader sees it."""

    kind: Kind
    awarded_at: datetime
    count: int = 1  # on a profile: how many of the agent's pages earned it

    @property
    def code(self) -> str:
        return self.kind.code

    def as_json(self) -> dict:
        return {
            "code": self.kind.code,
            "title": str(self.kind.title),
            "description": str(self.kind.description),
            "awarded_at": self.awarded_at.isoformat(),
        }
