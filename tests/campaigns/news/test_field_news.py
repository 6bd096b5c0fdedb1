"""Field news: hosts and staff post dated updates on a page or a project; the
donors who gave to it and asked for news get each one once by email, with an
unsubscribe link; the page and the project list them newest first; open data
lists them without donor data."""

from __future__ import annotations

import io
import re
import uuid

from PIL import Image
from sqlalchemy import func, select

from campaigns.audit import AuditEntry
from campaigns.giving import ledger
from campaigns.giving.models import PendingGift
from campaigns.news import services as news
from campaigns.news.models import FieldUpdate, NewsConsent
from campaigns.pages.models import PageStatus
from messaging.outbox.models import OutboxMessage
from tests.factories import AgentFactory, MembershipFactory, PageFactory, ProjectFactory, refund_row


def png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 120, 200)).save(out, format="PNG")
    out.seek(0)
    return out


def gift(cause, email, *, page=None, project=None, agreed=None, locale="en", amount=20_00):
    """A paid card gift from ``email`` (through a pending gift, as the give form
    makes one), with the donor's answer to "send me news" when given."""
    pending = PendingGift(
        reference=uuid.uuid4().hex,
        organisation_id=cause.organisation_id,
        cause_id=cause.id,
        page_id=page.id if page else None,
        project_id=project.id if project else None,
        amount_minor=amount,
        currency="EUR",
        donor_email=email,
        locale=locale,
    )
    from extensions import db

    db.session.add(pending)
    db.session.flush()
    if agreed is not None:
        news.set_consent(pending, agreed)
    row = ledger.record_gift(
        page=page,
        cause=cause,
        project=project,
        amount_minor=amount,
        donor_email=email,
        extra={"pending_gift_id": pending.id},
    )
    return pending, row


def mails(db, trigger="field_news"):
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.trigger == trigger).order_by(OutboxMessage.id)
    ).all()


