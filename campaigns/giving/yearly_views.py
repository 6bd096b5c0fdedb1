"""The yearly reçu fiscal on the web: the staff list of a year's donors and
its CSV (routes of ``staff_donations``), and the donor's printable statement,
reached from their signed "my gifts" link (a route of ``donors``)."""

from __future__ import annotations

from flask import current_app, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_security import auth_required
from sqlalchemy import select

from campaigns.dashboard import exports
from campaigns.errors import NotFound, ValidationError
from campaigns.giving import receipts, yearly
from campaigns.giving.staff_views import bp
from campaigns.giving.views import private
from campaigns.model_types import utcnow
from campaigns.organisations.models import Organisation
from campaigns.staff_gate import staff_organisation
from extensions import db

FIRST_YEAR, LAST_YEAR = 1900, 9998
CSV_HEADER = (
    "email",
    "name",
    "gifts",
    "monthly_gifts",
    "given_minor",
    "covers_minor",
    "refunded_minor",
    "deductible_minor",
    "currency",
)


def chosen_year(years: list[int]) -> int:
    """The year asked for in ``?year=``, else the newest with gifts (else this
    one); a year that is no year is a 422 with a sentence, never a 500."""
    text = (request.args.get("year") or "").strip()
    if not text:
        return years[0] if years else utcnow().year
    if not text.isdigit() or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise ValidationError({"year": _("Give the year as four digits, such as 2026.")})
    return int(text)


@bp.get("/staff/<org_slug>/receipts/yearly")
@auth_required()
def staff_yearly(org_slug: str):
    """Each donor's gifts of a year, the figures of their yearly reçu fiscal;
    ``?format=csv`` downloads them."""
    org, role = staff_organisation(org_slug)
    years = [year for _org, year in yearly.years_with_gifts(org.id)]
    year = chosen_year(years)
    rows = yearly.statement(org.id, year)
    if request.args.get("format") == "csv":
        return _csv(org, year, rows)
    return render_template(
        "staff/yearly_receipts.html",
        org=org,
        role=role,
        year=year,
        years=sorted({*years, year}, reverse=True),
        rows=rows,
        deductible_minor=sum(row.deductible_minor for row in rows),
    )


def _csv(org: Organisation, year: int, rows: list[yearly.DonorYear]):
    values = (
        (
            row.email,
            row.name,
            row.gifts,
            row.monthly_gifts,
            row.given_minor,
            row.covers_minor,
            row.refunded_minor,
            row.deductible_minor,
            row.currency,
        )
        for row in rows
    )
    response = current_app.response_class(
        "".join(exports.to_csv(CSV_HEADER, values)), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{org.slug}-yearly-receipts-{year}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def donor_statement(email: str, org_slug: str, year: int):
    """The printable yearly statement of ``email`` (from a signed link) with
    one organisation; 404 when that address gave it nothing that year."""
    org = db.session.scalars(select(Organisation).where(Organisation.slug == org_slug)).first()
    in_range = FIRST_YEAR <= year <= LAST_YEAR
    found = yearly.statement(org.id, year, email) if org and in_range else []
    if not found:
        raise NotFound(_("No gift from this address to this organisation in that year."))
    (row,) = found
    g.organisation_locale = org.locale
    locale = str(get_locale() or org.locale or "fr")
    gift = yearly.newest_gift(org.id, year, email)
    html = render_template(
        "campaigns/yearly_receipt.html",
        org=org,
        year=year,
        row=row,
        donor_name=gift.donor_name if gift else row.name,
        donor_address=receipts.postal_address(gift, locale) if gift else "",
        amount_words=receipts.amount_in_words(row.deductible_minor, row.currency, locale),
        is_tax_receipt=org.issues_tax_receipts,
        is_year_running=year >= utcnow().year,
    )
    return private(current_app.make_response(html))
