"""Message templates, broadcasts, the outbox, share links, rank snapshots,
and the mail Relais kept."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaigns.models import UTCDateTime, utcnow
from extensions import db


class Channel(StrEnum):
    X = "x"
    FACEBOOK = "facebook"
    EMAIL = "email"
    COPY = "copy"


class Trigger(StrEnum):
    """What a template is for: a broadcast staff send, or an automatic message."""

    BROADCAST = "broadcast"
    SUGGESTED = "suggested"  # ready-to-share posts in an agent's share kit
    WELCOME = "welcome"  # a page was published
    FIRST_GIFT = "first_gift"
    GOAL_50 = "goal_50"
    GOAL_100 = "goal_100"
    GIFTS = "gifts"  # gifts on your page, batched (at most one an hour)
    RANK_CHANGE = "rank_change"
    RANK_PASSED = "rank_passed"  # a page was passed by one that moved up
    DAILY_DIGEST = "daily_digest"  # the last days of a cause
    NUDGE = "nudge"  # a page inactive for N days


class MessageTemplate(db.Model):
    """Text an organisation's staff write, per channel and locale, rendered in
    a sandbox on plain data."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int | None] = mapped_column(ForeignKey("causes.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[Trigger] = mapped_column(String(20), default=Trigger.BROADCAST)
    channel: Mapped[Channel] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10), default="fr")
    subject: Mapped[str] = mapped_column(String(300), default="")  # email only
    body: Mapped[str] = mapped_column(Text)  # text (and the post itself for x/facebook/copy)
    body_html: Mapped[str] = mapped_column(Text, default="")  # email only, optional
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))


class AutoMessageSetting(db.Model):
    """Whether an organisation sends one kind of automatic message."""

    __tablename__ = "auto_message_settings"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    trigger: Mapped[Trigger] = mapped_column(String(20), primary_key=True)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    # Per-trigger knobs, e.g. {"inactive_days": 7} for nudges, {"days_before_end": 3}.
    options: Mapped[dict] = mapped_column(JSON, default=dict)


class Audience(StrEnum):
    ALL = "all"  # every agent with a page in the cause
    HOSTS = "hosts"  # owners and co-hosts of event pages
    BELOW_GOAL = "below_goal"  # pages below X % of their goal
    NO_GIFT = "no_gift"  # pages with no gift yet
    EVENT = "event"  # agents of one event (its host, co-hosts and member pages)


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENT = "sent"  # expanded into the outbox (recurring ones go back to scheduled)
    CANCELLED = "cancelled"


class Broadcast(db.Model):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("message_templates.id"))
    audience: Mapped[Audience] = mapped_column(String(20), default=Audience.ALL)
    # Below-goal percentage, or the event page id, depending on the audience.
    audience_value: Mapped[int | None] = mapped_column(Integer)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "" (once), "daily" or "weekly".
    recurrence: Mapped[str] = mapped_column(String(10), default="")
    status: Mapped[BroadcastStatus] = mapped_column(String(20), default=BroadcastStatus.DRAFT)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    template: Mapped[MessageTemplate] = relationship()

    __table_args__ = (
        Index(
            "ix_broadcasts_due",
            "send_at",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
    )


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"  # a worker has it; a social post in flight is never retried blindly
    SENT = "sent"
    FAILED = "failed"  # transient failure: retried at next_attempt_at (status back to queued)
    DEAD = "dead"  # gave up after N attempts; the last error is visible to staff
    REVIEW = "review"  # an ambiguous social-post failure: a person decides
    SKIPPED = "skipped"  # opted out, no credentials, no address
    CANCELLED = "cancelled"


class OutboxMessage(db.Model):
    """One message to one agent on one channel, sent after commit by a worker."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # e.g. "broadcast:12:run:3:agent:45:email": the same message is queued once.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_templates.id"))
    trigger: Mapped[str] = mapped_column(String(20), default="")
    channel: Mapped[Channel] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(255), default="")  # email address
    subject: Mapped[str] = mapped_column(String(300), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    # Fixed once: a resent email carries the same Message-ID.
    message_id: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[OutboxStatus] = mapped_column(String(20), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str] = mapped_column(String(255), default="")  # tweet / post id
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Workers pick due rows through this partial index.
        Index(
            "ix_outbox_messages_due",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )


class MessagingPreference(db.Model):
    """An agent's choices: opt-outs per channel and quiet hours."""

    __tablename__ = "messaging_preferences"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    is_email_opted_out: Mapped[bool] = mapped_column(default=False)
    is_social_opted_out: Mapped[bool] = mapped_column(default=False)
    # Local hours [start, end) when nothing is sent; None: no quiet hours.
    quiet_start_hour: Mapped[int | None] = mapped_column(Integer)
    quiet_end_hour: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(60), default="Europe/Paris")
    # Signed into unsubscribe links; changing it invalidates old links.
    unsubscribe_salt: Mapped[str] = mapped_column(String(32), default="")


class SocialAccount(db.Model):
    """Credentials an agent connected to post for themselves (encrypted at rest)."""

    __tablename__ = "social_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))  # x | facebook
    # Facebook Page id to post to; X handle for display.
    account_ref: Mapped[str] = mapped_column(String(120), default="")
    credentials_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("agent_id", "provider"),)


class ShareLink(db.Model):
    """A short link per agent, page and channel; clicks and gifts are attributed to it."""

    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    click_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("agent_id", "page_id", "channel"),)


class ShareClick(db.Model):
    __tablename__ = "share_clicks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    share_link_id: Mapped[int] = mapped_column(ForeignKey("share_links.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RankSnapshot(db.Model):
    """A page's rank in a leaderboard at one time: the source of "you moved up"."""

    __tablename__ = "rank_snapshots"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    cause_id: Mapped[int] = mapped_column(ForeignKey("causes.id"))
    board: Mapped[str] = mapped_column(String(20))  # pages | events
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    raised_minor: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_rank_snapshots_board_time", "cause_id", "board", "taken_at"),)


class SentMail(db.Model):
    """A copy of every email Relais sent or, with no SMTP configured, kept.

    The demo has no SMTP server: its mail is kept here and shown on the
    "sent mail" page so confirmation and invitation links can be followed.
    """

    __tablename__ = "sent_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    recipient: Mapped[str] = mapped_column(String(255), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(String(80), default="")
    is_delivered: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
