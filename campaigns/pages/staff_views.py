"""Staff screens of pages: the list of an organisation's pages, hiding and unhiding."""

from __future__ import annotations

from flask import (
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_security import auth_required, current_user
from sqlalchemy import func, or_, select

from campaigns.organisations.forms import (
    ConfirmForm,
    HideForm,
)
from campaigns.organisations.models import Cause
from campaigns.organisations.staff_views import bp
from campaigns.pages import reports
from campaigns.pages import services as page_services
from campaigns.pages.models import Page, PageReport, PageStatus
from campaigns.staff_gate import save_staff_form, staff_organisation, staff_page
from extensions import db

PAGES_PER_SCREEN = 50


# --- moderation --------------------------------------------------------------


@bp.get("/<org_slug>/pages")
@auth_required()
def pages(org_slug: str):
    org, role = staff_organisation(org_slug)
    status = request.args.get("status", "")
    if status not in {s.value for s in PageStatus}:
        status = ""
    query_text = request.args.get("q", "").strip()[:100]
    query = (
        select(Page)
        .join(Cause, Cause.id == Page.cause_id)
        .where(Cause.organisation_id == org.id)
        .order_by(Page.created_at.desc(), Page.id.desc())
    )
    if status:
        query = query.where(Page.status == status)
    reported = request.args.get("reported") == "1"
    if reported:
        open_reports = select(PageReport.page_id).where(PageReport.reviewed_at.is_(None))
        query = query.where(Page.id.in_(open_reports))
    if query_text:
        like = f"%{query_text.lower()}%"
        query = query.where(
            or_(func.lower(Page.title).like(like), func.lower(Page.slug).like(like))
        )
    listing = db.paginate(
        query, per_page=PAGES_PER_SCREEN, max_per_page=PAGES_PER_SCREEN, error_out=False
    )
    return render_template(
        "staff/pages.html",
        org=org,
        role=role,
        listing=listing,
        status=status,
        query_text=query_text,
        statuses=list(PageStatus),
        confirm=ConfirmForm(),
        reported=reported,
        report_counts=reports.open_counts([p.id for p in listing.items]),
    )


@bp.route("/<org_slug>/pages/<page_slug>/hide", methods=["GET", "POST"])
@auth_required()
def hide_page(org_slug: str, page_slug: str):
    org, role = staff_organisation(org_slug)
    page = staff_page(org, page_slug)
    form = HideForm(data={"reason": page.hidden_reason})
    reason_read = lambda: ({"reason": form.reason.data or ""}, {})  # noqa: E731
    if save_staff_form(
        form, reason_read, lambda d: page_services.hide_page(current_user, page, d["reason"])
    ):
        flash(_("“%(title)s” is hidden; its owner sees your reason.", title=page.title), "success")
        return redirect(url_for(".pages", org_slug=org.slug, status="hidden"))
    return render_template("staff/hide_page.html", org=org, role=role, page=page, form=form)


@bp.post("/<org_slug>/pages/<page_slug>/unhide")
@auth_required()
def unhide_page(org_slug: str, page_slug: str):
    org, _role = staff_organisation(org_slug)
    page = staff_page(org, page_slug)
    form = ConfirmForm()
    if save_staff_form(
        form, lambda: ({}, {}), lambda d: page_services.unhide_page(current_user, page)
    ):
        flash(_("“%(title)s” is visible again.", title=page.title), "success")
    else:
        for _field, message in form.error_list():
            flash(message, "error")
    return redirect(url_for(".pages", org_slug=org.slug))


@bp.post("/<org_slug>/pages/<page_slug>/reports/reviewed")
@auth_required()
def reports_reviewed(org_slug: str, page_slug: str):
    org, _role = staff_organisation(org_slug)
    page = staff_page(org, page_slug)
    form = ConfirmForm()
    if save_staff_form(form, lambda: ({}, {}), lambda d: reports.mark_reviewed(current_user, page)):
        flash(_("The reports on “%(title)s” are marked reviewed.", title=page.title), "success")
    else:
        for _field, message in form.error_list():
            flash(message, "error")
    return redirect(url_for(".pages", org_slug=org.slug, reported=1))
