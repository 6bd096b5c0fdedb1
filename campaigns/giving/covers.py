"""The donor covers the fees: the exact amount added to a gift, and the rows
that keep it apart from the gift in the ledger.

The amount. Stripe takes ``fee(G) = round(G × p) + f`` of a charge of ``G``
minor units (``p`` its percentage, ``f`` its fixed part, per currency:
``FEE_COVER_RATES``; Stripe rounds the percentage half up to a minor unit).
For a gift of ``A``, the charge is grossed up to the smallest ``G`` with
``G − fee(G) ≥ A`` — about ``(A + f) / (1 − p)`` — and the cover is ``G − A``.
Because ``G − fee(G)`` grows by 0 or 1 each time ``G`` grows by 1 (``p < 1``),
the smallest such ``G`` leaves the organisation exactly ``A`` once Stripe's
fee is taken: at least the gift, never more than one minor unit over (the
property test checks both bounds). Connected accounts may pay other rates:
the cover is then an estimate, and the fee rows (``fees.py``) say what it
really cost.

The rows. A cover is paid in the same charge as its gift, but is no part of
what the gift "holds": it is its own ledger row (``DonationKind.COVER``,
``original_id`` the gift, ``cover_of_id`` the row it covers, unique so it is
written once), counted in ``covers_minor`` beside what was raised — or in
``raised_minor`` (``COVER_RAISED``) when the organisation chose to count covers
in goals and leaderboards (``Organisation.counts_covers``; fixed when the row
is written, so changing the setting never rewrites history). Money that
leaves a covered charge (a refund, a dispute) takes the gift first, then the
cover (``split_back``); money that comes back (a failed refund) returns the
cover first. Each part is its own row, so every total stays the ledger's sum.

Tax. In France a donor who pays the fees pays them to the charity, without
anything in return: the cover is a gift too, and the reçu fiscal counts it in
the deductible amount (``receipts.receipt_for``).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from flask import current_app, has_app_context
from sqlalchemy import select

from campaigns.giving import ledger
from campaigns.giving.follow_ups import cover_held, remaining
from campaigns.giving.models import Donation, DonationKind
from campaigns.organisations.models import Organisation
from extensions import db

DEFAULT_RATES = {"EUR": ("1.5", 25)}


def rate_for(currency: str, rates: dict | None = None) -> tuple[Decimal, int] | None:
    """Stripe's (percent, fixed minor units) for ``currency``; None: no cover offered."""
    if rates is None:
        rates = current_app.config.get("FEE_COVER_RATES") if has_app_context() else None
        rates = DEFAULT_RATES if rates is None else rates
    found = rates.get((currency or "").upper())
    if not found:
        return None
    percent, fixed = found
    return Decimal(str(percent)), int(fixed)


def stripe_fee(gross_minor: int, percent: Decimal, fixed_minor: int) -> int:
    """Stripe's fee on a charge of ``gross_minor``."""
    return int((Decimal(gross_minor) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP)) + (
        fixed_minor
    )


def gross_for(amount_minor: int, percent: Decimal, fixed_minor: int) -> int:
    """The smallest charge leaving ``amount_minor`` once Stripe's fee is taken."""
    share = 1 - percent / 100
    gross = int(((Decimal(amount_minor + fixed_minor)) / share).to_integral_value(ROUND_CEILING))
    # The formula is within a unit or two of the answer (Stripe's rounding):
    # walk to the exact smallest charge.
    while gross - stripe_fee(gross, percent, fixed_minor) < amount_minor:
        gross += 1
    while (
        gross > amount_minor
        and (gross - 1) - stripe_fee(gross - 1, percent, fixed_minor) >= amount_minor
    ):
        gross -= 1
    return gross


def cover_for(amount_minor: int, currency: str, rates: dict | None = None) -> int:
    """What a donor adds to a gift of ``amount_minor`` so the organisation gets
    all of it; 0 when no rate is known for ``currency``."""
    rate = rate_for(currency, rates)
    if rate is None or amount_minor <= 0:
        return 0
    return gross_for(amount_minor, *rate) - amount_minor


def offers_cover(organisation: Organisation) -> bool:
    return bool(organisation.offers_fee_cover) and rate_for(organisation.currency) is not None


def kind_for(organisation: Organisation) -> DonationKind:
    """The kind a new cover row of ``organisation`` takes (see the module's doc)."""
    return DonationKind.COVER_RAISED if organisation.counts_covers else DonationKind.COVER


def split_paid(amount_total: int, asked_cover) -> tuple[int, int]:
    """A paid charge as (gift, cover): the cover the donor chose (from our own
    pending gift or signed metadata), never all of the charge; anything odd
    is no cover, so the money counts as the gift."""
    if isinstance(asked_cover, str) and asked_cover.isdigit():
        asked_cover = int(asked_cover)
    if isinstance(asked_cover, bool) or not isinstance(asked_cover, int) or asked_cover <= 0:
        return amount_total, 0
    if asked_cover >= amount_total:
        return amount_total, 0
    return amount_total - asked_cover, asked_cover


def record_cover(gift: Donation, cover_minor: int) -> Donation | None:
    """The cover paid with ``gift``, its own row beside it (once: unique
    ``cover_of_id``), dated as the gift: the same charge paid both, so a
    daily series (open data) counts them on the same day."""
    if cover_minor <= 0:
        return None
    organisation = db.session.get(Organisation, gift.organisation_id)
    return ledger.record_further_row(
        gift,
        kind_for(organisation),
        cover_minor,
        cover_of_id=gift.id,
        **({"created_at": gift.created_at} if gift.created_at else {}),
    )


def cover_row(gift: Donation) -> Donation | None:
    """The cover paid with ``gift``, if the donor covered the fees."""
    return db.session.scalars(select(Donation).where(Donation.cover_of_id == gift.id)).first()


def split_back(gift: Donation, amount_minor: int) -> tuple[int, int]:
    """Money leaving a (covered) gift, as (gift part, cover part): the gift
    first, then the cover."""
    gift_part = min(amount_minor, max(0, remaining(gift)))
    return gift_part, max(0, min(amount_minor - gift_part, cover_held(gift)))


def add_part(
    gift: Donation, row: Donation, cover_part: int, *, home: ledger.Place | None = None
) -> Donation | None:
    """The cover part of ``row`` (a refund, dispute, reversal or transfer of
    ``gift``), as its own row of the cover's kind, placed where ``row`` is."""
    if not cover_part:
        return None
    first = cover_row(gift)
    if first is None:
        return None
    return ledger.record_further_row(
        gift,
        first.kind,
        cover_part,
        home=home or ledger.Place(row.page_id, row.event_id, row.is_unattributed),
        cover_of_id=row.id,
    )


def part_of(row: Donation) -> int:
    """The cover part written with ``row`` (0 if none)."""
    return int(
        db.session.scalar(select(Donation.amount_minor).where(Donation.cover_of_id == row.id)) or 0
    )
