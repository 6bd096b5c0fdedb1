"""A donor's own data: the gifts given from one email address, a signed link to
see them, and erasure on request.

A donor has no account: the link sent to their address is the proof that the
address is theirs. Money rows stay (the ledger is append-only and totals must
equal it); the personal strings on them go. A gift whose tax receipt (reçu
fiscal) was issued keeps the donor's name and postal address as the receipt
states them: the organisation must keep the receipt's duplicate for six years
(French Livre des procédures fiscales, art. L102 E). Its email and message
still go.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select, tuple_, update

from agents.signals import Erasure
from campaigns import audit
from campaigns.giving.models import Donation, DonationKind, PendingGift, StripeEvent, donor_id_for
from campaigns.giving.services import EMAIL_MAX, EMAIL_RE
from campaigns.giving.yearly import years_with_gifts
from campaigns.monthly.models import MonthlyGift
from campaigns.offline.models import OfflineGift
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page
from campaigns.signals import donor_erased
from campaigns.totals.models import TotalDonor
from campaigns.totals.services import scopes_of
from extensions import db

DONOR_ADDRESS = ("donor_address_line", "donor_postal_code", "donor_city", "donor_country")
LINK_SALT = "donor-access"
LINK_HOURS = 48


def normal_email(value: object) -> str:
    """The address as the ledger compares it, by the give form's own rule ("" when
    it is not one)."""
    if not isinstance(value, str):
        return ""
    email = value.strip().lower()
    return email if len(email) <= EMAIL_MAX and EMAIL_RE.match(email) else ""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def access_token(email: str) -> str:
    """A link token proving, for LINK_HOURS, that its holder reads ``email``'s mail."""
    return _serializer().dumps({"e": email})


def email_of_token(token: str) -> str | None:
    """The address a link token was made for, or None if it is forged or expired."""
    try:
        data = _serializer().loads(token, max_age=LINK_HOURS * 3600)
    except (BadSignature, SignatureExpired):
        return None
    email = data.get("e") if isinstance(data, dict) else None
    return normal_email(email) or None


def _given_by(email: str):
    return func.lower(Donation.donor_email) == email


@dataclass(frozen=True)
class GiftLine:
    """One gift as its donor sees it."""

    id: int
    created_at: datetime
    cause_title: str
    page_title: str
    amount_minor: int
    refunded_minor: int
    currency: str
    donor_name: str
    message: str
    receipt_number: str | None
    receipt_reference: str | None


def gifts_of(email: str) -> list[GiftLine]:
    """Every gift recorded with this donor address, newest first, with its refunds."""
    gifts = list(
        db.session.scalars(
            select(Donation)
            .where(_given_by(email), Donation.kind == DonationKind.GIFT)
            .order_by(Donation.created_at.desc(), Donation.id.desc())
        )
    )
    if not gifts:
        return []
    ids = [g.id for g in gifts]
    # Refunds, disputes and their reversals are signed rows pointing at the gift.
    back = dict(
        db.session.execute(
            select(Donation.original_id, func.sum(Donation.amount_minor))
            .where(Donation.original_id.in_(ids))
            .group_by(Donation.original_id)
        ).all()
    )
    references = dict(
        db.session.execute(
            select(PendingGift.id, PendingGift.reference).where(
                PendingGift.id.in_([g.pending_gift_id for g in gifts if g.pending_gift_id])
            )
        ).all()
    )
    causes = dict(
        db.session.execute(
            select(Cause.id, Cause.title).where(Cause.id.in_({g.cause_id for g in gifts}))
        ).all()
    )
    return [
        GiftLine(
            id=g.id,
            created_at=g.created_at,
            cause_title=causes.get(g.cause_id, ""),
            page_title=g.page.title if g.page else "",
            amount_minor=g.amount_minor,
            refunded_minor=-(back.get(g.id) or 0),
            currency=g.currency,
            donor_name=g.donor_name,
            message=g.message,
            receipt_number=g.receipt_number,
            receipt_reference=references.get(g.pending_gift_id),
        )
        for g in gifts
    ]


def has_personal_data(email: str) -> bool:
    """Whether any gift, started gift or offline gift still names this address."""
    return any(
        db.session.scalar(select(select(model).where(column == email).exists()))
        for model, column in (
            (Donation, func.lower(Donation.donor_email)),
            (PendingGift, func.lower(PendingGift.donor_email)),
            (OfflineGift, func.lower(OfflineGift.donor_email)),
        )
    )


def _redact_payloads(intents: list[str], strings: set[str]) -> None:
    """Stripe's copies of the donor's details, in the events we stored."""
    # Three characters or more: a one-letter name would redact half of every text.
    erasure = Erasure(agent_id=0, email="", forget=tuple(s for s in strings if len(s) >= 3))
    if not intents or not erasure.forget:
        return
    for event in db.session.scalars(
        select(StripeEvent).where(StripeEvent.stripe_payment_intent_id.in_(intents))
    ):
        event.detail = erasure.json(event.detail)
        event.payload = erasure.json(event.payload)


