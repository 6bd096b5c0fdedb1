from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from campaigns.errors import Conflict, NotFound, PermissionDenied, ValidationError
from campaigns.giving import ledger
from campaigns.giving.models import Donation
from campaigns.organisations.jobs import close_ended_causes
from campaigns.organisations.models import CauseStatus
from campaigns.pages import services as page_services
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from campaigns.totals.rebuild import rebuild
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    PageFactory,
    ProjectFactory,
)


def future(days=10):
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def test_create_page_suggests_a_free_slug(db):
    cause, agent = CauseFactory(), AgentFactory()
    first = page_services.create_page(agent, cause, "personal", {"title": "Lyon à vélo"})
    second = page_services.create_page(agent, cause, "personal", {"title": "Lyon à vélo"})
    assert (first.slug, second.slug) == ("lyon-a-velo", "lyon-a-velo-2")
    assert first.status == PageStatus.DRAFT


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x", "goal_minor": -5}, "goal"),
        ({"title": "x", "goal_minor": "abc"}, "goal"),
        ({"title": "x", "goal_minor": True}, "goal"),
        ({"title": "x", "slug": "Not A Slug!"}, "slug"),
        ({"title": "x", "slug": "new"}, "slug"),
        ({"title": "x", "starts_at": "yesterday"}, "starts_at"),
        ({"title": "x", "starts_at": "2001-01-01T10:00:00+00:00"}, "starts_at"),
        ({"title": "x", "status": "hidden"}, "status"),
    ],
)
def test_create_page_refuses_bad_input_and_writes_nothing(db, data, field):
    cause, agent = CauseFactory(), AgentFactory()
    with pytest.raises(ValidationError) as exc:
        page_services.create_page(agent, cause, "personal", data)
    assert field in exc.value.errors
    assert db.session.scalar(select(func.count(Page.id))) == 0


def test_event_page_needs_a_city(db):
    with pytest.raises(ValidationError) as exc:
        page_services.create_page(AgentFactory(), CauseFactory(), "event", {"title": "Soirée"})
    assert "city" in exc.value.errors


def test_pages_only_under_a_published_cause(db):
    cause = CauseFactory(status=CauseStatus.DRAFT)
    with pytest.raises(ValidationError):
        page_services.create_page(AgentFactory(), cause, "personal", {"title": "x"})


def test_duplicate_slug_is_refused(db):
    page = PageFactory(slug="lyon")
    with pytest.raises(ValidationError) as exc:
        page_services.create_page(
            AgentFactory(), page.cause, "personal", {"title": "x", "slug": "lyon"}
        )
    assert "slug" in exc.value.errors


def test_only_owner_and_cohosts_edit(db):
    page = EventPageFactory()
    stranger = AgentFactory()
    with pytest.raises(PermissionDenied):
        page_services.update_page(stranger, page, {"title": "Mine now"})
    invite, token = page_services.invite_cohost(page.owner, page, "Friend@Example.org")
    assert invite.email == "friend@example.org"
    page_services.accept_invite(stranger, token)
    page_services.update_page(stranger, page, {"title": "Co-hosted"})
    assert page.title == "Co-hosted"
    with pytest.raises(NotFound):
        page_services.accept_invite(AgentFactory(), token)  # used already


def test_join_counts_gifts_in_the_event_and_leaving_keeps_them(db):
    event = EventPageFactory()
    page = PageFactory(cause=event.cause)
    page_services.join_event(page.owner, page, event)
    ledger.record_gift(page=page, cause=page.cause, amount_minor=2500, donor_email="a@x.org")
    ledger.record_gift(page=event, cause=event.cause, amount_minor=1000, donor_email="b@x.org")
    assert totals.figures_one(TotalScope.EVENT, event.id).raised_minor == 3500
    assert totals.figures_one(TotalScope.PAGE, event.id).raised_minor == 1000

    page_services.leave_event(page.owner, page)
    ledger.record_gift(page=page, cause=page.cause, amount_minor=500, donor_email="a@x.org")
    assert page.parent is None
    assert totals.figures_one(TotalScope.EVENT, event.id).raised_minor == 3500
    assert totals.figures_one(TotalScope.PAGE, page.id) == totals.Figures(3000, 2, 1)
    assert totals.figures_one(TotalScope.CAUSE, page.cause_id).raised_minor == 4000
    assert totals.drift() == []


def test_cannot_join_a_closed_event_or_with_someone_elses_page(db):
    event = EventPageFactory(status=PageStatus.CLOSED)
    page = PageFactory(cause=event.cause)
    with pytest.raises(ValidationError) as exc:
        page_services.join_event(page.owner, page, event)
    assert "event" in exc.value.errors
    with pytest.raises(PermissionDenied):
        page_services.join_event(AgentFactory(), page, EventPageFactory(cause=event.cause))
    assert page.parent_id is None


def test_closed_page_keeps_its_money_and_new_gifts_land_on_the_cause(db):
    page = PageFactory()
    ledger.record_gift(page=page, cause=page.cause, amount_minor=1000, donor_email="a@x.org")
    page_services.close_page(page.owner, page)
    gift = ledger.record_gift(page=page, cause=page.cause, amount_minor=700)
    assert gift.is_unattributed and gift.page_id is None
    assert totals.figures_one(TotalScope.PAGE, page.id).raised_minor == 1000
    assert totals.figures_one(TotalScope.CAUSE, page.cause_id).raised_minor == 1700
    with pytest.raises(Conflict):
        page_services.update_page(page.owner, page, {"title": "again"})


