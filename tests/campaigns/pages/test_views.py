"""Public pages and agents' page management, as a browser sees them."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from campaigns.giving import ledger as services
from campaigns.money import format_money
from campaigns.organisations.models import CauseStatus
from campaigns.pages.models import Page, PageHost, PageKind, PageStatus
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    MembershipFactory,
    PageFactory,
)

FUTURE = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT19:00")


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English, whatever catalogues exist: the assertions read English text."""
    with client.session_transaction() as session:
        session["locale"] = "en"


@pytest.fixture
def cause(db):
    cause = CauseFactory()
    db.session.commit()
    return cause


@pytest.fixture
def agent(db, login_as):
    agent = AgentFactory()
    db.session.commit()
    return login_as(agent)


def saved(db):
    """Commit the test's set-up: a refused request rolls back to here, as in production."""
    db.session.commit()


def html(response) -> str:
    return response.get_data(as_text=True)


def page_count(db) -> int:
    return db.session.scalar(select(func.count(Page.id)))


def euros(amount_minor: int) -> str:
    return format_money(amount_minor, "EUR", "en")


def png_bytes(size=(40, 30), noise=False) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    if noise:
        image = Image.frombytes(
            "RGB", size, bytes(i * 7919 % 251 for i in range(size[0] * size[1] * 3))
        )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def new_page(client, cause, **fields):
    data = {"kind": "personal", "title": "Running for water", "goal": "500", "story": "Hello"}
    data.update(fields)
    return client.post(f"/c/{cause.slug}/pages/new", data=data, content_type="multipart/form-data")


# --- creating pages ---------------------------------------------------------------


def test_creating_a_page_needs_an_account(client, cause):
    response = client.get(f"/c/{cause.slug}/pages/new")
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "/account/login" in response.headers["Location"]


def test_create_personal_page(client, db, cause, agent):
    form = client.get(f"/c/{cause.slug}/pages/new")
    assert form.status_code == 200
    assert 'for="title"' in html(form) and 'for="goal"' in html(form)

    response = new_page(client, cause, title="Running for water", story="I *run* 20 km.")

    assert response.status_code == 302
    page = db.session.scalar(select(Page).where(Page.title == "Running for water"))
    assert response.headers["Location"].endswith(f"/p/{page.slug}")
    assert page.kind == PageKind.PERSONAL
    assert page.goal_minor == 500_00
    assert page.status == PageStatus.DRAFT
    assert page.owner_id == agent.id
    shown = html(client.get(f"/p/{page.slug}"))
    assert "Running for water" in shown
    assert "<em>run</em>" in shown
    assert "draft" in shown.lower()


def test_create_event_page(client, db, cause, agent):
    response = new_page(
        client,
        cause,
        kind="event",
        title="Twestival Lyon",
        city="Lyon",
        venue="Le Sucre",
        starts_at=FUTURE,
        goal="1500,50",
    )

    assert response.status_code == 302
    page = db.session.scalar(select(Page).where(Page.title == "Twestival Lyon"))
    assert page.kind == PageKind.EVENT
    assert (page.city, page.venue) == ("Lyon", "Le Sucre")
    assert page.goal_minor == 1500_50
    assert page.starts_at > datetime.now(UTC)
    shown = html(client.get(f"/p/{page.slug}"))
    assert "Le Sucre" in shown and "Lyon" in shown


def test_slug_is_suggested_from_the_title_and_stays_unique(client, db, cause, agent):
    new_page(client, cause, title="Nuit de l'Eau à Lyon", slug="")
    new_page(client, cause, title="Nuit de l'Eau à Lyon", slug="")

    slugs = set(db.session.scalars(select(Page.slug).where(Page.title == "Nuit de l'Eau à Lyon")))
    assert slugs == {"nuit-de-l-eau-a-lyon", "nuit-de-l-eau-a-lyon-2"}


