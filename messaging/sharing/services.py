"""Share links: one short link per agent, page and channel (``/s/<code>``).

A click is recorded on the link and redirected to the page with ``?s=<code>``;
the give form keeps the code, the Checkout Session carries it in its metadata,
and ``campaigns.giving.payments`` asks for the link through the ``gift_attribution``
signal (answered by ``attributed_link_id``) to set ``Donation.share_link_id``, so
gifts are counted per agent and channel.
"""

from __future__ import annotations

import secrets
import string

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from campaigns.giving.models import COST_KINDS, Donation, DonationKind
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page
from campaigns.urls import absolute_url
from extensions import db
from messaging.sharing.models import ShareClick, ShareLink

# Channels a link can be made for; "qr" is the poster's QR code.
SHARE_CHANNELS = ("x", "facebook", "email", "copy", "qr")
CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8
CODE_ATTEMPTS = 5


def new_code() -> str:
    return new_codes(1)[0]


def new_codes(count: int) -> list[str]:
    """``count`` random codes, uniform over the alphabet: random bytes kept
    below the largest multiple of its size (no bias), drawn in one call per
    round instead of a call per character (a broadcast makes 100 000)."""
    size = len(CODE_ALPHABET)
    below = 256 - 256 % size
    need = count * CODE_LENGTH
    chars: list[str] = []
    while len(chars) < need:
        chars.extend(
            CODE_ALPHABET[b % size] for b in secrets.token_bytes(need * 5 // 4 + 8) if b < below
        )
    return ["".join(chars[i : i + CODE_LENGTH]) for i in range(0, need, CODE_LENGTH)]


def _find(agent_id: int, page_id: int, channel: str) -> ShareLink | None:
    return db.session.scalar(
        select(ShareLink).where(
            ShareLink.agent_id == agent_id,
            ShareLink.page_id == page_id,
            ShareLink.channel == channel,
        )
    )


def link_for(agent, page: Page, channel: str) -> ShareLink:
    """The agent's link to ``page`` for ``channel``, made on first use (flushed).

    Two requests making the same link at once: the unique key (agent, page,
    channel) lets one insert win and the other reads the winner's row. With no
    agent (a page whose owner is messaged about), the link is the owner's.
    """
    if channel not in SHARE_CHANNELS:
        raise ValueError(f"unknown share channel {channel!r}")
    agent_id = agent.id if agent is not None else page.owner_id
    link = _find(agent_id, page.id, channel)
    if link is not None:
        return link
    for _attempt in range(CODE_ATTEMPTS):
        link = ShareLink(code=new_code(), agent_id=agent_id, page_id=page.id, channel=channel)
        try:
            with db.session.begin_nested():
                db.session.add(link)
        except IntegrityError:
            # Either the same link was made concurrently, or the code was taken.
            existing = _find(agent_id, page.id, channel)
            if existing is not None:
                return existing
            continue
        return link
    raise RuntimeError("could not find a free share code")


def share_url(link: ShareLink) -> str:
    """The link's absolute address, e.g. https://relais.example/s/Ab3dE5fG."""
    return absolute_url("sharing.follow", code=link.code)


def record_click(code: str) -> tuple[ShareLink, Page] | None:
    """Count one click on a link (a ``ShareClick`` row and the link's counter);
    None for an unknown code. The caller commits."""
    link = db.session.scalar(select(ShareLink).where(ShareLink.code == code))
    if link is None:
        return None
    page = db.session.get(Page, link.page_id)
    db.session.execute(
        update(ShareLink)
        .where(ShareLink.id == link.id)
        .values(click_count=ShareLink.click_count + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.add(ShareClick(share_link_id=link.id))
    db.session.flush()
    db.session.refresh(link)
    return link, page


def attributed_link_id(code: str | None, page_id: int | None) -> int | None:
    """The share link a gift on ``page_id`` came through, from the code its
    Checkout Session carried; None when the code is unknown or for another page."""
    if not isinstance(code, str) or not code or page_id is None:
        return None
    return db.session.scalar(
        select(ShareLink.id).where(ShareLink.code == code[:20], ShareLink.page_id == page_id)
    )


def channel_stats(agent=None, page: Page | None = None, cause: Cause | None = None) -> dict:
    """Clicks, gifts and money per channel, for an agent, a page and/or a cause.

    ``amount_minor`` is net: refunds and disputes of attributed gifts count
    against their channel.
    """
    conditions = []
    if agent is not None:
        conditions.append(ShareLink.agent_id == agent.id)
    if page is not None:
        conditions.append(ShareLink.page_id == page.id)
    if cause is not None:
        conditions.append(ShareLink.page_id.in_(select(Page.id).where(Page.cause_id == cause.id)))
    stats = {c: {"clicks": 0, "gifts": 0, "amount_minor": 0} for c in SHARE_CHANNELS}
    clicks = db.session.execute(
        select(ShareLink.channel, func.sum(ShareLink.click_count))
        .where(*conditions)
        .group_by(ShareLink.channel)
    )
    for channel, count in clicks:
        stats.setdefault(channel, {"clicks": 0, "gifts": 0, "amount_minor": 0})
        stats[channel]["clicks"] = int(count or 0)
    original = aliased(Donation)
    link_id = func.coalesce(Donation.share_link_id, original.share_link_id)
    gifts = db.session.execute(
        select(
            ShareLink.channel,
            func.count(Donation.id).filter(Donation.kind == DonationKind.GIFT),
            func.sum(Donation.amount_minor),
        )
        .select_from(Donation)
        .outerjoin(original, original.id == Donation.original_id)
        .join(ShareLink, ShareLink.id == link_id)
        .where(*conditions, Donation.kind.not_in(COST_KINDS))
        .group_by(ShareLink.channel)
    )
    for channel, count, amount in gifts:
        stats.setdefault(channel, {"clicks": 0, "gifts": 0, "amount_minor": 0})
        stats[channel]["gifts"] = int(count or 0)
        stats[channel]["amount_minor"] = int(amount or 0)
    return stats