def test_donor_counts_are_distinct_and_projects_counted(db):
    project = ProjectFactory()
    page = PageFactory(cause=project.cause)
    for email in ("a@x.org", "A@x.org ", "b@x.org"):
        ledger.record_gift(
            page=page, cause=page.cause, amount_minor=1000, donor_email=email, project=project
        )
    ledger.record_gift(page=page, cause=page.cause, amount_minor=1000)  # cash, no email
    assert totals.figures_one(TotalScope.PAGE, page.id) == totals.Figures(4000, 4, 3)
    assert totals.figures_one(TotalScope.PROJECT, project.id) == totals.Figures(3000, 3, 2)
    org = totals.figures_one(TotalScope.ORGANISATION, page.cause.organisation_id)
    assert org == totals.Figures(4000, 4, 3)


def test_gift_amount_must_be_positive(db):
    page = PageFactory()
    for amount in (0, -100, 10.5, "100", True):
        with pytest.raises(ValidationError):
            ledger.record_gift(page=page, cause=page.cause, amount_minor=amount)
    assert db.session.scalar(select(func.count(Donation.id))) == 0


def test_rebuild_repairs_drift(db):
    page = PageFactory()
    ledger.record_gift(page=page, cause=page.cause, amount_minor=1000, donor_email="a@x.org")
    ledger.record_gift(page=page, cause=page.cause, amount_minor=2000, donor_email="b@x.org")
    db.session.execute(
        totals.Total.__table__.update().values(raised_minor=1)  # corrupt every row
    )
    assert totals.drift()
    rebuild()
    assert totals.drift() == []
    assert totals.figures_one(TotalScope.PAGE, page.id) == totals.Figures(3000, 2, 2)


def test_hiding_needs_staff_and_a_reason(db):
    page = PageFactory()
    with pytest.raises(PermissionDenied):
        page_services.hide_page(page.owner, page, "spam")
    staff = MembershipFactory(organisation=page.cause.organisation).agent
    with pytest.raises(ValidationError):
        page_services.hide_page(staff, page, "  ")
    page_services.hide_page(staff, page, "Photo non conforme")
    assert (page.status, page.hidden_reason) == (PageStatus.HIDDEN, "Photo non conforme")
    with pytest.raises(Conflict):
        page_services.publish_page(page.owner, page)


def test_ended_causes_are_closed_by_the_job(db):
    ended = CauseFactory(ends_at=datetime.now(UTC) - timedelta(minutes=1))
    running = CauseFactory(ends_at=datetime.now(UTC) + timedelta(days=1))
    assert close_ended_causes() == 1
    assert (ended.status, running.status) == (CauseStatus.CLOSED, CauseStatus.PUBLISHED)


def test_personal_only_joins(db):
    event = EventPageFactory()
    other_event = EventPageFactory(cause=event.cause)
    with pytest.raises(ValidationError):
        page_services.join_event(other_event.owner, other_event, event)
    assert other_event.kind == PageKind.EVENT and other_event.parent_id is None


def test_unhiding_restores_what_the_owner_had(db):
    draft = PageFactory(status=PageStatus.DRAFT)
    closed = PageFactory(cause=draft.cause)
    page_services.close_page(closed.owner, closed)
    staff = MembershipFactory(organisation=draft.cause.organisation).agent
    for page in (draft, closed):
        page_services.hide_page(staff, page, "vérification")
        page_services.unhide_page(staff, page)
    assert (draft.status, closed.status) == (PageStatus.DRAFT, PageStatus.CLOSED)


def test_year_one_is_a_clear_refusal(db):
    with pytest.raises(ValidationError) as exc:
        page_services.create_page(
            AgentFactory(),
            CauseFactory(),
            "event",
            {"title": "x", "city": "Lyon", "starts_at": "0001-01-01T00:00"},
        )
    assert "starts_at" in exc.value.errors


def test_gifts_get_gap_free_receipt_numbers_per_organisation_and_year(db):
    from campaigns.giving import receipts

    page = PageFactory()
    other = PageFactory()  # another organisation: its own sequence
    numbers = [
        ledger.record_gift(page=page, cause=page.cause, amount_minor=1000).receipt_number
        for _ in range(3)
    ]
    theirs = ledger.record_gift(page=other, cause=other.cause, amount_minor=1000)
    assert numbers == [None, None, None]  # not in the gift's transaction
    assert receipts.issue_pending() == 4
    numbers = [
        n.receipt_number
        for n in db.session.scalars(
            select(Donation).where(Donation.page_id == page.id).order_by(Donation.id)
        )
    ]
    year = datetime.now(UTC).year
    assert [n.rsplit("-", 1)[1] for n in numbers] == ["000001", "000002", "000003"]
    assert theirs.receipt_number.endswith(f"{year}-000001")
    assert receipts.numbers_are_gap_free(page.cause.organisation_id, year)


def test_an_event_needs_a_date_and_only_its_owner_closes_it(db):
    cause, host = CauseFactory(), AgentFactory()
    with pytest.raises(ValidationError) as exc:
        page_services.create_page(host, cause, "event", {"title": "Soirée", "city": "Lyon"})
    assert "starts_at" in exc.value.errors
    event = page_services.create_page(
        host, cause, "event", {"title": "Soirée", "city": "Lyon", "starts_at": future()}
    )
    _, token = page_services.invite_cohost(host, event, "co@example.org")
    cohost = AgentFactory()
    page_services.accept_invite(cohost, token)
    with pytest.raises(PermissionDenied):
        page_services.close_page(cohost, event)
    assert event.status != PageStatus.CLOSED