def erase_donor(
    email: str, *, organisation_id: int | None = None, forget: tuple[str, ...] = ()
) -> list[Donation]:
    """Erase the personal strings of every ledger row given from ``email`` (within
    one organisation when ``organisation_id`` is given); returns those rows.

    The donor's address, the names and street they gave and ``forget`` are
    removed from the Stripe events stored for those gifts.
    """
    scope = [_given_by(email)]
    if organisation_id is not None:
        scope.append(Donation.organisation_id == organisation_id)
    given = list(db.session.scalars(select(Donation).where(*scope)))
    # The donor key is an unsalted hash of the address: a new random key, the
    # same for all their rows and in total_donors, keeps donor counts exact.
    new_key = secrets.token_hex(32)
    new_id = donor_id_for(new_key)
    for old_key in {g.donor_key for g in given if not g.donor_key.startswith("row:")}:
        key_rows = [Donation.donor_key == old_key]
        if organisation_id is not None:
            key_rows.append(Donation.organisation_id == organisation_id)
        db.session.execute(
            update(Donation).where(*key_rows).values(donor_key=new_key, donor_id=new_id)
        )
        totals = [TotalDonor.donor_id == donor_id_for(old_key)]
        if organisation_id is not None:
            # Every scope is inside one organisation: the scopes of its gifts.
            scopes = {scope for g in given if g.donor_key == old_key for scope in scopes_of(g)}
            totals.append(
                tuple_(TotalDonor.scope, TotalDonor.scope_id).in_(
                    [(str(scope), scope_id) for scope, scope_id in scopes]
                )
            )
        db.session.execute(update(TotalDonor).where(*totals).values(donor_id=new_id))
    strings = {email, *forget}
    for gift in given:
        strings.update(s for s in (gift.donor_name.strip(), gift.donor_address_line.strip()) if s)
        gift.donor_email = ""
        gift.message = ""
        gift.is_anonymous = True
        if gift.receipt_number is None:  # an issued receipt is a legal record
            gift.donor_name = ""
            for field in DONOR_ADDRESS:
                setattr(gift, field, "")
    _redact_payloads(
        [g.stripe_payment_intent_id for g in given if g.stripe_payment_intent_id], strings
    )
    blank = {"donor_name": "", "donor_email": "", **dict.fromkeys(DONOR_ADDRESS, "")}
    pending = [func.lower(PendingGift.donor_email) == email]
    offline = [func.lower(OfflineGift.donor_email) == email]
    if organisation_id is not None:
        pending.append(PendingGift.organisation_id == organisation_id)
        offline.append(
            OfflineGift.page_id.in_(
                select(Page.id).join(Cause).where(Cause.organisation_id == organisation_id)
            )
        )
    db.session.execute(update(PendingGift).where(*pending).values(message="", **blank))
    db.session.execute(update(OfflineGift).where(*offline).values(note="", **blank))
    # A monthly gift keeps running (its later invoices carry no name either).
    monthly = [func.lower(MonthlyGift.donor_email) == email]
    if organisation_id is not None:
        monthly.append(MonthlyGift.organisation_id == organisation_id)
    db.session.execute(
        update(MonthlyGift)
        .where(*monthly)
        .values(donor_name="", donor_email="", is_anonymous=True, is_erased=True)
    )
    return given


def erase_on_request(email: str, actor=None, *, organisation_id: int | None = None) -> int:
    """Erase a donor's details at their request (``actor`` None: the donor, from
    their link; else the staff member, within ``organisation_id``), with one
    audit entry per organisation whose gifts changed; returns how many gifts."""
    per_organisation = Counter({organisation_id: 0} if organisation_id is not None else {})
    rows = erase_donor(email, organisation_id=organisation_id)
    for row in rows:
        if row.kind == DonationKind.GIFT:  # refunds carry the address too; not gifts
            per_organisation[row.organisation_id] += 1
    donor_erased.send(email, organisation_id=organisation_id, gift_ids=[row.id for row in rows])
    for org_id, gifts in per_organisation.items():
        audit.record(
            org_id,
            actor,
            "donor.erase",
            f"Erased a donor's personal details from {gifts} gift(s)"
            + (" at the donor's request (their link)" if actor is None else ", on request"),
            details={"gifts": gifts, "by_donor": actor is None},
        )
    return sum(per_organisation.values())


def purge_old_addresses(*, now: datetime, retention_days: float, keeping_years: int) -> int:
    """Blank the postal address of gifts older than the retention period; a gift
    with an issued receipt keeps it until the receipt's legal keeping period has
    passed too. Started gifts keep a copy of the address: theirs goes after the
    retention period. Returns how many rows (gifts and started gifts) changed."""
    retained = now - timedelta(days=retention_days)
    kept_receipt = now - timedelta(days=365.25 * keeping_years)
    has_address = or_(*(getattr(Donation, f) != "" for f in DONOR_ADDRESS))
    rows = db.session.execute(
        update(Donation)
        .where(
            has_address,
            Donation.created_at < retained,
            or_(Donation.receipt_number.is_(None), Donation.created_at < kept_receipt),
        )
        .values(**dict.fromkeys(DONOR_ADDRESS, ""))
    )
    pending = db.session.execute(
        update(PendingGift)
        .where(
            or_(*(getattr(PendingGift, f) != "" for f in DONOR_ADDRESS)),
            PendingGift.created_at < retained,
        )
        .values(**dict.fromkeys(DONOR_ADDRESS, ""))
    )
    return (rows.rowcount or 0) + (pending.rowcount or 0)


@dataclass(frozen=True)
class YearlyStatement:
    """A year with one organisation that this donor can print a statement of."""

    organisation_slug: str
    organisation_name: str
    year: int


def yearly_statements_of(email: str) -> list[YearlyStatement]:
    """The (organisation, year) statements of ``email``'s gifts, newest first."""
    pairs = years_with_gifts(email=email)
    orgs = {
        org.id: org
        for org in db.session.scalars(
            select(Organisation).where(Organisation.id.in_({org_id for org_id, _year in pairs}))
        )
    }
    return [
        YearlyStatement(orgs[org_id].slug, orgs[org_id].name, year)
        for org_id, year in pairs
        if org_id in orgs
    ]
