"""The events an endpoint can receive: their names, their stable ids and the
plain data each carries.

An event's id is derived from its type and the object it is about
(``evt_`` + 32 hex digits of a SHA-256), so the same news always has the same
id: every endpoint, every retry and every "send again" carry it in the
``webhook-id`` header, and a receiver drops what it has seen.

The data is plain and public-grade: ids, slugs, amounts in minor units and
currencies. No donor name, email, address or message is ever sent: a webhook
URL is often a third party (Zapier, a CRM's inbox), and the donor's personal
data stays in Relais, where erasure on request reaches it (staff read it in
their exports).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from campaigns.fund_use.models import Expense
from campaigns.giving.models import Donation
from campaigns.model_types import utcnow
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.pages.models import Page
from campaigns.urls import absolute_url
from extensions import db

GIFT_RECORDED = "gift.recorded"
GIFT_REFUNDED = "gift.refunded"
GIFT_DISPUTED = "gift.disputed"
OFFLINE_GIFT_CONFIRMED = "offline_gift.confirmed"
PAGE_PUBLISHED = "page.published"
PAGE_CLOSED = "page.closed"
EXPENSE_PUBLISHED = "expense.published"
TEST = "webhook.test"  # "Send a test event": every endpoint may receive it

# What staff choose from, in this order, with what each means.
CATALOGUE = {
    GIFT_RECORDED: _l("A card gift was paid (Stripe confirmed it)."),
    GIFT_REFUNDED: _l("A gift was refunded, in full or in part."),
    GIFT_DISPUTED: _l("A donor's bank disputed a gift."),
    OFFLINE_GIFT_CONFIRMED: _l("Staff confirmed a cash, cheque or transfer gift."),
    PAGE_PUBLISHED: _l("A fundraising page was published."),
    PAGE_CLOSED: _l("A page's owner closed it."),
    EXPENSE_PUBLISHED: _l("An expense was published (how funds were used)."),
}


@dataclass(frozen=True)
class Event:
    """One piece of news, ready to queue for every endpoint that wants it."""

    id: str
    type: str
    organisation_id: int
    body: str  # the exact JSON every delivery sends (and signs)


def event_id(event_type: str, subject: str) -> str:
    """The stable id of the news ``event_type`` about ``subject`` ("donation:12")."""
    digest = hashlib.sha256(f"{event_type}:{subject}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _event(event_type: str, subject: str, organisation_id: int, at, data: dict) -> Event:
    body = json.dumps(
        {"type": event_type, "timestamp": _iso(at or utcnow()), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return Event(event_id(event_type, subject), event_type, organisation_id, body)


def _slug(model, id_: int | None) -> str | None:
    if id_ is None:
        return None
    return db.session.scalar(select(model.slug).where(model.id == id_))


def _page_url(slug: str | None) -> str | None:
    return absolute_url("campaigns.page_detail", slug=slug) if slug else None


def _gift_data(gift: Donation) -> dict:
    page = _slug(Page, gift.page_id)
    return {
        "gift_id": gift.id,
        "kind": str(gift.kind),
        "amount_minor": gift.amount_minor,
        "currency": gift.currency,
        "payment_method": gift.payment_method,
        "is_anonymous": bool(gift.is_anonymous),
        "is_unattributed": bool(gift.is_unattributed),
        "organisation": _slug(Organisation, gift.organisation_id),
        "cause": _slug(Cause, gift.cause_id),
        "project": _slug(Project, gift.project_id),
        "page": page,
        "page_url": _page_url(page),
        "event_page": _slug(Page, gift.event_id) if gift.event_id != gift.page_id else None,
        "created_at": _iso(gift.created_at),
    }


def gift_recorded(gift: Donation) -> Event:
    """A gift in the ledger: ``gift.recorded``, or ``offline_gift.confirmed`` for cash."""
    kind = OFFLINE_GIFT_CONFIRMED if gift.kind == "offline" else GIFT_RECORDED
    data = _gift_data(gift)
    if gift.offline_gift_id:
        data["offline_gift_id"] = gift.offline_gift_id
    return _event(kind, f"donation:{gift.id}", gift.organisation_id, gift.created_at, data)


def gift_refunded(refund: Donation, gift: Donation) -> Event:
    """One refund row (a partial refund is one event; a second one, another)."""
    data = {
        "refund_id": refund.id,
        "refunded_minor": -refund.amount_minor,
        "currency": refund.currency,
        "gift": _gift_data(gift),
    }
    return _event(
        GIFT_REFUNDED, f"donation:{refund.id}", gift.organisation_id, refund.created_at, data
    )


def gift_disputed(dispute: Donation, gift: Donation, dispute_id: str) -> Event:
    data = {
        "dispute_id": dispute_id,
        "disputed_minor": -dispute.amount_minor,
        "currency": dispute.currency,
        "gift": _gift_data(gift),
    }
    return _event(
        GIFT_DISPUTED, f"dispute:{dispute_id}", gift.organisation_id, dispute.created_at, data
    )


def _page_data(page: Page) -> dict:
    cause = page.cause
    return {
        "page": page.slug,
        "page_url": _page_url(page.slug),
        "title": page.title,
        "kind": str(page.kind),
        "status": str(page.status),
        "goal_minor": page.goal_minor,
        "currency": cause.organisation.currency,
        "cause": cause.slug,
        "organisation": cause.organisation.slug,
        "event_page": _slug(Page, page.parent_id),
        "city": page.city or None,
        "starts_at": _iso(page.starts_at),
        "published_at": _iso(page.published_at),
        "closed_at": _iso(page.closed_at),
    }


def page_published(page: Page) -> Event:
    """A page's first publication (republishing after a draft is the same news)."""
    return _event(
        PAGE_PUBLISHED,
        f"page:{page.id}",
        page.cause.organisation_id,
        page.published_at,
        _page_data(page),
    )


def page_closed(page: Page) -> Event:
    return _event(
        PAGE_CLOSED, f"page:{page.id}", page.cause.organisation_id, page.closed_at, _page_data(page)
    )


def expense_published(expense: Expense) -> Event:
    """Each publication is news of its own (an expense can be taken back and shown again)."""
    project = expense.project
    cause = project.cause
    at = expense.published_at or utcnow()
    data = {
        "expense_id": expense.id,
        "title": expense.title,
        "amount_minor": expense.amount_minor,
        "currency": expense.currency,
        "spent_at": _iso(expense.spent_at),
        "project": project.slug,
        "cause": cause.slug,
        "organisation": cause.organisation.slug,
        "published_at": _iso(at),
    }
    subject = f"expense:{expense.id}:{int(at.timestamp())}"
    return _event(EXPENSE_PUBLISHED, subject, cause.organisation_id, at, data)


def ping_event(organisation: Organisation) -> Event:
    """A new test event each time (its own id): it says who sent it and nothing else."""
    now = utcnow()
    data = {"organisation": organisation.slug, "message": "This is a test event from Relais."}
    return _event(TEST, f"test:{uuid.uuid4().hex}", organisation.id, now, data)
