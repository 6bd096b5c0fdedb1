"""Receipt mail for a gift: an outbox row written when the gift gets its
receipt number (in that job's transaction: a rolled-back numbering leaves no
mail), delivered after commit by the outbox workers."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from campaigns.giving import receipts
from campaigns.giving.models import Donation, DonationKind, PendingGift
from campaigns.organisations.models import Organisation
from campaigns.urls import absolute_url
from extensions import db
from messaging.outbox.queue import queue_email

TEMPLATE = "receipt"


def receipt_url(reference: str | None) -> str | None:
    """The printable receipt's absolute address, when one can be built (a job
    without PUBLIC_URL has no host to name)."""
    if not reference:
        return None
    return absolute_url("giving.receipt", reference=reference, fallback=None)


def is_receipted(gift: Donation) -> bool:
    """Money that came in through Relais (a payment or a confirmed offline
    gift), not rows written by the demo seed or an import."""
    return gift.kind in (DonationKind.GIFT, DonationKind.OFFLINE) and bool(
        gift.pending_gift_id
        or gift.stripe_checkout_session_id
        or gift.stripe_payment_intent_id
        or gift.offline_gift_id
    )


def queue_receipt(gift: Donation, **_extra) -> str | None:
    """Queue the receipt mail for a gift just numbered, once per gift; send
    nothing (the transaction may still roll back). Returns its Message-ID."""
    if not gift.donor_email or not is_receipted(gift):
        return None
    org = db.session.get(Organisation, gift.organisation_id)
    pending = db.session.get(PendingGift, gift.pending_gift_id) if gift.pending_gift_id else None
    locale = (pending.locale if pending else "") or org.locale or "fr"
    with force_locale(locale):
        receipt = receipts.receipt_for(gift, locale)
        context = {
            "receipt": receipt,
            "organisation": org,
            "receipt_url": receipt_url(receipt.reference),
        }
        subject = " ".join(
            render_template(f"messaging/email/{TEMPLATE}/subject.txt", **context).split()
        )[:300]
        text = render_template(f"messaging/email/{TEMPLATE}/body.txt", **context)
        html = render_template(f"messaging/email/{TEMPLATE}/body.html", subject=subject, **context)
    return queue_email(
        to=gift.donor_email,
        subject=subject,
        text=text,
        html=html,
        trigger=TEMPLATE,
        organisation_id=gift.organisation_id,
        dedupe_key=f"receipt:{gift.id}",
    )
