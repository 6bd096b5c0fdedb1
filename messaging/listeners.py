"""Where messaging listens to campaigns: every receiver of a campaigns signal,
connected once by ``init_app`` (campaigns never imports messaging)."""

from __future__ import annotations

from flask import Flask

from campaigns.signals import (
    badge_awarded,
    cohost_invited,
    demo_seeded,
    donor_link_requested,
    expense_published,
    field_update_posted,
    gift_attribution,
    gift_disputed,
    gift_recorded,
    gift_refunded,
    match_statement_ready,
    message_counts,
    monthly_gift_started,
    page_closed,
    page_published,
    receipt_issued,
    share_funnel,
    share_link_channels,
    team_invited,
)
from messaging.automatic.services import badge_earned, gift_milestones, welcome
from messaging.mail.donor_access import queue_donor_link, queue_monthly_mail
from messaging.mail.field_news import queue_field_update
from messaging.mail.invitations import queue_cohost_invite, queue_team_invite
from messaging.mail.match_statements import queue_match_statement
from messaging.mail.receipts import queue_receipt
from messaging.outbox.services import status_counts
from messaging.sharing.models import ShareLink
from messaging.sharing.services import attributed_link_id, channel_stats
from messaging.templating.demo_templates import seed_templates
from messaging.webhooks import services as webhooks


def _attribution(_sender, *, code: str | None, page_id: int | None) -> int | None:
    return attributed_link_id(code, page_id)


def _demo_templates(organisation, *, cause) -> None:
    seed_templates(organisation, cause)


def _message_counts(organisation_id: int) -> dict[str, int]:
    return status_counts(organisation_id)


def _share_funnel(cause) -> dict:
    return channel_stats(cause=cause)


def _share_link_channels(_sender):
    return ShareLink.__table__


def init_app(app: Flask) -> None:
    # blinker keeps one receiver list per process: connecting again (one app per
    # test) is a no-op, and receivers hold no app of their own.
    page_published.connect(welcome)
    gift_recorded.connect(gift_milestones)
    badge_awarded.connect(badge_earned)
    receipt_issued.connect(queue_receipt)
    cohost_invited.connect(queue_cohost_invite)
    team_invited.connect(queue_team_invite)
    donor_link_requested.connect(queue_donor_link)
    monthly_gift_started.connect(queue_monthly_mail)
    field_update_posted.connect(queue_field_update)
    match_statement_ready.connect(queue_match_statement)
    gift_attribution.connect(_attribution)
    demo_seeded.connect(_demo_templates)
    message_counts.connect(_message_counts)
    share_funnel.connect(_share_funnel)
    share_link_channels.connect(_share_link_channels)
    # Outgoing webhooks: each piece of news becomes outbox rows for the endpoints that want it.
    gift_recorded.connect(webhooks.on_gift_recorded)
    gift_refunded.connect(webhooks.on_gift_refunded)
    gift_disputed.connect(webhooks.on_gift_disputed)
    page_published.connect(webhooks.on_page_published)
    page_closed.connect(webhooks.on_page_closed)
    expense_published.connect(webhooks.on_expense_published)
