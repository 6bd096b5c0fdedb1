"""Monthly gifts without HTTP: the donor's signed stop link, stopping through
Stripe (on the organisation's connected account), and who gives monthly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from campaigns.errors import Conflict, NotFound
from campaigns.giving import stripe_gateway
from campaigns.giving.models import Donation
from campaigns.model_types import utcnow
from campaigns.monthly.models import MonthlyGift, MonthlyStatus
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page
from campaigns.unit_of_work import locked_row
from extensions import db

STOP_SALT = "relais.monthly.stop"
LIVE_STATUSES = (MonthlyStatus.ACTIVE, MonthlyStatus.PAST_DUE)


def _serializer() -> URLSafeSerializer:
    # No expiry: a monthly gift may run for years, and its link with it.
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=STOP_SALT)


def stop_token(monthly: MonthlyGift) -> str:
    """The donor's stop link token: the monthly gift and its key, signed."""
    return _serializer().dumps([monthly.id, monthly.stop_key])


def from_token(token: str) -> MonthlyGift:
    """The monthly gift a stop link names; NotFound for a link that was
    changed, cut short or made for another site."""
    try:
        monthly_id, key = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        monthly_id, key = None, None
    monthly = db.session.get(MonthlyGift, monthly_id) if isinstance(monthly_id, int) else None
    if monthly is None or not isinstance(key, str) or key != monthly.stop_key:
        raise NotFound(
            _(
                "This link to stop a monthly gift is not complete or was changed. Use the "
                "link in the email you received when the monthly gift started."
            )
        )
    return monthly


def stop(monthly: MonthlyGift) -> bool:
    """Stop the monthly gift at Stripe, on the account it lives on, and mark
    it canceled; True if it was running. Stopping it again changes nothing.
    Raises Conflict (nothing changed) when Stripe cannot be reached."""
    monthly = locked_row(monthly)
    if monthly.status == MonthlyStatus.CANCELED:
        return False
    try:
        stripe_gateway.gateway().cancel_subscription(
            monthly.stripe_subscription_id, stripe_account=monthly.stripe_account_id
        )
    except stripe_gateway.GatewayRefused as exc:
        # Stripe no longer knows it, or it is canceled there already: it is stopped.
        if exc.code not in ("resource_missing",) and "canceled" not in str(exc).lower():
            raise Conflict(
                _(
                    "The payment service refused to stop the monthly gift. Nothing "
                    "changed; try again later."
                )
            ) from exc
    except stripe_gateway.GatewayError as exc:
        raise Conflict(
            _("The payment service did not answer. Nothing changed; please try again in a minute.")
        ) from exc
    monthly.status = MonthlyStatus.CANCELED
    monthly.canceled_at = utcnow()
    return True


@dataclass(frozen=True)
class MonthlyDonor:
    monthly: MonthlyGift
    cause_title: str
    page_title: str | None
    months_paid: int
    paid_minor: int  # the gifts (covers apart)
    last_paid_at: datetime | None


def active_donors(organisation_id: int, cause_id: int | None = None) -> list[MonthlyDonor]:
    """The organisation's running monthly gifts (of one cause), newest first,
    with how many months each has paid."""
    paid = (
        select(
            Donation.monthly_gift_id.label("monthly_id"),
            func.count().label("months"),
            func.sum(Donation.amount_minor).label("paid"),
            func.max(Donation.created_at).label("last"),
        )
        .where(Donation.monthly_gift_id.is_not(None), Donation.stripe_invoice_id.is_not(None))
        .group_by(Donation.monthly_gift_id)
        .subquery()
    )
    query = (
        select(MonthlyGift, Cause.title, Page.title, paid.c.months, paid.c.paid, paid.c.last)
        .join(Cause, Cause.id == MonthlyGift.cause_id)
        .outerjoin(Page, Page.id == MonthlyGift.page_id)
        .outerjoin(paid, paid.c.monthly_id == MonthlyGift.id)
        .where(
            MonthlyGift.organisation_id == organisation_id,
            MonthlyGift.status.in_(LIVE_STATUSES),
        )
        .order_by(MonthlyGift.started_at.desc(), MonthlyGift.id.desc())
    )
    if cause_id is not None:
        query = query.where(MonthlyGift.cause_id == cause_id)
    return [
        MonthlyDonor(row[0], row[1], row[2], int(row[3] or 0), int(row[4] or 0), row[5])
        for row in db.session.execute(query)
    ]
