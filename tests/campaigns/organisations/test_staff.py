"""The staff screens: who gets in, causes and projects, moderation, settings, staff.

Fixture data is committed before the first request (a savepoint inside the
test's outer transaction), so a refused form's rollback cannot hide it and the
tests can check that a refusal saved nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from agents.models import Membership, MembershipRole
from campaigns.organisations.models import Cause, CauseStatus, Organisation, Project
from campaigns.pages.models import Page, PageStatus
from tests.factories import (
    AgentFactory,
    CauseFactory,
    PageFactory,
)


def count(db, model) -> int:
    return db.session.scalar(select(func.count(model.id)))


CAUSE_FORM = {
    "title": "Clean water 2026",
    "slug": "clean-water-2026",
    "summary": "Wells for ten villages.",
    "story": "We dig **wells**.",
    "goal": "50000",
    "starts_at": "2026-06-01T09:00",
    "ends_at": "2026-06-30T18:00",
    "status": "published",
}


# --- who gets in --------------------------------------------------------------


def staff_urls(org_slug="eau-vive", cause_slug="twestival", page_slug="lyon-runs"):
    base = f"/staff/{org_slug}"
    return [
        ("get", "/staff/"),
        ("get", f"{base}/"),
        ("get", f"{base}/edit"),
        ("post", f"{base}/edit"),
        ("get", f"{base}/causes/new"),
        ("post", f"{base}/causes/new"),
        ("get", f"{base}/causes/{cause_slug}"),
        ("post", f"{base}/causes/{cause_slug}"),
        ("get", f"{base}/causes/{cause_slug}/projects/new"),
        ("post", f"{base}/causes/{cause_slug}/projects/new"),
        ("get", f"{base}/pages"),
        ("get", f"{base}/pages/{page_slug}/hide"),
        ("post", f"{base}/pages/{page_slug}/hide"),
        ("post", f"{base}/pages/{page_slug}/unhide"),
        ("get", f"{base}/staff"),
        ("post", f"{base}/staff"),
    ]


def test_an_agent_who_is_not_staff_gets_403_everywhere(db, client, as_agent, page, admin, outsider):
    # Staff of another organisation is no better.
    membership = db.session.scalar(select(Membership).where(Membership.agent_id == admin.id))
    as_agent(outsider)
    urls = [u for u in staff_urls() if u[1] != "/staff/"]
    urls.append(("post", f"/staff/eau-vive/staff/{membership.id}/remove"))
    for method, url in urls:
        response = getattr(client, method)(url, data={"reason": "spam", "title": "x"})
        assert response.status_code == 403, (method, url)
    assert db.session.get(Page, page.id).status == PageStatus.PUBLISHED
    assert count(db, Membership) == 2


def test_staff_pages_are_403_for_an_agent_with_no_organisation(db, client, as_agent, page):
    as_agent(AgentFactory())
    for method, url in staff_urls():
        assert getattr(client, method)(url, data={}).status_code == 403, (method, url)


def test_anonymous_visitors_are_sent_to_log_in(db, client, org):
    db.session.commit()
    response = client.get("/staff/eau-vive/")
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "/account/login" in response.headers["Location"]


def test_staff_see_their_organisations_and_the_overview(db, client, as_agent, staffer, page):
    PageFactory(cause=page.cause, status=PageStatus.HIDDEN, hidden_reason="spam")
    as_agent(staffer)
    index = client.get("/staff/")
    assert index.status_code == 200
    assert "Eau Vive" in index.text
    overview = client.get("/staff/eau-vive/")
    assert overview.status_code == 200
    assert "Twestival" in overview.text
    assert "Hidden: 1" in overview.text
    assert "Published: 1" in overview.text
    assert "/staff/eau-vive/pages" in overview.text
    # Staff (not admin) get no link to the organisation's settings.
    assert "/staff/eau-vive/edit" not in overview.text


def test_an_unknown_organisation_is_404(db, client, as_agent, staffer):
    as_agent(staffer)
    assert client.get("/staff/nowhere/").status_code == 404


# --- causes and projects --------------------------------------------------------


def test_staff_create_a_cause_and_it_appears(db, client, as_agent, staffer, org):
    as_agent(staffer)
    form = client.get("/staff/eau-vive/causes/new")
    assert form.status_code == 200
    response = client.post("/staff/eau-vive/causes/new", data=CAUSE_FORM)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/eau-vive/causes/clean-water-2026")
    cause = db.session.scalar(select(Cause).where(Cause.slug == "clean-water-2026"))
    assert cause.organisation_id == org.id
    assert cause.goal_minor == 50_000_00
    assert cause.status == CauseStatus.PUBLISHED
    # 09:00 in Paris in June is 07:00 UTC.
    assert cause.starts_at == datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
    assert cause.ends_at == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    overview = client.get("/staff/eau-vive/")
    assert "Clean water 2026" in overview.text
    edit = client.get("/staff/eau-vive/causes/clean-water-2026")
    assert 'value="2026-06-01T09:00"' in edit.text
    assert 'value="50000"' in edit.text


def test_a_cause_slug_is_suggested_when_left_empty(db, client, as_agent, staffer):
    as_agent(staffer)
    data = {**CAUSE_FORM, "slug": "", "title": "Été solidaire"}
    assert client.post("/staff/eau-vive/causes/new", data=data).status_code == 302
    assert db.session.scalar(select(Cause).where(Cause.slug == "ete-solidaire")) is not None


def test_editing_a_cause_keeps_its_address_when_the_slug_is_left_empty(
    db, client, as_agent, staffer, cause
):
    as_agent(staffer)
    data = {**CAUSE_FORM, "slug": "", "title": "Twestival 2026", "goal": "1234,50"}
    response = client.post("/staff/eau-vive/causes/twestival", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    cause = db.session.get(Cause, cause.id)
    assert (cause.slug, cause.title, cause.goal_minor) == ("twestival", "Twestival 2026", 123450)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"goal": "abc"}, "goal", "Enter the goal as an amount"),
        ({"goal": "-5"}, "goal", "0 or more"),
        ({"goal": "12.345"}, "goal", "Enter the goal as an amount"),
        ({"slug": "twestival"}, "slug", "already taken"),
        ({"slug": "Not a slug!"}, "slug", "lower-case letters"),
        ({"title": ""}, "title", "required"),
        ({"ends_at": "2026-05-01T09:00"}, "ends_at", "end must come after the start"),
        ({"starts_at": "someday"}, "starts_at", "Enter a date and time"),
        ({"starts_at": "0001-01-01T00:00"}, "starts_at", "Enter a date and time"),
        ({"status": "archived"}, "status", "Status must be"),
    ],
)
def test_bad_cause_input_is_refused_and_nothing_is_saved(
    db, client, as_agent, staffer, cause, changes, field, message
):
    as_agent(staffer)
    before = count(db, Cause)
    response = client.post("/staff/eau-vive/causes/new", data={**CAUSE_FORM, **changes})
    assert response.status_code == 200
    assert message in response.text
    # The message is tied to its field for screen readers.
    assert f'id="{field}-error"' in response.text
    assert f'aria-describedby="{field}-hint {field}-error"' in response.text or (
        f'aria-describedby="{field}-error"' in response.text
    )
    assert count(db, Cause) == before


def test_a_bad_goal_on_an_edit_changes_nothing(db, client, as_agent, staffer, cause):
    as_agent(staffer)
    data = {**CAUSE_FORM, "slug": "twestival", "title": "Renamed", "goal": "abc"}
    response = client.post("/staff/eau-vive/causes/twestival", data=data)
    assert response.status_code == 200
    assert "Enter the goal as an amount" in response.text
    db.session.expire_all()
    assert db.session.get(Cause, cause.id).title == "Twestival"


def test_a_cause_of_another_organisation_is_404(db, client, as_agent, staffer):
    CauseFactory(slug="elsewhere")
    as_agent(staffer)
    assert client.get("/staff/eau-vive/causes/elsewhere").status_code == 404


def test_staff_create_and_edit_a_project(db, client, as_agent, staffer, cause):
    as_agent(staffer)
    data = {"name": "Wells in Mali", "slug": "", "description": "Ten wells.", "goal": "5000"}
    response = client.post("/staff/eau-vive/causes/twestival/projects/new", data=data)
    assert response.status_code == 302
    project = db.session.scalar(select(Project).where(Project.cause_id == cause.id))
    assert (project.slug, project.goal_minor) == ("wells-in-mali", 5000_00)
    page = client.get("/staff/eau-vive/causes/twestival")
    assert "Wells in Mali" in page.text

    edit = {**data, "name": "Wells in Mali and Niger", "goal": "7500"}
    url = "/staff/eau-vive/causes/twestival/projects/wells-in-mali"
    assert client.post(url, data=edit).status_code == 302
    db.session.expire_all()
    project = db.session.get(Project, project.id)
    assert (project.name, project.slug, project.goal_minor) == (
        "Wells in Mali and Niger",
        "wells-in-mali",
        7500_00,
    )


def test_bad_project_input_is_refused(db, client, as_agent, staffer, cause):
    as_agent(staffer)
    client.post(
        "/staff/eau-vive/causes/twestival/projects/new",
        data={"name": "Wells", "slug": "wells", "goal": "10"},
    )
    before = count(db, Project)
    for data, message in [
        ({"name": "Wells again", "slug": "wells", "goal": "10"}, "already taken"),
        ({"name": "Pumps", "goal": "abc"}, "Enter the goal as an amount"),
        ({"name": "", "goal": "10"}, "required"),
    ]:
        response = client.post("/staff/eau-vive/causes/twestival/projects/new", data=data)
        assert response.status_code == 200
        assert message in response.text
    assert count(db, Project) == before


# --- moderation -----------------------------------------------------------------


def test_staff_hide_a_page_with_a_reason_and_unhide_it(db, client, as_agent, staffer, page):
    as_agent(staffer)
    listing = client.get("/staff/eau-vive/pages")
    assert "Lyon runs" in listing.text

    refused = client.post("/staff/eau-vive/pages/lyon-runs/hide", data={"reason": "   "})
    assert refused.status_code == 200
    assert "Tell the owner why the page is hidden." in refused.text
    db.session.expire_all()
    assert db.session.get(Page, page.id).status == PageStatus.PUBLISHED

    reason = "The story names a person without consent; remove the name."
    hidden = client.post("/staff/eau-vive/pages/lyon-runs/hide", data={"reason": reason})
    assert hidden.status_code == 302
    db.session.expire_all()
    page = db.session.get(Page, page.id)
    assert (page.status, page.hidden_reason) == (PageStatus.HIDDEN, reason)

    only_hidden = client.get("/staff/eau-vive/pages?status=hidden")
    assert "Lyon runs" in only_hidden.text
    assert reason in only_hidden.text
    assert "Lyon runs" not in client.get("/staff/eau-vive/pages?status=published").text

    assert client.post("/staff/eau-vive/pages/lyon-runs/unhide").status_code == 302
    db.session.expire_all()
    page = db.session.get(Page, page.id)
    assert (page.status, page.hidden_reason) == (PageStatus.PUBLISHED, "")


def test_a_page_of_another_organisation_cannot_be_hidden(db, client, as_agent, staffer):
    other = PageFactory(slug="elsewhere")
    as_agent(staffer)
    response = client.post("/staff/eau-vive/pages/elsewhere/hide", data={"reason": "spam"})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Page, other.id).status == PageStatus.PUBLISHED


def test_moderation_filters_by_text_and_ignores_a_bad_status(db, client, as_agent, staffer, page):
    PageFactory(cause=page.cause, title="Paris swims")
    as_agent(staffer)
    found = client.get("/staff/eau-vive/pages?q=paris&status=nonsense&page=abc")
    assert found.status_code == 200
    assert "Paris swims" in found.text
    assert "Lyon runs" not in found.text


# --- organisation settings --------------------------------------------------------


ORG_FORM = {
    "name": "Eau Vive France",
    "legal_name": "Association Eau Vive",
    "address": "1 rue de la Source, 69001 Lyon",
    "website": "https://eauvive.example.org",
    "currency": "EUR",
    "locale": "fr",
    "suggested_amounts": "10, 25, 50,50",
    "min_amount": "2",
    "max_amount": "10000",
    "open_data_k_floor": "5",
}


def test_staff_who_are_not_admins_cannot_edit_the_organisation(db, client, as_agent, staffer, org):
    as_agent(staffer)
    assert client.get("/staff/eau-vive/edit").status_code == 403
    assert client.post("/staff/eau-vive/edit", data=ORG_FORM).status_code == 403
    db.session.expire_all()
    assert db.session.get(Organisation, org.id).name == "Eau Vive"


def test_admins_edit_the_organisation(db, client, as_agent, admin, org):
    as_agent(admin)
    form = client.get("/staff/eau-vive/edit")
    assert form.status_code == 200
    assert 'value="10, 25, 50"' in form.text
    response = client.post("/staff/eau-vive/edit", data=ORG_FORM)
    assert response.status_code == 302
    db.session.expire_all()
    org = db.session.get(Organisation, org.id)
    assert org.name == "Eau Vive France"
    assert org.suggested_amounts == [1000, 2500, 5050]
    assert (org.min_amount_minor, org.max_amount_minor, org.open_data_k_floor) == (
        200,
        1_000_000,
        5,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"currency": "XXX"}, "Choose one of"),
        ({"locale": "de"}, "Choose French (fr) or English (en)"),
        ({"suggested_amounts": "ten"}, "Give one to six positive amounts"),
        ({"suggested_amounts": "10, -5"}, "Give one to six positive amounts"),
        ({"min_amount": "50", "max_amount": "10"}, "at least the smallest gift"),
        ({"min_amount": "abc"}, "Enter an amount greater than 0"),
        ({"max_amount": "99999999999"}, "Enter an amount greater than 0"),
        ({"open_data_k_floor": "0"}, "from 1 to 1000"),
        ({"website": "javascript:alert(1)"}, "starting with https://"),
        ({"name": ""}, "required"),
    ],
)
def test_bad_organisation_input_is_refused(db, client, as_agent, admin, org, changes, message):
    as_agent(admin)
    response = client.post("/staff/eau-vive/edit", data={**ORG_FORM, **changes})
    assert response.status_code == 200
    assert message in response.text
    db.session.expire_all()
    org = db.session.get(Organisation, org.id)
    assert (org.name, org.currency, org.suggested_amounts) == (
        "Eau Vive",
        "EUR",
        [1000, 2500, 5000],
    )


# --- staff members --------------------------------------------------------------


def test_admins_add_and_remove_staff(db, client, as_agent, admin, org):
    newcomer = AgentFactory(email="lea@example.org")
    as_agent(admin)
    response = client.post("/staff/eau-vive/staff", data={"email": "LEA@example.org", "role": ""})
    assert response.status_code == 200  # a role is required
    assert "The role must be admin or staff." in response.text

    response = client.post(
        "/staff/eau-vive/staff", data={"email": "lea@example.org", "role": "staff"}
    )
    assert response.status_code == 302
    membership = db.session.scalar(select(Membership).where(Membership.agent_id == newcomer.id))
    assert (membership.organisation_id, membership.role) == (org.id, MembershipRole.STAFF)
    assert "lea@example.org" in client.get("/staff/eau-vive/staff").text

    unknown = client.post("/staff/eau-vive/staff", data={"email": "nobody@example.org"})
    assert unknown.status_code == 200
    assert "No account uses the address" in unknown.text

    assert client.post(f"/staff/eau-vive/staff/{membership.id}/remove").status_code == 302
    assert db.session.scalar(select(Membership).where(Membership.agent_id == newcomer.id)) is None


def test_the_last_admin_cannot_be_removed_or_demoted(db, client, as_agent, admin, org):
    as_agent(admin)
    membership = db.session.scalar(select(Membership).where(Membership.agent_id == admin.id))
    client.post(f"/staff/eau-vive/staff/{membership.id}/remove")
    demote = client.post("/staff/eau-vive/staff", data={"email": admin.email, "role": "staff"})
    assert "at least one admin" in demote.text
    db.session.expire_all()
    membership = db.session.get(Membership, membership.id)
    assert membership is not None and membership.role == MembershipRole.ADMIN


def test_staff_who_are_not_admins_cannot_change_staff(db, client, as_agent, staffer, admin):
    target = AgentFactory()
    membership = db.session.scalar(select(Membership).where(Membership.agent_id == admin.id))
    as_agent(staffer)
    listing = client.get("/staff/eau-vive/staff")
    assert listing.status_code == 200
    assert "Add a staff member" not in listing.text
    add = client.post("/staff/eau-vive/staff", data={"email": target.email, "role": "admin"})
    assert add.status_code == 403
    assert client.post(f"/staff/eau-vive/staff/{membership.id}/remove").status_code == 403
    assert count(db, Membership) == 2


def test_every_staff_form_carries_a_csrf_token(db, app, client, as_agent, admin, page, monkeypatch):
    as_agent(admin)
    # A hidden page, so that the moderation list has an unhide form too.
    client.post("/staff/eau-vive/pages/lyon-runs/hide", data={"reason": "spam"})
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    for url in [
        "/staff/eau-vive/edit",
        "/staff/eau-vive/causes/new",
        "/staff/eau-vive/causes/twestival",
        "/staff/eau-vive/causes/twestival/projects/new",
        "/staff/eau-vive/pages",
        "/staff/eau-vive/pages/lyon-runs/hide",
        "/staff/eau-vive/staff",
    ]:
        html = client.get(url).text
        assert "<form" in html, url
        assert html.count("<form") - html.count('<form method="get"') == html.count(
            'name="csrf_token"'
        ), url
    assert "/staff/eau-vive/pages/lyon-runs/unhide" in client.get("/staff/eau-vive/pages").text
    # A post without the token is refused and saves nothing.
    response = client.post("/staff/eau-vive/causes/new", data=CAUSE_FORM)
    assert response.status_code == 400
    assert count(db, Cause) == 1