def test_a_host_posts_news_and_only_donors_who_asked_receive_it_once(
    client, db, cause, page, as_agent, mailbox, deliver_outbox
):
    gift(cause, "Yes@Example.org", page=page, agreed=True)
    gift(cause, "yes@example.org", page=page, agreed=True)  # twice: one mail
    gift(cause, "no@example.org", page=page, agreed=False)
    gift(cause, "silent@example.org", page=page)  # never answered
    _p, refunded = gift(cause, "refunded@example.org", page=page, agreed=True)
    refund_row(refunded, refunded.amount_minor, refunded.created_at)
    gift(cause, "elsewhere@example.org", page=PageFactory(cause=cause), agreed=True)
    as_agent(page.owner)

    response = client.post(
        f"/p/{page.slug}/news/new",
        data={
            "title": "The first well",
            "body": "It gives water.\n\nThank you!",
            "photo": (png(), "well.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/p/{page.slug}#field-news")
    update = db.session.scalars(select(FieldUpdate)).one()
    assert update.page_id == page.id and update.photo and update.mailed_at is not None

    queued = mails(db)
    assert [m.recipient for m in queued] == ["yes@example.org"]
    assert not queued[0].is_transactional and queued[0].agent_id is None
    # Posting the same update again mails nobody twice.
    assert news.mail_once(update) == 0
    update.mailed_at = None
    news.mail_once(update)
    assert len(mails(db)) == 1

    assert deliver_outbox()["sent"] == 1
    received = mailbox.messages[0]
    assert received["to"] == ["yes@example.org"]
    msg = received["message"]
    assert msg["Subject"] == "News from the field: The first well"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "It gives water." in text and f"/p/{page.slug}#news-{update.id}" in text
    assert "you gave to Eau Vive and asked for its news" in text
    links = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
    assert "/u/a/" in links[0] and links[0] in text
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    shown = client.get(f"/p/{page.slug}").get_data(as_text=True)
    assert "News from the field" in shown and "The first well" in shown
    assert f"/media/{update.photo}" in shown


def test_the_unsubscribe_link_stops_the_next_news(
    client, db, cause, page, as_agent, mailbox, deliver_outbox
):
    gift(cause, "ada@example.org", page=page, agreed=True)
    news.post(page.owner, {"title": "One", "body": "First news."}, page=page)
    deliver_outbox()
    url = re.findall(r"<([^>]+)>", mailbox.messages[0]["message"]["List-Unsubscribe"])[0]
    path = url.removeprefix("http://localhost")
    assert "Stop the emails" in client.get(path).get_data(as_text=True)
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200  # twice
    assert client.get(path.replace("/u/a/", "/u/a/x")).status_code == 404  # forged

    news.post(page.owner, {"title": "Two", "body": "Second news."}, page=page)
    assert [m.subject for m in mails(db)] == ["News from the field: One"]  # not queued
    # A row queued before the donor opted out is skipped at delivery.
    news.post(page.owner, {"title": "Three", "body": "Third news."}, page=page)
    row = OutboxMessage(
        dedupe_key="queued-before",
        organisation_id=cause.organisation_id,
        channel="email",
        recipient="ada@example.org",
        subject="Old news",
        body_text="…",
        trigger="field_news",
    )
    db.session.add(row)
    mailbox.clear()
    assert deliver_outbox().get("skipped") == 1
    assert mailbox.messages == []


def test_an_opted_out_agent_with_the_donors_address_gets_no_news(
    db, cause, page, mailbox, deliver_outbox
):
    from messaging.preferences.models import MessagingPreference

    agent = AgentFactory(email="camille@example.org")
    db.session.add(MessagingPreference(agent_id=agent.id, is_email_opted_out=True))
    gift(cause, "camille@example.org", page=page, agreed=True)
    news.post(page.owner, {"title": "One", "body": "News."}, page=page)
    counts = deliver_outbox()
    assert counts.get("skipped") == 1 and mailbox.messages == []


def test_the_donor_says_yes_or_no_on_the_thank_you_page(client, db, cause, page):
    pending, _row = gift(cause, "ada@example.org", page=page)
    db.session.commit()
    client.get("/lang/en")
    thanks = client.get(f"/give/{pending.reference}/thanks").get_data(as_text=True)
    assert "Send me news from the field about what my gift does" in thanks
    assert "checked" not in thanks.split("news-consent")[1]

    done = client.post(f"/give/{pending.reference}/news", data={"is_agreed": "y"})
    assert done.status_code == 303 and done.headers["Location"].endswith("#news-consent")
    assert db.session.get(NewsConsent, pending.id).is_agreed
    again = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "you will get news from the field" in again
    assert "checked" in again.split('id="news-consent"')[1]

    client.post(f"/give/{pending.reference}/news", data={})
    db.session.expire_all()
    assert not db.session.get(NewsConsent, pending.id).is_agreed
    assert client.post(f"/give/{'0' * 32}/news", data={"is_agreed": "y"}).status_code == 404


def test_staff_post_on_a_project_for_its_donors(client, db, cause, staffer, as_agent):
    project = ProjectFactory(cause=cause, slug="wells", name="Wells")
    gift(cause, "wells@example.org", project=project, agreed=True, locale="fr")
    gift(cause, "cause@example.org", agreed=True)  # to the cause, not the project
    as_agent(staffer)
    url = f"/c/{cause.slug}/projects/wells/news/new"
    assert "Post and send the news" in client.get(url).get_data(as_text=True)
    response = client.post(url, data={"title": "Kati", "body": "Digging started."})
    assert response.status_code == 302
    queued = mails(db)
    assert [m.recipient for m in queued] == ["wells@example.org"]
    assert queued[0].subject == "Nouvelles du terrain : Kati"  # the donor's language
    shown = client.get(f"/c/{cause.slug}/projects/wells").get_data(as_text=True)
    assert "Digging started." in shown


def test_who_may_post_change_and_delete(client, db, cause, page, as_agent):
    ProjectFactory(cause=cause, slug="wells")
    staffer = MembershipFactory(organisation=cause.organisation).agent
    stranger = AgentFactory()
    db.session.commit()
    as_agent(stranger)
    assert client.get(f"/p/{page.slug}/news/new").status_code == 403
    assert (
        client.post(f"/p/{page.slug}/news/new", data={"title": "x", "body": "y"}).status_code == 403
    )
    assert client.get(f"/c/{cause.slug}/projects/wells/news/new").status_code == 403
    assert "Post news from the field" not in client.get(f"/p/{page.slug}").get_data(as_text=True)

    as_agent(page.owner)
    assert "Post news from the field" in client.get(f"/p/{page.slug}").get_data(as_text=True)
    assert client.get(f"/c/{cause.slug}/projects/wells/news/new").status_code == 403
    client.post(f"/p/{page.slug}/news/new", data={"title": "Mine", "body": "Words."})
    update = db.session.scalars(select(FieldUpdate)).one()

    as_agent(stranger)
    assert client.get(f"/news/{update.id}/edit").status_code == 403
    assert client.post(f"/news/{update.id}/delete").status_code == 403

    as_agent(page.owner)
    edited = client.post(f"/news/{update.id}/edit", data={"title": "Mine, better", "body": "W."})
    assert edited.status_code == 302
    db.session.refresh(update)
    assert update.title == "Mine, better"
    assert len(mails(db)) == 0  # no donor asked; an edit mails nothing either way

    as_agent(staffer)
    assert client.post(f"/news/{update.id}/delete").status_code == 302
    assert db.session.scalar(select(func.count(FieldUpdate.id))) == 0
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.action == "field_update.delete"


def test_bad_news_is_refused_with_a_message_and_saves_nothing(client, db, cause, page, as_agent):
    as_agent(page.owner)
    for data, message in (
        ({"title": "", "body": "Words."}, "Give the news a title."),
        ({"title": "T", "body": "  "}, "Write what happened in the field."),
        ({"title": "T" * 121, "body": "Words."}, "Keep this under 120 characters."),
        (
            {"title": "T", "body": "Words.", "photo": (io.BytesIO(b"not a photo"), "x.png")},
            "This file is not a photo we can read",
        ),
    ):
        response = client.post(
            f"/p/{page.slug}/news/new", data=data, content_type="multipart/form-data"
        )
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(FieldUpdate.id))) == 0

    draft = PageFactory(cause=cause, owner=page.owner, status=PageStatus.DRAFT)
    db.session.commit()
    response = client.post(f"/p/{draft.slug}/news/new", data={"title": "T", "body": "B"})
    assert response.status_code == 422
    assert "Publish the page before posting news" in response.get_data(as_text=True)