def test_refused_form_suggests_a_slug_and_keeps_values(client, db, cause, agent):
    response = new_page(client, cause, title="Swim across", slug="", goal="abc")

    assert response.status_code == 422
    assert 'value="swim-across"' in html(response)
    assert 'value="Swim across"' in html(response)


def test_duplicate_slug_is_refused(client, db, cause, agent):
    PageFactory(cause=cause, slug="taken")
    saved(db)
    before = page_count(db)

    response = new_page(client, cause, title="Mine", slug="taken")

    assert response.status_code == 422
    assert "already taken" in html(response)
    assert 'aria-describedby="slug-hint slug-error"' in html(response)
    assert page_count(db) == before


@pytest.mark.parametrize("goal", ["-5", "abc", "1e400", "5.555", "NaN", "sNaN", "Infinity"])
def test_bad_goal_is_refused(client, db, cause, agent, goal):
    before = page_count(db)

    response = new_page(client, cause, title="Bad goal", goal=goal)

    assert response.status_code == 422
    body = html(response)
    assert 'id="goal-error"' in body
    assert "Enter the goal as a whole amount" in body
    assert f'value="{goal}"' in body
    assert page_count(db) == before


def test_script_in_story_is_made_harmless(client, db, cause, agent):
    story = (
        "Hi <script>alert('x')</script> [click](javascript:alert(1)) <img src=x onerror=alert(2)>"
    )
    new_page(client, cause, title="Sneaky", story=story)
    page = db.session.scalar(select(Page).where(Page.title == "Sneaky"))

    body = html(client.get(f"/p/{page.slug}"))

    assert "<script>alert" not in body
    assert "&lt;script&gt;" in body  # shown as text
    assert 'href="javascript' not in body
    assert "<img src=x" not in body


def test_event_in_the_past_is_refused(client, db, cause, agent):
    before = page_count(db)
    past = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT19:00")

    response = new_page(
        client, cause, kind="event", title="Too late", city="Nantes", starts_at=past
    )

    assert response.status_code == 422
    assert "must be in the future" in html(response)
    assert page_count(db) == before


def test_event_needs_a_city(client, db, cause, agent):
    response = new_page(client, cause, kind="event", title="Nowhere", city="", starts_at=FUTURE)

    assert response.status_code == 422
    assert 'id="city-error"' in html(response)


# --- photos ------------------------------------------------------------------------


def test_photo_is_resized_and_served_as_jpeg(client, db, cause, agent):
    response = new_page(
        client, cause, title="With photo", photo=(io.BytesIO(png_bytes((2400, 1200))), "me.png")
    )
    assert response.status_code == 302
    page = db.session.scalar(select(Page).where(Page.title == "With photo"))
    assert page.photo

    shown = html(client.get(f"/p/{page.slug}"))
    assert f"/media/{page.photo}" in shown
    assert 'alt="Photo for With photo"' in shown
    media = client.get(f"/media/{page.photo}")
    assert media.status_code == 200
    assert media.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(media.data))
    assert image.format == "JPEG"
    assert image.size == (1200, 600)


def test_photo_loses_its_exif(client, db, cause, agent):
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 0.0)}  # GPS
    out = io.BytesIO()
    Image.new("RGB", (50, 50), "blue").save(out, "JPEG", exif=exif)
    assert b"SpyCam" in out.getvalue()

    new_page(client, cause, title="Private photo", photo=(io.BytesIO(out.getvalue()), "a.jpg"))
    page = db.session.scalar(select(Page).where(Page.title == "Private photo"))

    data = client.get(f"/media/{page.photo}").data
    assert b"SpyCam" not in data
    assert not Image.open(io.BytesIO(data)).getexif()


@pytest.mark.parametrize(
    "content, name",
    [
        (b"<?php echo 'hi'; ?>", "evil.png"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "anim.gif"),
        (png_bytes()[:60], "broken.png"),
    ],
)
def test_non_image_upload_is_refused(client, db, cause, agent, content, name):
    before = page_count(db)

    response = new_page(client, cause, title="Fake photo", photo=(io.BytesIO(content), name))

    assert response.status_code == 422
    assert 'id="photo-error"' in html(response)
    assert page_count(db) == before


