"""One mail path: account mail, receipts and invitations are outbox rows of the
unit of work that asked for them, delivered by a worker after the commit.

A failed unit of work sends nothing; an SMTP server that is down neither fails
the request nor loses the mail, which arrives once when the server is back."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event, select, update

from agents.models import Agent
from campaigns.giving import services as giving
from campaigns.giving.checkout import completed_event
from campaigns.giving.jobs import issue_receipts
from campaigns.giving.payments import process_event
from campaigns.model_types import utcnow
from messaging.outbox.models import OutboxMessage, OutboxStatus
from messaging.preferences.models import MessagingPreference
from tests.conftest import Sink, free_port
from tests.factories import PASSWORD, AgentFactory, PageFactory

ROOT = Path(__file__).resolve().parents[3]
SIGN_UP = {
    "name": "Camille Martin",
    "email": "camille@example.org",
    "password": PASSWORD,
    "password_confirm": PASSWORD,
}


def sign_up(client):
    return client.post("/account/register", data=SIGN_UP)


def mail_rows(db, to: str) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == to)))


def make_all_due(db) -> None:
    """The retry backoff is over (what waiting would do, without a clock in the test)."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.QUEUED)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )


@pytest.fixture
def smtp_down(app, monkeypatch):
    """SMTP_URL names a loopback port where no server listens (yet)."""
    port = free_port()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
    return port


def test_a_sign_up_whose_unit_of_work_fails_sends_no_mail(
    app, client, db, mailbox, deliver_outbox, monkeypatch
):
    def fail(session):
        raise RuntimeError("the commit fails")

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    event.listen(db.session, "before_commit", fail)
    try:
        response = sign_up(client)
    finally:
        event.remove(db.session, "before_commit", fail)
    assert response.status_code == 500
    db.session.rollback()

    assert db.session.scalar(select(Agent).where(Agent.email == SIGN_UP["email"])) is None
    assert mail_rows(db, SIGN_UP["email"]) == []
    assert deliver_outbox() == {}
    assert mailbox.messages == []  # before, the confirmation had already left over SMTP


def test_sign_up_with_smtp_down_succeeds_and_queues_the_confirmation(
    client, db, smtp_down, deliver_outbox
):
    response = sign_up(client)
    assert response.status_code == 302  # before: 500, ConnectionRefusedError
    assert db.session.scalar(select(Agent).where(Agent.email == SIGN_UP["email"]))
    (row,) = mail_rows(db, SIGN_UP["email"])
    assert row.status == OutboxStatus.QUEUED and row.is_transactional
    assert row.organisation_id is None and row.trigger == "account"

    assert deliver_outbox() == {"retry": 1}
    (row,) = mail_rows(db, SIGN_UP["email"])
    assert row.status == OutboxStatus.QUEUED and row.attempts == 0  # nothing was tried
    assert "SMTP unavailable" in row.last_error


def test_smtp_started_late_gets_account_mail_and_a_receipt_exactly_once(
    app, client, db, smtp_down, deliver_outbox
):
    assert sign_up(client).status_code == 302
    page = PageFactory()
    db.session.commit()
    pending = giving.start_gift(page, {"amount": "25", "donor_email": "ada@example.org"})
    pending.stripe_checkout_session_id = f"cs_test_{pending.reference}"
    process_event(completed_event(pending))
    db.session.commit()
    issue_receipts()

    # Down for longer than OUTBOX_MAX_ATTEMPTS rounds: nothing is lost or given up.
    for _ in range(int(app.config.get("OUTBOX_MAX_ATTEMPTS") or 6) + 2):
        assert deliver_outbox() == {"retry": 2}
        make_all_due(db)

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_down)
    controller.start()
    try:
        assert deliver_outbox() == {"sent": 2}
        make_all_due(db)
        assert deliver_outbox() == {}
    finally:
        controller.stop()

    received = sorted((m["to"][0], m["message"]["Message-ID"].strip()) for m in sink.messages)
    rows = mail_rows(db, "ada@example.org") + mail_rows(db, SIGN_UP["email"])
    assert received == sorted((row.recipient, row.message_id) for row in rows)
    assert [row.attempts for row in rows] == [1, 1]
    confirmation = next(m for m in sink.messages if m["to"] == [SIGN_UP["email"]])
    body = confirmation["message"].get_body(("plain",)).get_content()
    assert re.search(r"/account/confirm/\S+", body)


def test_account_mail_reaches_an_agent_who_opted_out_and_is_in_quiet_hours(
    client, db, mailbox, deliver_outbox
):
    agent = AgentFactory()
    hour = utcnow().hour
    db.session.add(
        MessagingPreference(
            agent_id=agent.id,
            is_email_opted_out=True,
            quiet_start_hour=hour,
            quiet_end_hour=(hour + 2) % 24,
            timezone="UTC",
        )
    )
    db.session.commit()
    client.post("/account/reset", data={"email": agent.email})

    # Opt-outs and quiet hours are about news; a reset link was asked for now.
    assert deliver_outbox() == {"sent": 1}
    (received,) = mailbox.messages
    assert received["to"] == [agent.email]
    body = received["message"].get_body(("plain",)).get_content()
    assert "/account/reset/" in body
    assert "To stop these emails" not in body
    assert received["message"]["List-Unsubscribe"] is None


def test_only_the_outbox_mail_channel_talks_smtp():
    allowed = ROOT / "messaging/outbox/channels.py"
    sources = [ROOT / "app.py", ROOT / "extensions.py"]
    for package in ("agents", "campaigns", "messaging"):
        sources += sorted((ROOT / package).rglob("*.py"))
    talking = [
        str(path.relative_to(ROOT))
        for path in sources
        if re.search(r"^\s*(import|from)\s+smtplib\b", path.read_text(), re.MULTILINE)
    ]
    assert talking == [str(allowed.relative_to(ROOT))]
