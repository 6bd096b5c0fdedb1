"""Receipts: gap-free numbers per organisation and year, and what a receipt says
(``receipt_for``: a French reçu fiscal when the organisation issues them).

Numbers are issued after the gift is recorded, by one job (``issue_pending``)
in ledger order, not inside the webhook's transaction: a per-year counter that
every gift locks until commit would serialise every payment of an
organisation. Waiting gifts are taken with FOR UPDATE SKIP LOCKED (BEGIN
IMMEDIATE on SQLite: call ``campaigns.unit_of_work.begin_write`` first), and the counter's
row lock orders the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_name, get_currency_precision
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from campaigns.giving.models import COST_KINDS, Donation, DonationKind, PendingGift, ReceiptCounter
from campaigns.money import to_decimal
from campaigns.organisations.models import Organisation
from campaigns.signals import receipt_issued
from extensions import db, dialect_insert

RECEIPTED_KINDS = (DonationKind.GIFT, DonationKind.OFFLINE)


def next_number(organisation_id: int, year: int) -> int:
    """Take the next number of the organisation's year; the row lock it takes is
    held until commit, so two gifts never get the same number."""
    db.session.execute(
        dialect_insert(ReceiptCounter)
        .values(organisation_id=organisation_id, year=year, last_number=0)
        .on_conflict_do_nothing()
    )
    return db.session.execute(
        update(ReceiptCounter)
        .where(ReceiptCounter.organisation_id == organisation_id, ReceiptCounter.year == year)
        .values(last_number=ReceiptCounter.last_number + 1)
        .returning(ReceiptCounter.last_number)
    ).scalar_one()


def assign(donation: Donation) -> str:
    """Give a gift its receipt number, e.g. 'EV-2026-000042'."""
    org = db.session.get(Organisation, donation.organisation_id)
    year = donation.created_at.year
    number = next_number(donation.organisation_id, year)
    prefix = org.receipt_prefix or org.slug.upper()
    donation.receipt_number = f"{prefix}-{year}-{number:06d}"
    return donation.receipt_number


def issue_pending(limit: int = 500) -> int:
    """Number the gifts still waiting for a receipt, oldest first, and tell
    listeners (the receipt mail); returns how many. The caller commits."""
    waiting = db.session.scalars(
        select(Donation)
        .join(Organisation, Organisation.id == Donation.organisation_id)
        .where(
            Donation.receipt_number.is_(None),
            Donation.kind.in_(RECEIPTED_KINDS),
            Organisation.issues_tax_receipts.is_(True),
        )
        .order_by(Donation.id)
        .limit(limit)
        # Two issuers (a job and the demo's inline call) never number the same gift.
        .with_for_update(skip_locked=True, of=Donation)
    ).all()
    for donation in waiting:
        assign(donation)
        db.session.flush()
        receipt_issued.send(donation)
    return len(waiting)


def numbers_are_gap_free(organisation_id: int, year: int) -> bool:
    """True when the year's receipts are exactly 1…N (a check for tests and audits)."""
    prefix_rows = db.session.scalars(
        select(Donation.receipt_number).where(
            Donation.organisation_id == organisation_id, Donation.receipt_number.is_not(None)
        )
    ).all()
    numbers = sorted(int(n.rsplit("-", 1)[1]) for n in prefix_rows if f"-{year}-" in n)
    return numbers == list(range(1, len(numbers) + 1))


def amount_in_words(amount_minor: int, currency: str, locale: str) -> str:
    """'vingt-cinq euros', 'twenty-five euros and fifty cents' (reçus fiscaux
    spell the amount out)."""
    from num2words import num2words

    lang = "fr" if str(locale).startswith("fr") else "en"
    value = to_decimal(amount_minor, currency)
    whole = int(value)
    if value == value.to_integral_value():
        name = get_currency_name(currency, count=whole, locale=lang)
        return f"{num2words(whole, lang=lang)} {name}"
    if lang == "en":
        # num2words' English keeps "euro" invariant and joins with a comma:
        # the whole part takes Babel's plural, as whole amounts do above.
        from num2words import CONVERTER_CLASSES

        forms = CONVERTER_CLASSES["en"].CURRENCY_FORMS.get(currency)
        if forms:
            minor = int((value - whole) * 10 ** get_currency_precision(currency))
            name = get_currency_name(currency, count=whole, locale=lang)
            unit = forms[1][0 if minor == 1 else 1]
            return f"{num2words(whole, lang=lang)} {name} and {num2words(minor, lang=lang)} {unit}"
    try:
        return num2words(Decimal(value), lang=lang, to="currency", currency=currency)
    except NotImplementedError:
        name = get_currency_name(currency, count=whole, locale=lang)
        return f"{num2words(value, lang=lang)} {name}"