def test_oversized_photo_is_refused(app, client, db, cause, agent, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 2000)
    big = png_bytes((200, 200), noise=True)
    assert len(big) > 2000
    before = page_count(db)

    response = new_page(client, cause, title="Huge", photo=(io.BytesIO(big), "big.png"))

    assert response.status_code == 422
    assert "too large" in html(response)
    assert page_count(db) == before


def test_media_refuses_other_paths(client):
    assert client.get("/media/..%2Fconfig.py").status_code == 404
    assert client.get("/media/nothing.jpg").status_code == 404


# --- visibility and publishing ------------------------------------------------------


def test_draft_is_visible_to_its_owner_only(client, db, login_as):
    page = PageFactory(status=PageStatus.DRAFT, title="Secret draft")
    stranger = AgentFactory()
    saved(db)

    assert client.get(f"/p/{page.slug}").status_code == 404
    login_as(stranger)
    assert client.get(f"/p/{page.slug}").status_code == 404
    login_as(page.owner)
    response = client.get(f"/p/{page.slug}")
    assert response.status_code == 200
    assert "Secret draft" in html(response)


def test_publish(client, db, login_as):
    page = PageFactory(status=PageStatus.DRAFT)
    saved(db)
    login_as(page.owner)

    response = client.post(f"/p/{page.slug}/publish")

    assert response.status_code == 302
    assert page.status == PageStatus.PUBLISHED
    assert "published" in html(client.get(f"/p/{page.slug}", follow_redirects=True)).lower()
    login_as(AgentFactory())
    assert client.get(f"/p/{page.slug}").status_code == 200


def test_publishing_someone_elses_page_is_forbidden(client, db, login_as):
    page = PageFactory(status=PageStatus.DRAFT)
    login_as(AgentFactory())
    saved(db)

    assert client.post(f"/p/{page.slug}/publish").status_code == 403
    assert page.status == PageStatus.DRAFT


def test_hidden_page_is_404_for_the_public_but_owner_sees_the_reason(client, db, login_as):
    page = PageFactory(status=PageStatus.HIDDEN, hidden_reason="Links to a betting site.")
    saved(db)

    assert client.get(f"/p/{page.slug}").status_code == 404
    cause_page = html(client.get(f"/c/{page.cause.slug}"))
    assert page.title not in cause_page

    login_as(page.owner)
    response = client.get(f"/p/{page.slug}")
    assert response.status_code == 200
    assert "hidden from the public" in html(response)
    assert "Links to a betting site." in html(response)


def test_a_page_of_a_draft_cause_is_404_for_the_public_on_the_web_as_in_the_api(
    client, db, login_as
):
    # One rule for who sees a page: a published page of a cause not yet public
    # is its editors' and the staff's, not everyone's.
    page = PageFactory(status=PageStatus.PUBLISHED)
    page.cause.status = CauseStatus.DRAFT
    saved(db)

    assert client.get(f"/p/{page.slug}").status_code == 404
    assert client.get(f"/api/v1/pages/{page.slug}").status_code == 404
    login_as(page.owner)
    assert client.get(f"/p/{page.slug}").status_code == 200


def test_deleted_owner_shows_as_former_supporter(client, db):
    page = PageFactory(title="Old page")
    page.owner.deleted_at = datetime.now(UTC)
    page.owner.email = None
    page.owner.name = ""
    saved(db)

    body = html(client.get(f"/p/{page.slug}"))

    assert "A former supporter" in body


def test_share_links_need_no_keys(client, db):
    page = PageFactory(slug="run-for-water", title="L'eau & nous")
    saved(db)

    body = html(client.get(f"/p/{page.slug}"))

    assert "https://twitter.com/intent/tweet?text=" in body
    assert (
        "url=http%3A//localhost/p/run-for-water" in body or "localhost%2Fp%2Frun-for-water" in body
    )
    assert "L%27eau%20%26%20nous" in body  # the title itself, not its HTML escape
    assert "%26%2339%3B" not in body
    assert "https://www.facebook.com/sharer/sharer.php?u=" in body
    assert "mailto:?subject=" in body
    assert "data-copy" in body


