"""The donor's journey: give on a page, pay (Stripe Checkout or the demo's test
payment), the thank-you page and the printable receipt.

None of these views records money: only ``campaigns.giving.payments.process_event``
does, from Stripe's events (the demo's test payment builds one and runs it
through that same code).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from campaigns import unit_of_work
from campaigns.errors import NotFound, ValidationError
from campaigns.giving import receipts
from campaigns.giving import services as giving
from campaigns.giving.checkout import (
    CheckoutError,
    completed_event,
    demo_fee_event,
    start_payment,
)
from campaigns.giving.forms import GiveForm
from campaigns.giving.models import PendingGift, PendingGiftStatus
from campaigns.giving.stripe_gateway import test_payments_allowed
from campaigns.organisations.forms import ConfirmForm
from campaigns.organisations.models import Cause, Project
from campaigns.pages.models import Page
from campaigns.pages.page_view import render_page
from campaigns.urls import absolute_url
from campaigns.web import visible_cause, visible_page
from extensions import db, limiter, limits_off

bp = Blueprint("giving", __name__)

# Each gift may call Stripe: a client that posts in a loop is held back.
GIVE_LIMIT = "20 per minute"

GIVE_FIELDS = (
    "amount",
    "other_amount",
    "project",
    "message",
    "donor_name",
    "donor_email",
    "donor_address_line",
    "donor_postal_code",
    "donor_city",
    "donor_country",
    "is_anonymous",
    "is_amount_hidden",
    "share",
    "frequency",
    "cover_fees",
)


def private(response):
    """The reference in these addresses is the donor's key: keep it out of
    caches and out of the Referer sent to other sites."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def pending_or_404(reference: str) -> PendingGift:
    pending = giving.get_pending(reference)
    if pending is None:
        raise NotFound(_("We could not find this gift. Check the address in your email."))
    cause = db.session.get(Cause, pending.cause_id)
    g.organisation_locale = cause.organisation.locale
    return pending


def gift_context(pending: PendingGift) -> dict:
    return {
        "pending": pending,
        "page": db.session.get(Page, pending.page_id) if pending.page_id else None,
        "cause": db.session.get(Cause, pending.cause_id),
        "project": db.session.get(Project, pending.project_id) if pending.project_id else None,
    }


@bp.post("/p/<slug>/give")
@limiter.limit(GIVE_LIMIT, exempt_when=limits_off)
def give(slug: str):
    """Keep what the donor asked for, then send them to pay for it."""
    page = visible_page(slug)

    def shown_again(form: GiveForm, errors: dict, status: int):
        return render_page(page, give_form=form, give_errors=errors, status=status)

    cancel_url = absolute_url("campaigns.page_detail", slug=page.slug) + "#give"
    return _give(page, shown_again, cancel_url)


@bp.route("/c/<slug>/give", methods=["GET", "POST"])
@limiter.limit(GIVE_LIMIT, methods=["POST"], exempt_when=limits_off)
def give_to_cause(slug: str):
    """The give form of a cause, for a donor who gives to the campaign itself
    rather than through a fundraiser's page. Its own address, not the cause
    page: the cause page is served from the anonymous cache, which a form's
    CSRF token would keep it out of."""
    cause = visible_cause(slug)

    def shown_again(form: GiveForm | None, errors: dict, status: int):
        return _cause_give_page(cause, form, errors, status)

    if request.method == "GET":
        return shown_again(None, {}, 200)
    cancel_url = absolute_url("giving.give_to_cause", slug=cause.slug) + "#give"
    return _give(cause, shown_again, cancel_url)


def _cause_give_page(cause: Cause, form: GiveForm | None, errors: dict, status: int):
    options = giving.gift_options(cause)
    if form is None:
        form = GiveForm.for_page(
            cause, options, share=request.args.get("s", ""), project=request.args.get("project", "")
        )
    html = render_template(
        "campaigns/cause_give.html",
        cause=cause,
        page=None,
        give_form=form,
        give_options=options,
        give_errors=errors,
        give_refusal=giving.refusal(cause),
        give_action=url_for("giving.give_to_cause", slug=cause.slug),
        give_title=_("Give to “%(cause)s”", cause=cause.title),
    )
    return html, status


