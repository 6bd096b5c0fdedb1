"""Fund use: staff record and publish expenses, the public project page, and
each page's "what your money funded", with numbers computed by hand.

Fixture data is committed before the first request (a savepoint inside the
test's outer transaction), so a refused form's rollback cannot hide it and the
tests can check that a refusal saved nothing.
"""

from __future__ import annotations

import html as html_lib
import io
import re
from datetime import date, timedelta
from fractions import Fraction

import pytest
from PIL import Image
from sqlalchemy import event, func, select

from agents.models import MembershipRole
from campaigns.audit import AuditEntry
from campaigns.fund_use import allocation
from campaigns.fund_use import services as expenses
from campaigns.fund_use.models import Expense
from campaigns.fund_use.views import percent_text
from campaigns.giving import ledger, refunds
from campaigns.giving.models import DonationKind
from campaigns.offline.services import today
from campaigns.organisations.models import CauseStatus
from campaigns.pages import services as page_services
from tests.factories import (
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
    ProjectFactory,
    spend,
)

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def text(response) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(response.get_data(as_text=True)))


def words(response) -> str:
    """What a reader sees: the text without tags, spaces squeezed."""
    bare = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html_lib.unescape(bare))


# --- the rule, by hand -----------------------------------------------------------


def money(spent, designated, undesignated) -> allocation.CauseMoney:
    return allocation.CauseMoney("EUR", spent, designated, undesignated)


def test_designated_and_undesignated_gifts_share_by_spending():
    # Spent: A 6,000, B 4,000. The cause: A 5,000 designated, 10,000 undesignated.
    # The page: 1,000 for A, 2,000 undesignated.
    result = allocation.shares(money({1: 6000, 2: 4000}, {1: 5000}, 10000), {1: 1000, None: 2000})
    a, b = result[1], result[2]
    # A: 1,000 + 2,000 × 6/10 = 2,200 of a funding of 5,000 + 10,000 × 6/10 = 11,000.
    assert (a.contribution_minor, a.funding_minor, a.fraction) == (2200, 11000, Fraction(1, 5))
    assert a.funded_minor == 1200  # a fifth of the 6,000 spent
    # B: 2,000 × 4/10 = 800 of a funding of 10,000 × 4/10 = 4,000.
    assert (b.contribution_minor, b.funding_minor, b.fraction) == (800, 4000, Fraction(1, 5))
    assert b.funded(1500) == 300


def test_an_over_spent_project_is_shared_by_its_cost():
    # 9,000 spent on a project that received 3,000: the page's 1,500 paid a sixth.
    share = allocation.shares(money({1: 9000}, {1: 3000}, 0), {1: 1500})[1]
    assert share.fraction == Fraction(1, 6)
    assert share.funded_minor == 1500
    assert share.funded(1000) == 167  # 166.67


def test_amounts_round_half_to_even():
    share = allocation.shares(money({1: 1, 2: 1}, {}, 10), {None: 5})[1]
    assert share.contribution_minor == 2  # 2.5
    assert share.fraction == Fraction(1, 2)
    assert (share.funded(3), share.funded(5), share.funded(7)) == (2, 2, 4)  # 1.5, 2.5, 3.5


def test_no_published_expense_means_no_share():
    assert allocation.shares(money({}, {1: 500}, 500), {None: 100}) == {}