# --- editing ------------------------------------------------------------------------


def test_owner_edits_page(client, db, login_as):
    page = PageFactory(title="Before", goal_minor=100_00)
    saved(db)
    login_as(page.owner)

    form = html(client.get(f"/p/{page.slug}/edit"))
    assert 'value="Before"' in form and 'value="100"' in form
    response = client.post(
        f"/p/{page.slug}/edit",
        data={"title": "After", "slug": page.slug, "goal": "250", "story": "New story"},
    )

    assert response.status_code == 302
    assert (page.title, page.goal_minor, page.story) == ("After", 250_00, "New story")


def test_editing_someone_elses_page_is_forbidden(client, db, login_as):
    page = PageFactory(title="Not yours")
    login_as(AgentFactory())
    saved(db)

    assert client.get(f"/p/{page.slug}/edit").status_code == 403
    response = client.post(f"/p/{page.slug}/edit", data={"title": "Mine now", "goal": "1"})

    assert response.status_code == 403
    db.session.expire_all()
    assert page.title == "Not yours"


def test_edit_with_errors_changes_nothing(client, db, login_as):
    page = PageFactory(title="Stable", goal_minor=100_00)
    saved(db)
    login_as(page.owner)

    response = client.post(
        f"/p/{page.slug}/edit", data={"title": "Changed", "slug": page.slug, "goal": "-5"}
    )

    assert response.status_code == 422
    db.session.expire_all()
    assert (page.title, page.goal_minor) == ("Stable", 100_00)


# --- events: join, leave, close ----------------------------------------------------


def test_join_and_leave_an_event(client, db, login_as):
    event = EventPageFactory(title="Twestival Lille", city="Lille")
    mine = PageFactory(cause=event.cause, title="My swim")
    saved(db)
    login_as(mine.owner)

    shown = html(client.get(f"/p/{event.slug}"))
    assert "Join this event" in shown
    assert f'value="{mine.slug}"' in shown

    response = client.post(f"/p/{event.slug}/join", data={"page": mine.slug})
    assert response.status_code == 302
    assert mine.parent_id == event.id
    assert f'href="/p/{mine.slug}">My swim</a>' in html(client.get(f"/p/{event.slug}"))

    response = client.post(f"/p/{mine.slug}/leave")
    assert response.status_code == 302
    assert mine.parent_id is None
    assert f'href="/p/{mine.slug}"' not in html(client.get(f"/p/{event.slug}"))


def test_cannot_join_with_someone_elses_page(client, db, login_as):
    event = EventPageFactory()
    theirs = PageFactory(cause=event.cause)
    login_as(AgentFactory())
    saved(db)

    response = client.post(f"/p/{event.slug}/join", data={"page": theirs.slug})

    assert response.status_code == 422
    assert theirs.parent_id is None


def test_event_total_includes_member_pages(client, db):
    event = EventPageFactory(title="Twestival Nice")
    member = PageFactory(cause=event.cause, parent=event, title="Member page")
    services.record_gift(page=event, cause=event.cause, amount_minor=10_00, donor_email="a@x.org")
    services.record_gift(page=member, cause=event.cause, amount_minor=25_00, donor_email="b@x.org")
    saved(db)

    body = html(client.get(f"/p/{event.slug}"))

    assert euros(35_00) in body  # the event's total
    assert euros(25_00) in body  # the member's line
    assert "Member page" in body