@dataclass(frozen=True)
class Receipt:
    number: str | None  # None when the organisation issues no tax receipts
    reference: str | None  # the pending gift's: the printable receipt's address
    organisation_name: str
    legal_name: str
    address: str
    donor_name: str
    donor_email: str
    donor_address: str  # lines joined by "\n"; empty when the donor gave none
    amount_minor: int
    refunded_minor: int
    currency: str
    amount_words: str
    given_at: datetime
    payment_method: str
    is_tax_receipt: bool
    # The fee cover the donor added, inside ``amount_minor``: a gift to the
    # charity too, so deductible (campaigns.giving.covers).
    cover_minor: int = 0

    @property
    def gift_minor(self) -> int:
        return self.amount_minor - self.cover_minor

    @property
    def deductible_minor(self) -> int:
        """What the donor may deduct: the gift and its cover, less refunds."""
        return max(0, self.amount_minor - self.refunded_minor)


def payment_method_label(method: str) -> str:
    labels = {
        "card": _("Bank card, online"),
        "cash": _("Cash"),
        "cheque": _("Cheque"),
        "transfer": _("Bank transfer"),
    }
    return labels.get(method, method)


def postal_address(gift: Donation, locale: str) -> str:
    """The donor's address as printed under their name: street, then postal
    code and city, then the country's name in ``locale`` (empty if none)."""
    town = " ".join(part for part in (gift.donor_postal_code, gift.donor_city) if part)
    country = ""
    if gift.donor_country:
        try:
            names = Locale.parse(str(locale or "fr").replace("-", "_")).territories
        except (ValueError, UnknownLocaleError):
            names = {}
        country = names.get(gift.donor_country, gift.donor_country)
    if not (gift.donor_address_line or town):
        return ""  # a country alone is no address
    return "\n".join(line for line in (gift.donor_address_line, town, country) if line)


def receipt_for(gift: Donation, locale: str) -> Receipt:
    """The fields of a gift's receipt (a French reçu fiscal when the
    organisation issues them), amounts spelt out in ``locale``."""
    org = db.session.get(Organisation, gift.organisation_id)
    reference = None
    if gift.pending_gift_id:
        reference = db.session.scalar(
            select(PendingGift.reference).where(PendingGift.id == gift.pending_gift_id)
        )
    cover = (
        db.session.scalar(select(Donation.amount_minor).where(Donation.cover_of_id == gift.id)) or 0
    )
    # Refunds, disputes and their cover parts (transfers add up to nothing).
    refunded = db.session.scalar(
        select(func.coalesce(func.sum(Donation.amount_minor), 0)).where(
            Donation.original_id == gift.id,
            Donation.kind.not_in(COST_KINDS),
            (Donation.cover_of_id.is_(None)) | (Donation.cover_of_id != gift.id),
        )
    )
    amount = gift.amount_minor + int(cover)
    return Receipt(
        number=gift.receipt_number,
        reference=reference,
        organisation_name=org.name,
        legal_name=org.legal_name or org.name,
        address=org.address,
        donor_name=gift.donor_name,
        donor_email=gift.donor_email,
        donor_address=postal_address(gift, locale),
        amount_minor=amount,
        refunded_minor=-int(refunded or 0),
        currency=gift.currency,
        amount_words=amount_in_words(amount, gift.currency, locale),
        given_at=gift.created_at,
        payment_method=payment_method_label(gift.payment_method),
        is_tax_receipt=bool(org.issues_tax_receipts and gift.receipt_number),
        cover_minor=int(cover),
    )
