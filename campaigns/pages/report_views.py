"""Reporting a page: a form any visitor can send, anonymously.

Routes of the ``campaigns`` blueprint, defined in ``campaigns/pages/views.py``."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from campaigns.errors import ValidationError
from campaigns.pages import reports
from campaigns.pages.forms import ReportForm
from campaigns.pages.views import bp
from campaigns.web import visible_page
from extensions import limiter, limits_off


@bp.route("/p/<slug>/report", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], exempt_when=limits_off)
def report_page(slug: str):
    page = visible_page(slug)
    form = ReportForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate():
            try:
                reports.report(page, {"reason": form.reason.data, "details": form.details.data})
            except ValidationError as exc:
                errors = exc.errors
            else:
                flash(_("Thank you: the organisation's team will look at this page."), "success")
                return redirect(url_for("campaigns.page_detail", slug=page.slug))
        else:
            errors = {name: messages[0] for name, messages in form.errors.items()}
    return render_template("campaigns/report.html", page=page, form=form, errors=errors), (
        422 if errors else 200
    )