def test_percentages_are_whole_and_small_shares_say_under_one(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert percent_text(Fraction(7, 18)) == "39%"
        assert percent_text(Fraction(1, 8)) == "12%"  # 12.5, half to even
        assert percent_text(Fraction(1, 200)) == "< 1%"
        assert percent_text(Fraction(1, 100)) == "1%"
        assert percent_text(Fraction(1)) == "100%"


# --- a cause with events, projects, refunds --------------------------------------


@pytest.fixture
def world(db, cause, staffer):
    """Hand-computed fund use (amounts in cents):

    gifts — Lyon runs (member of the Lyon event): 1,000 for the well, 2,000
    undesignated; the Lyon event page itself: 400 undesignated; Paris: 3,000 for
    the school, 5,000 undesignated then 1,000 refunded; unattributed: 600
    undesignated, 700 for the library (no expense).
    cause net 11,700; designated well 1,000, school 3,000, library 700;
    undesignated 7,000. Published spending: well 4,000 + 2,000, school 3,000
    (a 9,999 draft does not count); so the well gets 2/3 of the undesignated
    money and is over-spent (funding 5,666.67 < 6,000), the school 1/3.
    """
    well = ProjectFactory(cause=cause, slug="well-34", name="Well #34", position=1)
    school = ProjectFactory(cause=cause, slug="school", name="School roof", position=2)
    library = ProjectFactory(cause=cause, slug="library", name="Library", position=3)
    lyon = EventPageFactory(cause=cause, slug="lyon", title="Lyon night")
    runs = PageFactory(cause=cause, slug="lyon-runs", title="Lyon runs")
    page_services.join_event(runs.owner, runs, lyon)
    paris = PageFactory(cause=cause, slug="paris", title="Paris")
    gift = ledger.record_gift
    gift(page=runs, cause=cause, amount_minor=1000, donor_email="a@x.org", project=well)
    gift(page=runs, cause=cause, amount_minor=2000, donor_email="b@x.org")
    gift(page=lyon, cause=cause, amount_minor=400, donor_email="c@x.org")
    gift(page=paris, cause=cause, amount_minor=3000, donor_email="d@x.org", project=school)
    refunded = gift(page=paris, cause=cause, amount_minor=5000, donor_email="e@x.org")
    refunds._add_row(refunded, DonationKind.REFUND, -1000, stripe_refund_cumulative=1000)
    gift(page=None, cause=cause, amount_minor=600, donor_email="f@x.org")
    gift(page=None, cause=cause, amount_minor=700, donor_email="g@x.org", project=library)
    pump = spend(staffer, well, 4000, "Pump", description="A hand pump for Kati")
    drilling = spend(staffer, well, 2000, "Drilling", spent_on=today() - timedelta(days=9))
    spend(staffer, well, 9999, "Not yet", publish=False)
    roof = spend(staffer, school, 3000, "Roof tiles")
    db.session.commit()
    return {
        "well": well,
        "school": school,
        "library": library,
        "lyon": lyon,
        "runs": runs,
        "paris": paris,
        "pump": pump,
        "drilling": drilling,
        "roof": roof,
    }


def by_project(page) -> dict[str, allocation.ProjectFunding]:
    return {item.project.slug: item for item in allocation.page_fund_use(page)}


def test_cause_money_reads_net_designated_and_undesignated(db, world, cause):
    found = allocation.cause_money([cause.id])[cause.id]
    assert found.spent == {world["well"].id: 6000, world["school"].id: 3000}
    assert found.designated == {
        world["well"].id: 1000,
        world["school"].id: 3000,
        world["library"].id: 700,
    }
    assert found.undesignated == 7000
    assert found.funding(world["well"].id) == Fraction(17000, 3)


def test_a_personal_page_share_by_hand(db, world):
    funded = by_project(world["runs"])
    well, school = funded["well-34"].share, funded["school"].share
    # Well: 1,000 + 2,000 × 2/3 = 2,333.33 of max(5,666.67, 6,000): 7/18.
    assert (well.contribution_minor, well.fraction, well.funded_minor) == (
        2333,
        Fraction(7, 18),
        2333,
    )
    assert [(e.title, f) for e, f in funded["well-34"].expenses] == [
        ("Pump", 1556),  # 4,000 × 7/18 = 1,555.56
        ("Drilling", 778),  # 2,000 × 7/18 = 777.78
    ]
    # School: 2,000 × 1/3 = 666.67 of 3,000 + 7,000/3 = 5,333.33: an eighth.
    assert (school.contribution_minor, school.fraction, school.funded_minor) == (
        667,
        Fraction(1, 8),
        375,
    )
    assert "library" not in funded  # nothing spent on it
    assert list(funded) == ["well-34", "school"]  # largest share first


def test_an_event_page_counts_its_own_and_its_members_gifts(db, world):
    funded = by_project(world["lyon"])
    well, school = funded["well-34"].share, funded["school"].share
    # 1,000 for the well; 2,000 + 400 undesignated.
    assert (well.contribution_minor, well.fraction) == (2600, Fraction(13, 30))
    assert [f for _e, f in funded["well-34"].expenses] == [1733, 867]
    assert (school.contribution_minor, school.fraction, school.funded_minor) == (
        800,
        Fraction(3, 20),
        450,
    )


def test_refunds_are_netted_and_half_cents_round_to_even(db, world):
    funded = by_project(world["paris"])
    school = funded["school"].share
    # 3,000 + (5,000 − 1,000) × 1/3 = 4,333.33 of 5,333.33: 13/16.
    assert (school.contribution_minor, school.fraction) == (4333, Fraction(13, 16))
    assert school.funded_minor == 2438  # 2,437.5 rounds to the even 2,438
    assert funded["well-34"].share.fraction == Fraction(4, 9)


def test_a_page_without_gifts_or_a_cause_without_expenses_shows_nothing(db, world, cause, client):
    quiet = PageFactory(cause=cause, slug="quiet", title="Quiet")
    elsewhere = PageFactory(cause=CauseFactory(organisation=cause.organisation), slug="far")
    ledger.record_gift(page=elsewhere, cause=elsewhere.cause, amount_minor=5000)
    db.session.commit()
    assert allocation.page_fund_use(quiet) == []
    assert allocation.page_fund_use(elsewhere) == []
    assert "What your money funded" not in text(client.get("/p/far"))


def test_fund_use_takes_a_fixed_number_of_queries(db, world, staffer):
    statements: list[str] = []
    connection = db.session.connection()

    def count(*args):
        statements.append(args[2])

    event.listen(connection, "before_cursor_execute", count)
    try:
        db.session.expire_all()  # both counts include reloading the page
        allocation.page_fund_use(world["runs"])
        few = len(statements)
        for n in range(12):
            spend(staffer, world["school"], 10 + n, f"Nails {n}")
        db.session.flush()
        db.session.expire_all()
        statements.clear()
        funded = by_project(world["runs"])
        assert len(statements) == few
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert len(funded["school"].expenses) == 5 and funded["school"].expense_count == 13


def test_the_page_explains_what_its_money_funded(client, world):
    page = text(client.get("/p/lyon-runs"))
    assert "What your money funded" in page
    assert "“Lyon runs”: €23.33 ≈ 39% of Well #34, so about €23.33 of the €60 spent" in page
    assert "€6.67 ≈ 12% of School roof, so about €3.75 of the €30 spent" in page
    assert "≈ €15.56 of €40" in page and "A hand pump for Kati" in page
    assert "Not yet" not in page  # a draft
    assert "in proportion to what was spent on each" in page  # the rule, in words
    event = text(client.get("/p/lyon"))
    assert "“Lyon night”: €26 ≈ 43% of Well #34" in event
    assert "€8 ≈ 15% of School roof, so about €4.50" in event


# --- the public project page and documents --------------------------------------------


def test_the_project_page_shows_raised_spent_and_published_expenses(client, world):
    page = words(client.get("/c/twestival/projects/well-34"))
    assert "Gifts made for this project €10" in page
    assert "With its share of the gifts made to the whole cause €56.67" in page
    assert "Spent so far €60" in page
    assert "the organisation paid the rest from its other funds" in page
    assert "Pump" in page and "A hand pump for Kati" in page and "Drilling" in page
    assert "Not yet" not in page
    assert page.index("Pump") < page.index("Drilling")  # newest first
    assert client.get("/c/twestival/projects/nope").status_code == 404
    assert client.get("/c/nope/projects/well-34").status_code == 404


def test_a_draft_cause_hides_its_projects(db, client, world, cause):
    cause.status = CauseStatus.DRAFT
    db.session.commit()
    assert client.get("/c/twestival/projects/well-34").status_code == 404


# --- staff: access --------------------------------------------------------------------


def staff_urls(expense_id: int) -> list[tuple[str, str]]:
    base = "/staff/eau-vive/expenses"
    return [
        ("get", base),
        ("get", f"{base}/new"),
        ("post", f"{base}/new"),
        ("get", f"{base}/{expense_id}"),
        ("post", f"{base}/{expense_id}"),
        ("post", f"{base}/{expense_id}/publish"),
        ("post", f"{base}/{expense_id}/unpublish"),
        ("post", f"{base}/{expense_id}/delete"),
    ]


def test_agents_who_are_not_members_get_403(db, client, as_agent, world, outsider):
    draft = db.session.scalar(select(Expense).where(Expense.title == "Not yet"))
    as_agent(outsider)
    for method, url in staff_urls(draft.id):
        response = getattr(client, method)(url, data={"title": "x", "amount": "5"})
        assert response.status_code == 403, (method, url)
    assert db.session.get(Expense, draft.id) is not None
    assert db.session.get(Expense, draft.id).is_published is False


def test_anonymous_visitors_are_sent_to_log_in(db, client, world):
    draft = db.session.scalar(select(Expense).where(Expense.title == "Not yet"))
    for method, url in staff_urls(draft.id):
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert "/account/login" in response.headers["Location"]


def test_another_organisations_expense_is_not_found(db, client, as_agent, world):
    other = OrganisationFactory(slug="autre")
    other_staff = MembershipFactory(organisation=other, role=MembershipRole.ADMIN).agent
    draft = db.session.scalar(select(Expense).where(Expense.title == "Not yet"))
    ProjectFactory(cause=CauseFactory(organisation=other))
    as_agent(other_staff)
    assert client.post(f"/staff/autre/expenses/{draft.id}/publish").status_code == 404
    assert client.get(f"/staff/autre/expenses/{draft.id}").status_code == 404
    # Nor can its projects be chosen for a new expense.
    response = client.post(
        "/staff/autre/expenses/new",
        data={
            "project": str(world["well"].id),
            "title": "x",
            "amount": "5",
            "spent_on": "2026-01-02",
        },
    )
    assert response.status_code == 422
    assert "Choose the project" in text(response)


# --- staff: recording, publishing, deleting ------------------------------------------


def audit_actions(db) -> list[tuple[str, int | None]]:
    rows = db.session.execute(
        select(AuditEntry.action, AuditEntry.amount_minor).order_by(AuditEntry.id)
    ).all()
    return [tuple(r) for r in rows if r[0].startswith("expense.")]


def count(db) -> int:
    return db.session.scalar(select(func.count(Expense.id)))


@pytest.fixture
def well(db, cause):
    project = ProjectFactory(cause=cause, slug="well-34", name="Well #34")
    db.session.commit()
    return project


def form(target, **changes) -> dict:
    return {
        "project": str(target.id),
        "title": "Well #34, Kati",
        "amount": "2 400,50",
        "spent_on": (today() - timedelta(days=1)).isoformat(),
        "description": "Drilling and a hand pump.",
        **changes,
    }


def post_new(client, target, **changes):
    return client.post(
        "/staff/eau-vive/expenses/new",
        data=form(target, **changes),
        content_type="multipart/form-data",
    )


def test_staff_record_publish_unpublish_and_delete_with_an_audit_trail(
    db, client, as_agent, staffer, well
):
    as_agent(staffer)
    assert post_new(client, well).status_code == 302
    expense = db.session.scalar(select(Expense))
    assert (expense.amount_minor, expense.currency, expense.is_published) == (240050, "EUR", False)
    assert expense.spent_at.date() == today() - timedelta(days=1)
    assert expense.created_by_id == staffer.id
    listing = text(client.get("/staff/eau-vive/expenses"))
    assert "Well #34, Kati" in listing and "€2,400.50" in listing and "Draft" in listing
    row = f'id="expense-{expense.id}"'
    project_page = "/c/twestival/projects/well-34"
    assert row not in text(client.get(project_page))

    base = f"/staff/eau-vive/expenses/{expense.id}"
    assert client.post(f"{base}/publish").status_code == 302
    assert db.session.get(Expense, expense.id).published_at is not None
    assert row in text(client.get(project_page))
    refused = client.post(f"{base}/delete", follow_redirects=True)
    assert "Unpublish this expense before deleting it" in text(refused)
    assert count(db) == 1

    assert client.post(f"{base}/unpublish").status_code == 302
    assert row not in text(client.get(project_page))
    assert client.post(f"{base}/delete").status_code == 302
    assert count(db) == 0
    assert audit_actions(db) == [
        ("expense.create", 240050),
        ("expense.publish", 240050),
        ("expense.unpublish", 240050),
        ("expense.delete", 240050),
    ]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "expense.delete"))
    assert entry.actor_id == staffer.id and entry.subject_type == "expenses"
    assert entry.subject_id == expense.id and entry.currency == "EUR"