def _give(place: Page | Cause, shown_again, cancel_url: str):
    """The give form's POST, for a page or a cause: the pending gift, then the
    payment (``shown_again(form, errors, status)`` shows the form with errors)."""
    form = GiveForm()
    form.fill_choices(giving.gift_options(place))
    data = {name: form[name].data for name in GIVE_FIELDS}
    data["locale"] = str(get_locale() or "")
    try:
        pending = giving.start_gift(place, data)
    except ValidationError as exc:
        unit_of_work.discard()
        return shown_again(form, exc.errors, 422)
    # Committed before Stripe is asked: whatever Stripe says, the webhook will
    # find the pending gift its client_reference_id names.
    unit_of_work.checkpoint()
    success_url = (
        absolute_url("giving.thanks", reference=pending.reference)
        + "?session_id={CHECKOUT_SESSION_ID}"
    )
    try:
        url = start_payment(pending, success_url, cancel_url)
    except CheckoutError as exc:
        unit_of_work.discard()
        current_app.logger.warning("checkout session failed", exc_info=exc.__cause__)
        return shown_again(form, {"page": exc.message}, 503)
    return redirect(url, code=303)


@bp.route("/give/<reference>/test-payment", methods=["GET", "POST"])
def test_payment(reference: str):
    """The demo's stand-in for Stripe's payment page (404 once Stripe is set up)."""
    if not test_payments_allowed(current_app.config):
        abort(404)
    pending = pending_or_404(reference)
    if pending.status != PendingGiftStatus.PENDING or giving.gift_of(pending):
        return redirect(url_for("giving.thanks", reference=reference), code=303)
    form = ConfirmForm()
    if request.method == "POST" and form.validate():
        from campaigns.giving.jobs import issue_receipts
        from campaigns.giving.payments import record_event

        # The payment commits as its own unit, as a webhook's does; then its
        # fee, as the record-fees job would book it from Stripe.
        if pending.is_monthly:
            from campaigns.monthly import demo_events

            record_event(demo_events.session_event(pending))
            record_event(demo_events.invoice_event(pending))
            record_event(demo_events.invoice_fee_event(pending))
        else:
            record_event(completed_event(pending))
            record_event(demo_fee_event(pending))
        # The demo has no time to wait for the receipts job: number it now. A
        # failure here is no failure of the gift: the job numbers it later.
        try:
            issue_receipts()
        except Exception:
            unit_of_work.discard()
            current_app.logger.exception("receipts: left to the job")
        return redirect(url_for("giving.thanks", reference=reference), code=303)
    return private(
        current_app.make_response(
            render_template("campaigns/test_payment.html", form=form, **gift_context(pending))
        )
    )


@bp.get("/give/<reference>/thanks")
def thanks(reference: str):
    """Thank the donor. Never records money: it shows the gift as being
    confirmed until the webhook has recorded it."""
    pending = pending_or_404(reference)
    gift = giving.gift_of(pending)
    return private(
        current_app.make_response(
            render_template("campaigns/thanks.html", gift=gift, **gift_context(pending))
        )
    )


@bp.get("/receipts/<reference>")
def receipt(reference: str):
    """A printable receipt (reçu fiscal when the organisation issues them)."""
    pending = pending_or_404(reference)
    gift = giving.gift_of(pending)
    if gift is None:
        raise NotFound(
            _(
                "Your receipt is not ready yet: the payment is still being confirmed. "
                "Try again in a minute."
            )
        )
    data = receipts.receipt_for(gift, str(get_locale() or "fr"))
    return private(
        current_app.make_response(
            render_template("campaigns/receipt.html", receipt=data, **gift_context(pending))
        )
    )
