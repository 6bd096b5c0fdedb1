"""Offline gifts on the web: the agent's form on a page, the staff review queue.

Each view parses the form, calls ``campaigns.offline.services``, commits once and
redirects; a refusal rolls back and shows the form again with its messages.
"""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_security import auth_required, current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy.exc import IntegrityError, OperationalError
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields import EmailField

from campaigns import unit_of_work
from campaigns.errors import Conflict, ValidationError
from campaigns.offline import services as offline
from campaigns.offline.models import OfflineGift, OfflineGiftStatus
from campaigns.organisations.forms import ConfirmForm
from campaigns.pages import services as page_services
from campaigns.pages.forms import choice
from campaigns.photos import NAME_RE
from campaigns.staff_gate import staff_organisation, staff_organisation_to_write
from campaigns.templating import money
from extensions import db

bp = Blueprint("offline", __name__)

FIELDS = (
    "amount",
    "method",
    "donor_name",
    "donor_email",
    "donor_address_line",
    "donor_postal_code",
    "donor_city",
    "donor_country",
    "collected_on",
    "note",
    "photo",
)


class OfflineGiftForm(FlaskForm):
    amount = StringField(
        _l("Amount collected"),
        description=_l("In the page's currency, for example 25 or 12.50."),
        render_kw={"inputmode": "decimal", "required": True},
    )
    method = RadioField(
        _l("Paid by"),
        choices=[choice("cash", _l("Cash")), choice("cheque", _l("Cheque"))],
        default="cash",
    )
    donor_name = StringField(
        _l("Donor's name"), description=_l("Optional."), render_kw={"maxlength": 200}
    )
    donor_email = EmailField(
        _l("Donor's email"),
        description=_l("Optional. The donor's receipt is sent there once the gift is confirmed."),
        render_kw={"autocomplete": "off", "maxlength": 255},
    )
    # The reçu fiscal names the donor's address (asked when the organisation
    # issues tax receipts).
    donor_address_line = StringField(
        _l("Donor's street address"),
        description=_l("Optional, printed on the tax receipt."),
        render_kw={"autocomplete": "off", "maxlength": 200},
    )
    donor_postal_code = StringField(
        _l("Postal code"), render_kw={"autocomplete": "off", "size": 10, "maxlength": 20}
    )
    donor_city = StringField(_l("City"), render_kw={"autocomplete": "off", "maxlength": 100})
    donor_country = StringField(
        _l("Country"),
        description=_l("Two-letter code, such as FR."),
        render_kw={"autocomplete": "off", "size": 4, "maxlength": 2},
    )
    collected_on = StringField(_l("Day collected"), render_kw={"type": "date", "required": True})
    note = TextAreaField(
        _l("Note for the organisation"),
        description=_l("Optional: where and how it was collected, the cheque's number…"),
        render_kw={"rows": 3, "maxlength": 500},
    )
    photo = FileField(
        _l("Photo of the receipt or cheque"),
        description=_l("Optional. JPEG, PNG or WebP. Only the organisation's staff see it."),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )


STATUS_LABELS = {
    OfflineGiftStatus.PENDING: _l("Pending confirmation"),
    OfflineGiftStatus.CONFIRMED: _l("Confirmed"),
    OfflineGiftStatus.REJECTED: _l("Rejected"),
}
METHOD_LABELS = {"cash": _l("Cash"), "cheque": _l("Cheque")}


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        description=_l("The agent who recorded the gift sees it."),
        render_kw={"rows": 2, "maxlength": 2000, "required": True},
    )


@bp.app_context_processor
def _helpers() -> dict:
    """``offline_pending_for(page)`` for the page's "pending confirmation" block."""

    def collected_day(value: datetime | None) -> str:
        if value is None:
            return ""
        return format_date(value.astimezone(offline.WALL_CLOCK).date(), "medium")

    return {
        "offline_pending_for": offline.pending_for,
        "offline_day": collected_day,
        "offline_status": lambda status: str(STATUS_LABELS.get(status, status)),
        "offline_method": lambda method: str(METHOD_LABELS.get(method, method)),
    }


# --- agents ------------------------------------------------------------------