def test_editing_logs_what_changed(db, client, as_agent, staffer, well):
    as_agent(staffer)
    post_new(client, well)
    expense = db.session.scalar(select(Expense))
    url = f"/staff/eau-vive/expenses/{expense.id}"
    assert "2400.50" in client.get(url).get_data(as_text=True)
    assert client.post(url, data=form(well, amount="2500")).status_code == 302
    assert db.session.get(Expense, expense.id).amount_minor == 250000
    assert client.post(url, data=form(well, amount="2500")).status_code == 302  # unchanged
    edits = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "expense.edit")).all()
    assert len(edits) == 1
    assert edits[0].details["changes"] == {"amount_minor": ["240050", "250000"]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "lots"}, "Enter the amount spent as a number"),
        ({"amount": ""}, "Enter the amount spent as a number"),
        ({"amount": "-5"}, "greater than 0"),
        ({"amount": "0"}, "greater than 0"),
        ({"amount": "12.345"}, "Enter the amount spent as a number"),
        ({"amount": "1e20"}, "This amount is too large"),
        ({"spent_on": "yesterday"}, "Enter the day the money was spent"),
        ({"spent_on": (today() + timedelta(days=2)).isoformat()}, "cannot be in the future"),
        ({"spent_on": "1999-12-31"}, "from the year 2000 on"),
        ({"title": "  "}, "Give the expense a short title"),
        ({"title": "x" * 201}, "Keep this under 200 characters"),
        ({"project": ""}, "Choose the project"),
        ({"project": "999999"}, "Choose the project"),
    ],
)
def test_bad_input_is_explained_and_saves_nothing(
    db, client, as_agent, staffer, well, changes, message
):
    as_agent(staffer)
    response = post_new(client, well, **changes)
    assert response.status_code == 422
    assert message in text(response)
    assert "Nothing was saved" in text(response)
    assert count(db) == 0 and audit_actions(db) == []


