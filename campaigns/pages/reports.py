"""Visitors report a page that breaks the rules; staff see the open reports
next to the page in moderation and mark them reviewed (hiding the page stays
a separate, explained decision)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from agents.models import Agent
from campaigns import audit, inputs
from campaigns.errors import PermissionDenied, ValidationError
from campaigns.model_types import utcnow
from campaigns.organisations import services as org_services
from campaigns.pages.models import Page, PageReport, ReportReason
from extensions import db


def report(page: Page, data: dict) -> PageReport:
    """An anonymous report of ``page``; ``data`` holds ``reason`` and ``details``."""
    errors: dict[str, str] = {}
    reason = data.get("reason") or ""
    if reason not in {r.value for r in ReportReason}:
        errors["reason"] = _("Choose what is wrong with the page.")
    details = inputs.text_field(data, "details", errors, max_length=1000)
    if errors:
        raise ValidationError(errors)
    row = PageReport(page_id=page.id, reason=ReportReason(reason), details=details)
    db.session.add(row)
    db.session.flush()
    return row


def open_counts(page_ids: list[int]) -> dict[int, int]:
    """Reports not yet reviewed, per page."""
    if not page_ids:
        return {}
    rows = db.session.execute(
        select(PageReport.page_id, func.count(PageReport.id))
        .where(PageReport.page_id.in_(page_ids), PageReport.reviewed_at.is_(None))
        .group_by(PageReport.page_id)
    )
    return dict(rows.all())


def open_reports(page: Page) -> list[PageReport]:
    return list(
        db.session.scalars(
            select(PageReport)
            .where(PageReport.page_id == page.id, PageReport.reviewed_at.is_(None))
            .order_by(PageReport.id)
        )
    )


def mark_reviewed(agent: Agent, page: Page) -> int:
    """Staff mark a page's open reports reviewed; audited. Returns how many."""
    organisation_id = page.cause.organisation_id
    if not org_services.is_staff(agent, organisation_id):
        raise PermissionDenied(_("Only the organisation's staff review reports."))
    done = db.session.execute(
        update(PageReport)
        .where(PageReport.page_id == page.id, PageReport.reviewed_at.is_(None))
        .values(reviewed_at=utcnow(), reviewed_by_id=agent.id)
    ).rowcount
    if done:
        audit.record(
            organisation_id,
            agent,
            "page.reports_reviewed",
            f"{done} report(s) on {page.title}",
            subject=page,
        )
    return done
