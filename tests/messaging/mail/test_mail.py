"""The "sent mail" page: on in the demo, where mail is kept instead of sent.
It reads the outbox, so a mail shows once its unit of work committed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from extensions import db as _db
from messaging.outbox.models import OutboxMessage
from messaging.outbox.queue import queue_email
from tests.factories import PASSWORD


def send_email(**fields) -> OutboxMessage:
    message_id = queue_email(trigger="account", **fields)
    return _db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.message_id == message_id)
    ).one()


@pytest.fixture
def demo(app, monkeypatch):
    """Demo settings: the page is on and no SMTP server is configured."""
    monkeypatch.setitem(app.config, "SHOW_SENT_MAIL", True)
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    return app


def test_lists_kept_mail_newest_first_and_shows_one(client, db, demo):
    older = send_email(to="a@example.org", subject="Older mail", text="first")
    older.created_at = datetime.now(UTC) - timedelta(hours=1)
    newer = send_email(
        to="b@example.org",
        subject="Newer mail",
        text="Open http://localhost/account/confirm/abc. Thanks",
        html='<p>Hi <script>alert(1)</script><a href="http://localhost/x">go</a></p>',
    )
    db.session.flush()

    html = client.get("/mail").get_data(as_text=True)
    assert html.index("Newer mail") < html.index("Older mail")
    assert f'href="/mail/{newer.id}"' in html

    response = client.get(f"/mail/{newer.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "b@example.org" in html
    # The text's link is clickable, without the sentence's full stop.
    assert '<a href="http://localhost/account/confirm/abc">' in html
    # The HTML body is only inside an empty sandbox, escaped into srcdoc.
    iframe = re.search(r"<iframe[^>]*>", html).group(0)
    assert 'sandbox=""' in iframe
    assert "srcdoc=" in iframe
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in iframe


def test_unknown_mail_is_404(client, db, demo):
    assert client.get("/mail/999999").status_code == 404


def test_off_outside_the_demo(client, db, app, monkeypatch):
    mail = send_email(to="a@example.org", subject="Secret link", text="x")
    db.session.flush()
    monkeypatch.setitem(app.config, "SHOW_SENT_MAIL", False)
    assert client.get("/mail").status_code == 404
    response = client.get(f"/mail/{mail.id}")
    assert response.status_code == 404
    assert "Secret link" not in response.get_data(as_text=True)


def test_demo_user_confirms_their_account_from_the_sent_mail_page(client, db, demo, mailbox):
    client.post(
        "/account/register",
        data={
            "name": "Camille",
            "email": "camille@example.org",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert mailbox.messages == []  # queued in the unit of work; no worker ran
    listing = client.get("/mail").get_data(as_text=True)
    mail_path = re.search(r'href="(/mail/\d+)"', listing).group(1)
    detail = client.get(mail_path).get_data(as_text=True)
    link = re.search(r'<a href="http://localhost(/account/confirm/[^"]+)"', detail).group(1)

    response = client.get(link)
    assert response.status_code == 302
    assert client.get("/me").status_code == 200


def test_the_sent_mail_page_lists_only_email(client, db, demo, org):
    from messaging.outbox.queue import enqueue

    enqueue(
        [{"dedupe_key": "x:1", "organisation_id": org.id, "channel": "x", "body_text": "A post"}]
    )
    db.session.flush()
    assert "A post" not in client.get("/mail").get_data(as_text=True)
    (post,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == "x:1"))
    assert client.get(f"/mail/{post.id}").status_code == 404