def test_a_bad_edit_changes_nothing(db, client, as_agent, staffer, well):
    as_agent(staffer)
    post_new(client, well)
    expense = db.session.scalar(select(Expense))
    response = client.post(
        f"/staff/eau-vive/expenses/{expense.id}", data=form(well, amount="x", title="New")
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert (expense.title, expense.amount_minor) == ("Well #34, Kati", 240050)
    assert [a for a, _ in audit_actions(db)] == ["expense.create"]


def test_publishing_twice_is_refused_with_a_message(db, client, as_agent, staffer, well):
    as_agent(staffer)
    post_new(client, well)
    expense = db.session.scalar(select(Expense))
    client.post(f"/staff/eau-vive/expenses/{expense.id}/publish")
    again = client.post(f"/staff/eau-vive/expenses/{expense.id}/publish", follow_redirects=True)
    assert "already published" in text(again)
    assert [a for a, _ in audit_actions(db)] == ["expense.create", "expense.publish"]


def test_a_staff_member_without_projects_is_told_to_add_one(db, client, as_agent, staffer):
    as_agent(staffer)
    response = client.get("/staff/eau-vive/expenses/new")
    assert "Add a project to one of your causes first" in text(response)
    assert "Expenses: record and publish" in text(client.get("/staff/eau-vive/"))


# --- documents ---------------------------------------------------------------------


def upload(client, target, content: bytes, name: str, **changes):
    return post_new(client, target, document=(io.BytesIO(content), name), **changes)


def document_url(expense) -> str:
    return f"/c/twestival/projects/well-34/expenses/{expense.id}/document"


def test_a_draft_document_is_for_staff_only_and_public_once_published(
    db, client, as_agent, staffer, well
):
    as_agent(staffer)
    assert upload(client, well, PDF, "invoice.pdf").status_code == 302
    expense = db.session.scalar(select(Expense))
    assert expenses.DOCUMENT_RE.match(expense.document) and expense.document.endswith(".pdf")
    staff_copy = client.get(document_url(expense))
    assert staff_copy.status_code == 200 and staff_copy.data == PDF
    assert staff_copy.headers["Cache-Control"] == "private, no-store"
    # The document is not in the public media folder.
    assert client.get(f"/media/{expense.document}").status_code == 404

    client.post("/account/logout")
    assert client.get(document_url(expense)).status_code == 404
    as_agent(staffer)
    client.post(f"/staff/eau-vive/expenses/{expense.id}/publish")
    client.post("/account/logout")
    public = client.get(document_url(expense))
    assert public.status_code == 200 and public.data == PDF
    assert public.mimetype == "application/pdf"
    assert public.headers["Content-Disposition"].startswith("attachment")
    assert public.headers["X-Content-Type-Options"] == "nosniff"
    assert public.headers["Cache-Control"] == "public, max-age=300"
    page = text(client.get("/c/twestival/projects/well-34"))
    assert document_url(expense) in page


def test_the_type_comes_from_the_content_not_the_name(db, client, as_agent, staffer, well):
    as_agent(staffer)
    assert upload(client, well, png_bytes(), "scan.pdf").status_code == 302
    expense = db.session.scalar(select(Expense))
    assert expense.document.endswith(".png")
    response = client.get(document_url(expense))
    assert response.mimetype == "image/png"
    assert Image.open(io.BytesIO(response.data)).format == "PNG"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"<script>alert(1)</script>", "invoice.pdf", "Choose a PDF, PNG or JPEG file"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "receipt.png", "Choose a PDF, PNG or JPEG file"),
        (b"%PDF-1.7\nno end", "cut.pdf", "This PDF seems incomplete"),
        (png_bytes()[:60], "broken.png", "This image cannot be read"),
        (b"", "empty.pdf", "The file is empty"),
    ],
)
def test_a_bad_document_is_refused_and_saves_nothing(
    db, client, as_agent, staffer, well, content, name, message
):
    as_agent(staffer)
    response = upload(client, well, content, name)
    assert response.status_code == 422
    assert message in text(response)
    assert count(db) == 0