def test_close_event_keeps_totals_and_stops_joining(client, db, login_as):
    event = EventPageFactory(title="Twestival Brest")
    services.record_gift(page=event, cause=event.cause, amount_minor=42_00, donor_email="c@x.org")
    joiner = AgentFactory()
    mine = PageFactory(cause=event.cause, owner=joiner)
    saved(db)
    login_as(event.owner)

    confirm = client.get(f"/p/{event.slug}/close")
    assert confirm.status_code == 200
    assert "Yes, close this page" in html(confirm)
    assert event.status == PageStatus.PUBLISHED

    response = client.post(f"/p/{event.slug}/close")
    assert response.status_code == 302
    assert event.status == PageStatus.CLOSED

    login_as(joiner)
    body = html(client.get(f"/p/{event.slug}"))
    assert "This page is closed." in body
    assert "Join this event" not in body
    assert euros(42_00) in body
    assert "Twestival Brest" in html(client.get(f"/c/{event.cause.slug}"))

    response = client.post(f"/p/{event.slug}/join", data={"page": mine.slug})
    assert response.status_code == 422
    assert "not open" in html(response)
    assert mine.parent_id is None


# --- co-hosts -------------------------------------------------------------------------


def test_cohost_invitation_by_email_lets_the_invitee_edit(
    client, db, login_as, mailbox, deliver_outbox
):
    event = EventPageFactory(title="Twestival Rennes")
    invitee = AgentFactory(email="cohost@example.org")
    saved(db)
    login_as(event.owner)

    response = client.post(f"/p/{event.slug}/cohosts", data={"email": "cohost@example.org"})

    assert response.status_code == 302
    assert "cohost@example.org" in html(client.get(f"/p/{event.slug}/cohosts"))
    assert mailbox.messages == []  # an outbox row of the invitation's unit of work
    assert deliver_outbox() == {"sent": 1}
    assert len(mailbox.messages) == 1
    sent = mailbox.messages[0]
    assert sent["to"] == ["cohost@example.org"]
    body = sent["message"].get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://\S+/invites/\S+", body).group(0)

    login_as(invitee)
    assert client.get(f"/p/{event.slug}/edit").status_code == 403
    path = link.split("localhost", 1)[1]
    assert "Accept the invitation" in html(client.get(path))
    response = client.post(path)
    assert response.status_code == 302
    assert db.session.scalar(
        select(PageHost).where(PageHost.page_id == event.id, PageHost.agent_id == invitee.id)
    )

    response = client.post(
        f"/p/{event.slug}/edit",
        data={
            "title": "Twestival Rennes 2026",
            "slug": event.slug,
            "goal": "800",
            "city": "Rennes",
            "venue": "L'Ubu",
        },
    )
    assert response.status_code == 302
    assert event.title == "Twestival Rennes 2026"
    assert client.post(path).status_code == 404  # a link works once


def test_invalid_cohost_email_is_refused(client, db, login_as, mailbox, deliver_outbox):
    event = EventPageFactory()
    saved(db)
    login_as(event.owner)

    response = client.post(f"/p/{event.slug}/cohosts", data={"email": "not-an-email"})

    assert response.status_code == 422
    assert 'id="email-error"' in html(response)
    deliver_outbox()
    assert mailbox.messages == []


def test_strangers_cannot_invite_cohosts(client, db, login_as, mailbox, deliver_outbox):
    event = EventPageFactory()
    login_as(AgentFactory())
    saved(db)

    assert (
        client.post(f"/p/{event.slug}/cohosts", data={"email": "x@example.org"}).status_code == 403
    )
    deliver_outbox()
    assert mailbox.messages == []


# --- cause and home --------------------------------------------------------------------


def test_cause_page_groups_events_by_city(client, db, cause):
    EventPageFactory(cause=cause, title="Lyon Croix-Rousse", city="Lyon")
    EventPageFactory(cause=cause, title="Paris Belleville", city="Paris")
    EventPageFactory(cause=cause, title="Lyon Confluence", city="Lyon")
    EventPageFactory(
        cause=cause, title="Marseille draft", city="Marseille", status=PageStatus.DRAFT
    )
    EventPageFactory(cause=cause, title="Hidden night", city="Nantes", status=PageStatus.HIDDEN)
    saved(db)

    body = html(client.get(f"/c/{cause.slug}"))

    lyon, paris = body.index(">Lyon</h3>"), body.index(">Paris</h3>")
    assert lyon < body.index("Lyon Croix-Rousse") < paris
    assert lyon < body.index("Lyon Confluence") < paris
    assert paris < body.index("Paris Belleville")
    assert body.count(">Lyon</h3>") == 1
    assert "Marseille" not in body and "Hidden night" not in body
    assert "Start a page" in body


