"""Where messaging listens to campaigns: every receiver of a campaigns signal,
connected once by ``init_app`` (campaigns never imports messaging)."""

from __future__ import annotations

from flask import Flask

from campaigns.signals import (
    cohost_invited,
    demo_seeded,
    gift_attribution,
    gift_recorded,
    page_published,
    receipt_issued,
)
from messaging.automatic.services import gift_milestones, welcome
from messaging.mail.invitations import queue_cohost_invite
from messaging.mail.receipts import queue_receipt
from messaging.sharing.services import attributed_link_id
from messaging.templating.demo_templates import seed_templates


def _attribution(_sender, *, code: str | None, page_id: int | None) -> int | None:
    return attributed_link_id(code, page_id)


def _demo_templates(organisation, *, cause) -> None:
    seed_templates(organisation, cause)


def init_app(app: Flask) -> None:
    # blinker keeps one receiver list per process: connecting again (one app per
    # test) is a no-op, and receivers hold no app of their own.
    page_published.connect(welcome)
    gift_recorded.connect(gift_milestones)
    receipt_issued.connect(queue_receipt)
    cohost_invited.connect(queue_cohost_invite)
    gift_attribution.connect(_attribution)
    demo_seeded.connect(_demo_templates)