def test_a_too_large_document_is_refused(db, app, client, as_agent, staffer, well, monkeypatch):
    monkeypatch.setitem(app.config, "EXPENSE_DOCUMENT_MAX_BYTES", 20)
    as_agent(staffer)
    response = upload(client, well, PDF, "invoice.pdf")
    assert response.status_code == 422
    assert "The document is too large" in text(response)
    assert count(db) == 0


def test_a_photo_of_a_receipt_loses_its_exif(db, client, as_agent, staffer, well):
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGB", (50, 50), "blue").save(out, "JPEG", exif=exif, comment=b"12 rue Secrete")
    assert b"SpyCam" in out.getvalue() and b"12 rue Secrete" in out.getvalue()
    as_agent(staffer)
    assert upload(client, well, out.getvalue(), "receipt.jpg").status_code == 302
    data = client.get(document_url(db.session.scalar(select(Expense)))).data
    assert b"SpyCam" not in data and b"12 rue Secrete" not in data
    assert not Image.open(io.BytesIO(data)).getexif()


def test_replacing_or_removing_a_document_deletes_the_old_file(db, client, as_agent, staffer, well):
    as_agent(staffer)
    upload(client, well, PDF, "a.pdf")
    expense = db.session.scalar(select(Expense))
    first = expenses.document_folder() / expense.document
    assert first.exists()
    url = f"/staff/eau-vive/expenses/{expense.id}"
    data = {**form(well), "document": (io.BytesIO(png_bytes()), "b.png")}
    assert client.post(url, data=data, content_type="multipart/form-data").status_code == 302
    db.session.expire_all()
    assert not first.exists() and expense.document.endswith(".png")
    second = expenses.document_folder() / expense.document
    assert client.post(url, data=form(well, remove_document="y")).status_code == 302
    db.session.expire_all()
    assert expense.document is None and not second.exists()
    changes = [
        e.details["changes"]
        for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "expense.edit"))
    ]
    assert changes == [{"document": ["yes", "yes"]}, {"document": ["yes", "no"]}]


def test_spent_day_is_kept_as_typed(db, staffer, well):
    expense = spend(staffer, well, 100, "Rope", spent_on=date(2024, 2, 29), publish=False)
    assert expense.spent_at.date() == date(2024, 2, 29)