@bp.route("/p/<slug>/offline", methods=["GET", "POST"])
@auth_required()
def record(slug: str):
    page = page_services.get_page(slug)
    g.organisation_locale = page.cause.organisation.locale
    who = current_user._get_current_object()
    page_services.require_editor(who, page)
    form = OfflineGiftForm()
    if request.method == "GET":
        form.collected_on.data = offline.today().isoformat()
    errors: dict[str, str] = {}
    general: list[str] = []
    if request.method == "POST":
        form.validate()
        if getattr(form, "csrf_token", None) is not None and form.csrf_token.errors:
            general.append(_("This form has expired. Please send it again."))
        data = {name: form[name].data for name in FIELDS}
        try:
            if general:
                raise ValidationError({})
            gift = offline.record_offline_gift(who, page, data)
        except ValidationError as exc:
            unit_of_work.discard()
            errors = exc.errors
        except Conflict as exc:
            unit_of_work.discard()
            general.append(exc.message)
        else:
            flash(
                _(
                    "Recorded: %(amount)s is shown as pending until the organisation confirms it.",
                    amount=money(gift.amount_minor, gift.currency),
                ),
                "success",
            )
            return redirect(url_for("offline.record", slug=page.slug))
    return render_template(
        "campaigns/offline_form.html",
        page=page,
        form=form,
        errors=errors,
        general_errors=general,
        gifts=offline.gifts_of_page(page),
        pending=offline.pending_for(page),
    ), (422 if errors or general else 200)


@bp.get("/offline/<int:gift_id>/photo")
@auth_required()
def photo(gift_id: int):
    """A receipt photo, for the page's editors and the organisation's staff only."""
    gift = db.session.get(OfflineGift, gift_id)
    if gift is None or not gift.photo or not NAME_RE.match(gift.photo):
        abort(404)
    if not page_services.is_editor_or_staff(current_user._get_current_object(), gift.page):
        abort(403)
    response = send_from_directory(offline.photo_folder(), gift.photo, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- staff -------------------------------------------------------------------


def _render_queue(org, role, *, reject_errors: dict[int, str] | None = None, status: int = 200):
    return render_template(
        "staff/offline.html",
        org=org,
        role=role,
        pending=offline.queue(org.id, pending=True),
        history=offline.queue(org.id, pending=False, limit=50),
        confirm=ConfirmForm(),
        reject_errors=reject_errors or {},
    ), status


@bp.get("/staff/<org_slug>/offline")
@auth_required()
def queue(org_slug: str):
    org, role = staff_organisation(org_slug)
    return _render_queue(org, role)


def _gift(org, gift_id: int) -> OfflineGift:
    gift = db.session.get(OfflineGift, gift_id)
    if gift is None or gift.page.cause.organisation_id != org.id:
        abort(404)
    return gift


@bp.post("/staff/<org_slug>/offline/<int:gift_id>/confirm")
@auth_required()
def confirm(org_slug: str, gift_id: int):
    org, _role = staff_organisation_to_write(org_slug)
    gift = _gift(org, gift_id)
    form = ConfirmForm()
    if not form.validate():
        flash(_("This form has expired. Please send it again."), "error")
        return redirect(url_for("offline.queue", org_slug=org.slug))
    try:
        donation = offline.confirm_offline_gift(current_user._get_current_object(), gift)
        amount = money(donation.amount_minor, donation.currency)
        db.session.flush()  # a lost race shows here, not at the boundary's commit
    except Conflict as exc:
        unit_of_work.discard()
        flash(exc.message, "error")
    except (IntegrityError, OperationalError):
        # Another reviewer confirmed it at the same moment: the ledger has it once.
        unit_of_work.discard()
        flash(_("Someone reviewed this gift at the same moment. Check the list again."), "error")
    else:
        flash(_("Confirmed: %(amount)s now counts in the totals.", amount=amount), "success")
    return redirect(url_for("offline.queue", org_slug=org.slug))


@bp.post("/staff/<org_slug>/offline/<int:gift_id>/reject")
@auth_required()
def reject(org_slug: str, gift_id: int):
    org, role = staff_organisation_to_write(org_slug)
    gift = _gift(org, gift_id)
    form = RejectForm()
    if not form.validate():
        flash(_("This form has expired. Please send it again."), "error")
        return redirect(url_for("offline.queue", org_slug=org.slug))
    try:
        offline.reject_offline_gift(current_user._get_current_object(), gift, form.reason.data)
        db.session.flush()  # a lost race shows here, not at the boundary's commit
    except ValidationError as exc:
        unit_of_work.discard()
        message = exc.errors.get("reason") or exc.message
        return _render_queue(org, role, reject_errors={gift_id: message}, status=422)
    except Conflict as exc:
        unit_of_work.discard()
        flash(exc.message, "error")
    except OperationalError:
        unit_of_work.discard()
        flash(_("Someone reviewed this gift at the same moment. Check the list again."), "error")
    else:
        flash(_("Rejected; the agent sees your reason."), "success")
    return redirect(url_for("offline.queue", org_slug=org.slug))
