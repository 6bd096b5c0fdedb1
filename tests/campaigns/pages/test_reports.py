"""Visitors report a page; staff see open reports in moderation and mark them
reviewed (audited); bad reports change nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from campaigns.audit import AuditEntry
from campaigns.pages.models import PageReport, PageStatus
from tests.factories import AgentFactory, MembershipFactory, PageFactory


def test_a_visitor_reports_a_page_and_staff_review_it(client, db, cause, as_agent):
    page = PageFactory(cause=cause, slug="too-good", title="Too good to be true")
    quiet = PageFactory(cause=cause, slug="quiet", title="Quiet page")
    staffer = MembershipFactory(organisation=cause.organisation).agent
    db.session.commit()

    shown = client.get("/p/too-good").get_data(as_text=True)
    assert 'href="/p/too-good/report"' in shown
    assert client.get("/p/too-good/report").status_code == 200
    response = client.post(
        "/p/too-good/report", data={"reason": "scam", "details": "Asks for cash by wire."}
    )
    assert response.status_code == 302
    row = db.session.scalars(select(PageReport)).one()
    assert (row.page_id, row.reason, row.details) == (page.id, "scam", "Asks for cash by wire.")

    as_agent(staffer)
    org = cause.organisation.slug
    moderation = client.get(f"/staff/{org}/pages?reported=1").get_data(as_text=True)
    assert "Too good to be true" in moderation and "1 open report" in moderation
    assert "Quiet page" not in moderation
    assert quiet.title in client.get(f"/staff/{org}/pages").get_data(as_text=True)

    done = client.post(f"/staff/{org}/pages/too-good/reports/reviewed")
    assert done.status_code == 302
    db.session.refresh(row)
    assert row.reviewed_at is not None and row.reviewed_by_id == staffer.id
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "page.reports_reviewed")
        )
        == 1
    )
    after = client.get(f"/staff/{org}/pages?reported=1").get_data(as_text=True)
    assert "open report" not in after and 'href="http://localhost/p/too-good"' not in after


def test_bad_reports_change_nothing(client, db, cause):
    PageFactory(cause=cause, slug="fine")
    PageFactory(cause=cause, slug="draft", status=PageStatus.DRAFT)
    db.session.commit()
    for data in ({}, {"reason": "boring"}, {"reason": "spam", "details": "x" * 1001}):
        assert client.post("/p/fine/report", data=data).status_code == 422, data
    assert client.post("/p/draft/report", data={"reason": "spam"}).status_code == 404
    assert client.post("/p/nobody/report", data={"reason": "spam"}).status_code == 404
    assert db.session.scalar(select(func.count(PageReport.id))) == 0


def test_only_staff_mark_reports_reviewed(client, db, cause, as_agent):
    page = PageFactory(cause=cause, slug="reported")
    db.session.add(PageReport(page_id=page.id, reason="spam"))
    db.session.commit()
    as_agent(AgentFactory())
    org = cause.organisation.slug
    assert client.post(f"/staff/{org}/pages/reported/reports/reviewed").status_code == 403
    assert db.session.scalars(select(PageReport)).one().reviewed_at is None