def test_a_few_updates_a_day_at_most(db, page):
    for n in range(news.PER_DAY):
        news.post(page.owner, {"title": f"N{n}", "body": "B"}, page=page)
    try:
        news.post(page.owner, {"title": "One too many", "body": "B"}, page=page)
    except news.ValidationError as exc:
        assert exc.errors["title"].startswith(f"{news.PER_DAY} ")
    else:
        raise AssertionError("a fourth update in a day was taken")


def test_the_page_lists_news_newest_first_and_open_data_has_no_donor_data(client, db, cause, page):
    gift(cause, "ada@example.org", page=page, agreed=True)
    older = news.post(page.owner, {"title": "Older", "body": "B1"}, page=page)
    older.posted_at = older.posted_at.replace(year=older.posted_at.year - 1)
    news.post(page.owner, {"title": "Newer", "body": "B2"}, page=page)
    hidden = PageFactory(cause=cause)
    news.post(hidden.owner, {"title": "Hidden page news", "body": "B3"}, page=hidden)
    hidden.status = PageStatus.HIDDEN
    db.session.commit()

    shown = client.get(f"/p/{page.slug}").get_data(as_text=True)
    assert shown.index("Newer") < shown.index("Older")

    body = client.get("/open/field_news.json").get_json()["field_news"]
    assert [r["title"] for r in body] == ["Older", "Newer"]
    assert set(body[0]) == {
        "id",
        "cause",
        "project",
        "page",
        "title",
        "body",
        "photo_url",
        "posted_at",
    }
    assert body[0]["page"] == page.slug and body[0]["project"] is None
    assert "ada@example.org" not in client.get("/open/field_news.csv").get_data(as_text=True)
    package = client.get("/open/datapackage.json").get_json()
    assert "field_news" in [r["name"] for r in package["resources"]]
