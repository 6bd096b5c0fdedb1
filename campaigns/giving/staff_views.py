"""Staff views of one donation: its ledger rows, audit trail and a refund request.

Also gives every template ``audit_text(entry)``. An audit entry is stored data:
its summary is a stable English sentence (not ``_()``, which would freeze the
actor's language, nor the organisation's locale, which can change) and its
``details`` hold the facts; ``audit_text`` puts them into the reader's language
when the entry is shown, and falls back to the summary for actions it does not
know.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_security import auth_required, current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField

from campaigns import unit_of_work
from campaigns.audit import AuditEntry
from campaigns.errors import Conflict, ValidationError
from campaigns.giving import refund_requests, transfers
from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.refund_requests import MAX_REASON, RefundError
from campaigns.money import parse_major
from campaigns.organisations.forms import major_text
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.pages.models import Page
from campaigns.staff_gate import staff_organisation, staff_organisation_to_write
from campaigns.templating import money
from extensions import db

bp = Blueprint("staff_donations", __name__)

KIND_LABELS = {
    DonationKind.GIFT: _l("Gift"),
    DonationKind.OFFLINE: _l("Cash or cheque"),
    DonationKind.REFUND: _l("Refund"),
    DonationKind.DISPUTE: _l("Dispute"),
    DonationKind.DISPUTE_REVERSAL: _l("Dispute won: money back"),
    DonationKind.REFUND_REVERSAL: _l("Refund failed: money back"),
    DonationKind.FEE: _l("Stripe fee"),
    DonationKind.TRANSFER_OUT: _l("Moved off the cause's unattributed money"),
    DonationKind.TRANSFER_IN: _l("Moved to a page"),
    DonationKind.FEE_TRANSFER: _l("Stripe fee moved with the gift"),
}
STATUS_WORDS = {
    "draft": _l("draft"),
    "published": _l("published"),
    "hidden": _l("hidden"),
    "closed": _l("closed"),
}


class RefundForm(FlaskForm):
    amount = StringField(
        _l("Amount to refund"),
        description=_l("Leave the full amount for a full refund, or lower it for a partial one."),
        render_kw={"inputmode": "decimal", "required": True},
    )
    reason = TextAreaField(
        _l("Reason"),
        description=_l("Kept in the audit log with your name. The donor does not see it."),
        render_kw={"rows": 2, "maxlength": MAX_REASON, "required": True},
    )
    # What the page showed: the same form sent twice refunds once.
    seen = HiddenField()


class MoveForm(FlaskForm):
    page = StringField(
        _l("Page to credit"),
        description=_l(
            "Paste the page's link (or its address after /p/). It must be a page of this cause."
        ),
        render_kw={"required": True, "autocomplete": "off"},
    )


# --- audit entries in the reader's language ------------------------------------


def _status(value) -> str:
    return str(STATUS_WORDS.get(str(value), value))


def describe(entry: AuditEntry) -> str:
    """An audit entry as a sentence in the reader's language; the stored English
    summary for an action this table does not know."""
    d = entry.details or {}
    amount = money(entry.amount_minor, entry.currency) if entry.currency else ""
    try:
        match entry.action:
            case "donor.erase" if d.get("by_donor"):
                return ngettext(
                    "A donor erased their personal details from %(num)d gift, from their link",
                    "A donor erased their personal details from %(num)d gifts, from their link",
                    d["gifts"],
                )
            case "donor.erase":
                return ngettext(
                    "Erased a donor's personal details from %(num)d gift, at their request",
                    "Erased a donor's personal details from %(num)d gifts, at their request",
                    d["gifts"],
                )
            case "page.hide":
                return _(
                    "Hid the page “%(title)s”: %(reason)s", title=d["title"], reason=d["reason"]
                )
            case "page.unhide":
                return _(
                    "Made the page “%(title)s” visible again (%(status)s)",
                    title=d["title"],
                    status=_status(d["to"]),
                )
            case "cause.status":
                return _(
                    "Changed the cause “%(title)s” from %(old)s to %(new)s",
                    title=d["title"],
                    old=_status(d["from"]),
                    new=_status(d["to"]),
                )
            case "offline.confirm":
                return _(
                    "Confirmed %(amount)s collected for “%(page)s”",
                    amount=amount,
                    page=d["page_title"],
                )
            case "offline.reject":
                return _(
                    "Rejected %(amount)s collected for “%(page)s”: %(reason)s",
                    amount=amount,
                    page=d["page_title"],
                    reason=d["reason"],
                )
            case "outbox.retry":
                return _("Sent message #%(id)s again", id=entry.subject_id)
            case "outbox.cancel":
                return _("Cancelled message #%(id)s", id=entry.subject_id)
            case "donation.transfer":
                return _(
                    "Moved %(amount)s of unattributed gift #%(id)s to the page “%(page)s”",
                    amount=amount,
                    id=entry.subject_id,
                    page=d["page_title"],
                )
            case "refund.request":
                return _(
                    "Asked Stripe to refund %(amount)s of gift #%(id)s: %(reason)s",
                    amount=amount,
                    id=entry.subject_id,
                    reason=d["reason"],
                )
    except KeyError:
        pass
    return entry.summary


@bp.app_context_processor
def _helpers() -> dict:
    return {
        "audit_text": describe,
        "donation_kind": lambda kind: str(KIND_LABELS.get(kind, kind)),
    }


# --- the donation page ------------------------------------------------------------


def _donation(org: Organisation, donation_id: int) -> Donation:
    donation = db.session.get(Donation, donation_id)
    if donation is None or donation.organisation_id != org.id:
        abort(404)
    return donation


def _render(
    org,
    role,
    gift: Donation,
    form: RefundForm,
    *,
    errors=None,
    status: int = 200,
    move_form: MoveForm | None = None,
    move_errors=None,
):
    state = refund_requests.refund_state(gift)
    moved = transfers.moved_to(gift)
    return render_template(
        "staff/donation.html",
        org=org,
        role=role,
        gift=gift,
        page=db.session.get(Page, gift.page_id) if gift.page_id else None,
        cause=db.session.get(Cause, gift.cause_id) if gift.cause_id else None,
        project=db.session.get(Project, gift.project_id) if gift.project_id else None,
        rows=refund_requests.ledger_rows(gift),
        state=state,
        entries=refund_requests.audit_entries(gift),
        not_refundable=refund_requests.stripe_refundable(gift),
        refunds_available=refund_requests.refunds_available(current_app.config),
        is_demo=not current_app.config.get("STRIPE_SECRET_KEY"),
        form=form,
        errors=errors or {},
        moved_page=db.session.get(Page, moved.page_id) if moved else None,
        can_move=moved is None and transfers.movable(gift),
        move_form=move_form or MoveForm(formdata=None),
        move_errors=move_errors or {},
    ), status


def _fresh_form(gift: Donation) -> RefundForm:
    state = refund_requests.refund_state(gift)
    return RefundForm(
        formdata=None,
        data={"amount": major_text(state.refundable_minor, gift.currency), "seen": state.token},
    )


@bp.get("/staff/<org_slug>/donations/<int:donation_id>")
@auth_required()
def donation_detail(org_slug: str, donation_id: int):
    org, role = staff_organisation(org_slug)
    donation = _donation(org, donation_id)
    if donation.original_id is not None:
        # A refund or dispute row: its gift's page tells the whole story.
        return redirect(
            url_for(".donation_detail", org_slug=org.slug, donation_id=donation.original_id)
        )
    return _render(org, role, donation, _fresh_form(donation))


@bp.post("/staff/<org_slug>/donations/<int:donation_id>/refund")
@auth_required()
def request_refund(org_slug: str, donation_id: int):
    org, role = staff_organisation_to_write(org_slug)
    gift = _donation(org, donation_id)
    form = RefundForm()
    if not form.validate():
        flash(_("This form has expired. Please send it again."), "error")
        return redirect(url_for(".donation_detail", org_slug=org.slug, donation_id=gift.id))
    try:
        amount = parse_major(form.amount.data or "", gift.currency)
    except (ValueError, ArithmeticError):
        unit_of_work.discard()
        errors = {"amount": _("Enter the amount to refund, for example 25 or 12.50.")}
        reason = refund_requests.reason_problem((form.reason.data or "").strip())
        if reason:
            errors["reason"] = reason
        return _render(org, role, gift, form, errors=errors, status=422)
    try:
        outcome = refund_requests.request_refund(
            current_user._get_current_object(),
            gift,
            amount,
            form.reason.data,
            seen=form.seen.data or None,
        )
    except ValidationError as exc:
        unit_of_work.discard()
        return _render(org, role, gift, form, errors=exc.errors, status=422)
    except Conflict as exc:
        unit_of_work.discard()
        # Show the gift as it is now; the next send is made from what is shown.
        form.seen.data = refund_requests.refund_state(gift).token
        return _render(org, role, gift, form, errors={"form": exc.message}, status=409)
    except RefundError as exc:
        unit_of_work.discard()
        return _render(org, role, gift, form, errors={"form": exc.message}, status=502)
    shown = money(outcome.entry.amount_minor, outcome.entry.currency)
    if outcome.is_repeat:
        flash(_("This refund was already requested: it was not sent twice."), "success")
    elif outcome.is_demo:
        flash(
            _("Refunded %(amount)s: the totals show it already (demo payment).", amount=shown),
            "success",
        )
    else:
        flash(
            _(
                "Stripe accepted the refund of %(amount)s. The totals show it when Stripe "
                "confirms it, usually within a minute.",
                amount=shown,
            ),
            "success",
        )
    return redirect(url_for(".donation_detail", org_slug=org.slug, donation_id=gift.id), code=303)


@bp.post("/staff/<org_slug>/donations/<int:donation_id>/move")
@auth_required()
def move_to_page(org_slug: str, donation_id: int):
    """Credit an unattributed gift to the page of its cause it was meant for."""
    org, role = staff_organisation_to_write(org_slug)
    gift = _donation(org, donation_id)
    form = MoveForm()
    back = redirect(url_for(".donation_detail", org_slug=org.slug, donation_id=gift.id), code=303)
    if not form.validate():
        flash(_("This form has expired. Please send it again."), "error")
        return back
    try:
        page = transfers.page_from(form.page.data or "", gift.cause_id or 0)
        done = transfers.move_to_page(current_user._get_current_object(), gift, page)
    except ValidationError as exc:
        unit_of_work.discard()
        return _render(
            org, role, gift, _fresh_form(gift), move_form=form, move_errors=exc.errors, status=422
        )
    except Conflict as exc:
        unit_of_work.discard()
        return _render(
            org,
            role,
            gift,
            _fresh_form(gift),
            move_form=form,
            move_errors={"page": exc.message},
            status=409,
        )
    if done.is_repeat:
        flash(_("This gift was already moved to “%(page)s”.", page=page.title), "success")
    else:
        flash(
            _(
                "Moved %(amount)s to “%(page)s”: the page and its event count it now.",
                amount=money(done.moved_minor, gift.currency),
                page=page.title,
            ),
            "success",
        )
    return back