def test_cause_page_shows_total_goal_and_top_pages(client, db, cause):
    small = PageFactory(cause=cause, title="Small page")
    big = PageFactory(cause=cause, title="Big page")
    PageFactory(cause=cause, title="Unpublished page", status=PageStatus.DRAFT)
    saved(db)
    services.record_gift(page=small, cause=cause, amount_minor=5_00, donor_email="a@x.org")
    services.record_gift(page=big, cause=cause, amount_minor=70_00, donor_email="b@x.org")

    body = html(client.get(f"/c/{cause.slug}"))

    assert cause.title in body and cause.organisation.name in body
    assert euros(75_00) in body and euros(cause.goal_minor) in body
    assert "2 donations" in body
    assert "<progress" in body
    assert body.index("Big page") < body.index("Small page")
    assert "Unpublished page" not in body

    home = html(client.get("/"))
    assert cause.title in home and euros(75_00) in home


def test_unknown_slugs_are_404(client, db):
    assert client.get("/c/nope").status_code == 404
    assert client.get("/p/nope").status_code == 404


def test_staff_link_only_for_staff(client, db, login_as):
    staff = MembershipFactory().agent
    someone = AgentFactory()
    saved(db)

    login_as(someone)
    assert 'href="/staff/"' not in html(client.get("/"))
    login_as(staff)
    assert 'href="/staff/"' in html(client.get("/"))


def test_visitors_are_asked_to_log_in_to_join(client, db):
    event = EventPageFactory()
    saved(db)

    body = html(client.get(f"/p/{event.slug}"))

    assert "Log in to join this event" in body
    assert client.post(f"/p/{event.slug}/join", data={"page": "x"}).status_code in (302, 401)


def test_past_event_stays_editable_when_its_date_is_unchanged(client, db, login_as):
    event = EventPageFactory(starts_at=datetime.now(UTC) - timedelta(days=3), title="Last week")
    saved(db)
    login_as(event.owner)
    form = html(client.get(f"/p/{event.slug}/edit"))
    starts = re.search(
        r'name="starts_at"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="starts_at"', form
    )
    value = starts.group(1) or starts.group(2)

    response = client.post(
        f"/p/{event.slug}/edit",
        data={
            "title": "Last week, thanks!",
            "slug": event.slug,
            "goal": "10",
            "city": "Lyon",
            "starts_at": value,
        },
    )

    assert response.status_code == 302
    assert event.title == "Last week, thanks!"


def test_closing_someone_elses_page_is_forbidden(client, db, login_as):
    page = PageFactory()
    login_as(AgentFactory())
    saved(db)

    assert client.get(f"/p/{page.slug}/close").status_code == 403
    assert client.post(f"/p/{page.slug}/close").status_code == 403
    db.session.expire_all()
    assert page.status == PageStatus.PUBLISHED


def test_unknown_invitation_is_404(client, db, agent):
    assert client.get("/invites/not-a-token").status_code == 404
    assert client.post("/invites/not-a-token").status_code == 404


def test_the_figure_and_a_give_button_come_first_on_a_phone(client, db, page):
    """The side column (figures, give form) follows the story on a phone: a
    strip under the title carries the figure and a Give link to the form."""
    db.session.commit()
    body = client.get(f"/p/{page.slug}").get_data(as_text=True)
    strip = body.index('class="give-strip"')
    assert strip < body.index('class="page-grid"')
    assert 'href="#give"' in body[strip : body.index("</div>", strip)]
    assert body.index('id="give"') > strip
