"""A donor's gifts from a link sent to their address, and erasure on request;
the staff's erasure on a donor's request (a route of the ``staff`` blueprint)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_security import auth_required, current_user

from campaigns.donors import services as donors
from campaigns.donors.forms import DonorEraseForm, DonorLinkForm, StaffDonorEraseForm
from campaigns.errors import NotFound
from campaigns.giving.yearly_views import donor_statement
from campaigns.organisations.staff_views import bp as staff_bp
from campaigns.signals import donor_link_requested
from campaigns.staff_gate import staff_organisation
from campaigns.unit_of_work import discard
from campaigns.urls import absolute_url
from extensions import limiter, limits_off

bp = Blueprint("donors", __name__)


def _private(response):
    # The list names a person: never cached, never sent on as a referrer.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/my-gifts", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"], exempt_when=limits_off)
def ask_link():
    """Ask for a link to one's gifts; the answer is the same whether or not the
    address gave, so nobody learns who gave from it."""
    form = DonorLinkForm()
    error = ""
    if request.method == "POST":
        email = donors.normal_email(form.email.data) if form.validate() else ""
        if not email:
            error = _("Enter the email address you gave with your gifts, like name@example.org.")
        else:
            if donors.has_personal_data(email):
                link = absolute_url("donors.my_gifts", token=donors.access_token(email))
                donor_link_requested.send(
                    email,
                    subject=_("Your gifts on Relais"),
                    text=_(
                        "Hello,\n\nSomeone (we hope you) asked to see the gifts given from this "
                        "address. This link shows them, with their receipts, and lets you erase "
                        "your details. It works for %(hours)d hours:\n\n%(link)s\n\n"
                        "If you did not ask, ignore this message: nothing changes.",
                        hours=donors.LINK_HOURS,
                        link=link,
                    ),
                )
            return render_template("donors/link_sent.html", email=email)
    status = 422 if error else 200
    return render_template("donors/ask.html", form=form, error=error), status


def _email_or_404(token: str) -> str:
    email = donors.email_of_token(token)
    if email is None:
        raise NotFound(
            _("This link has expired or is not complete. Ask for a new one on the “My gifts” page.")
        )
    return email


@bp.get("/my-gifts/<token>")
def my_gifts(token: str):
    email = _email_or_404(token)
    return _private(
        current_app.make_response(
            render_template(
                "donors/gifts.html",
                email=email,
                token=token,
                gifts=donors.gifts_of(email),
                statements=donors.yearly_statements_of(email),
                has_data=donors.has_personal_data(email),
                form=DonorEraseForm(),
            )
        )
    )


@bp.get("/my-gifts/<token>/yearly/<org_slug>/<int:year>")
def yearly_statement(token: str, org_slug: str, year: int):
    """The donor's printable yearly statement (reçu fiscal) with one organisation."""
    return donor_statement(_email_or_404(token), org_slug, year)


@bp.post("/my-gifts/<token>/erase")
@limiter.limit("10 per hour", exempt_when=limits_off)
def erase(token: str):
    email = _email_or_404(token)
    form = DonorEraseForm()
    if not form.validate() or not form.confirm.data:
        discard()
        flash(_("Tick the box to confirm, then press the button again."), "error")
        return redirect(url_for("donors.my_gifts", token=token))
    count = donors.erase_on_request(email)
    flash(
        ngettext(
            "Your details are erased from %(num)d gift. Its amount stays counted.",
            "Your details are erased from %(num)d gifts. Their amounts stay counted.",
            count,
        )
        if count
        else _("Your details are erased."),
        "success",
    )
    return redirect(url_for("donors.my_gifts", token=token))


@staff_bp.route("/<org_slug>/donors/erase", methods=["GET", "POST"])
@auth_required()
def erase_donor(org_slug: str):
    """Erase a donor's details from this organisation's gifts, on their request."""
    org, role = staff_organisation(org_slug, admin=True)
    form = StaffDonorEraseForm()
    if request.method == "POST" and form.validate():
        email = donors.normal_email(form.email.data)
        if not email:
            form.add_errors({"email": _("Enter the donor's email address, like name@example.org.")})
        elif not form.confirm.data:
            form.add_errors({"confirm": _("Tick the box to confirm that the donor asked for it.")})
        else:
            count = donors.erase_on_request(email, current_user, organisation_id=org.id)
            flash(
                ngettext(
                    "The donor's details are erased from %(num)d gift.",
                    "The donor's details are erased from %(num)d gifts.",
                    count,
                )
                if count
                else _("No gift of this organisation was given from that address."),
                "success",
            )
            return redirect(url_for("staff.erase_donor", org_slug=org.slug))
    status = 422 if form.errors or form.general_errors else 200
    return render_template("donors/staff_erase.html", org=org, role=role, form=form), status
