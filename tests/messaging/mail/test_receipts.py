"""Receipt mail: an outbox row written in the receipts job's transaction,
localised for the donor, delivered after commit to a real SMTP server, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from campaigns.giving import ledger as services
from campaigns.giving import receipts as receipts_service
from campaigns.giving import services as giving
from campaigns.giving.checkout import completed_event
from campaigns.giving.jobs import issue_receipts
from campaigns.giving.models import DonationKind
from campaigns.giving.payments import process_event
from campaigns.model_types import utcnow
from campaigns.offline.models import OfflineGift
from messaging.outbox.models import OutboxMessage
from messaging.scheduling.scheduler import JOBS
from tests.conftest import free_port
from tests.factories import CauseFactory, OrganisationFactory, PageFactory


@pytest.fixture
def page(db):
    org = OrganisationFactory(
        name="Eau Vive",
        legal_name="Association Eau Vive",
        address="12 rue de la Source\n69001 Lyon",
        receipt_prefix="EV",
    )
    page = PageFactory(cause=CauseFactory(organisation=org), slug="camille-runs")
    db.session.commit()
    return page


def paid_gift(db, page, *, locale="fr", email="ada@example.org", amount="25"):
    """A gift paid through Checkout, recorded by the webhook code."""
    pending = giving.start_gift(
        page,
        {"amount": amount, "donor_name": "Ada Lovelace", "donor_email": email, "locale": locale},
    )
    pending.stripe_checkout_session_id = f"cs_test_{pending.reference}"
    process_event(completed_event(pending))
    db.session.commit()
    issue_receipts()  # the job that numbers gifts and queues their receipt
    return pending, giving.gift_of(pending)


def receipts(db) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.trigger == "receipt")))


def test_a_paid_gift_writes_its_receipt_in_the_donors_language(db, page, mailbox):
    _, gift = paid_gift(db, page, locale="fr")
    (mail,) = receipts(db)
    assert mail.recipient == "ada@example.org"
    assert mail.status == "queued" and mail.is_transactional
    assert mail.dedupe_key == f"receipt:{gift.id}"
    assert gift.receipt_number.startswith("EV-") and gift.receipt_number in mail.subject
    assert "vingt-cinq euros" in mail.body_text
    assert "25\u00a0€" in mail.body_text or "25\u202f€" in mail.body_text  # French format
    assert "Association Eau Vive" in mail.body_text and "69001 Lyon" in mail.body_text
    assert gift.receipt_number in mail.body_html and "vingt-cinq euros" in mail.body_html
    # Written, not sent: a worker delivers it after the commit.
    assert mailbox.messages == []


def test_english_donors_get_words_in_english(db, page):
    paid_gift(db, page, locale="en", amount="1234.50")
    (mail,) = receipts(db)
    assert "one thousand, two hundred and thirty-four euro" in mail.body_text
    assert "€1,234.50" in mail.body_text


def test_a_rolled_back_numbering_leaves_no_mail(db, page):
    pending = giving.start_gift(page, {"amount": "25", "donor_email": "ada@example.org"})
    process_event(completed_event(pending))
    assert receipts(db) == []  # nothing is written in the payment's own transaction
    with pytest.raises(RuntimeError), db.session.begin_nested():
        assert receipts_service.issue_pending() == 1
        assert len(receipts(db)) == 1
        raise RuntimeError("the receipts job's transaction fails")
    assert receipts(db) == []
    assert giving.gift_of(pending).receipt_number is None


def test_no_receipt_mail_without_an_address_or_for_seeded_gifts(db, page):
    paid_gift(db, page, email="")
    # The demo seed writes ledger rows directly: nobody to mail.
    services.record_gift(
        page=page, cause=page.cause, amount_minor=1000, donor_email="seed@example.org"
    )
    db.session.flush()
    receipts_service.issue_pending()
    assert receipts(db) == []


def test_a_confirmed_cheque_gets_a_receipt_too(db, page):
    cheque = OfflineGift(
        page_id=page.id,
        amount_minor=5000,
        currency="EUR",
        method="cheque",
        donor_name="Bea",
        donor_email="bea@example.org",
    )
    db.session.add(cheque)
    db.session.flush()
    services.record_gift(
        page=page,
        cause=page.cause,
        amount_minor=5000,
        donor_name="Bea",
        donor_email="bea@example.org",
        kind=DonationKind.OFFLINE,
        payment_method="cheque",
        extra={"offline_gift_id": cheque.id},
    )
    receipts_service.issue_pending()
    (mail,) = receipts(db)
    assert mail.recipient == "bea@example.org"
    assert "cinquante euros" in mail.body_text


def test_the_outbox_sends_each_receipt_once_over_smtp(app, db, page, mailbox, deliver_outbox):
    _, gift = paid_gift(db, page, locale="fr")
    (row,) = receipts(db)

    assert deliver_outbox() == {"sent": 1}
    (received,) = mailbox.messages
    assert received["to"] == ["ada@example.org"]
    message = received["message"]
    assert message["Message-ID"].strip() == row.message_id
    assert gift.receipt_number in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert gift.receipt_number in body
    assert "vingt-cinq euros" in body
    assert "Association Eau Vive" in body
    # A receipt is owed to the donor: no marketing footer, no unsubscribe header.
    assert "To stop these emails" not in body and message["List-Unsubscribe"] is None
    assert message.get_body(("html",)) is not None
    (row,) = receipts(db)
    assert row.status == "sent"

    # A second run finds nothing left to send, and numbering again queues nothing.
    receipts_service.issue_pending()
    assert deliver_outbox() == {}
    assert len(mailbox.messages) == 1


def test_a_failed_delivery_is_retried_with_the_same_message_id(
    app, db, page, mailbox, monkeypatch, deliver_outbox
):
    paid_gift(db, page)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody there
    assert deliver_outbox() == {"retry": 1}
    (row,) = receipts(db)
    assert row.status == "queued" and row.attempts == 0 and "SMTP unavailable" in row.last_error

    monkeypatch.undo()
    row.next_attempt_at = utcnow() - timedelta(seconds=1)  # its backoff is over
    assert deliver_outbox() == {"sent": 1}
    (received,) = mailbox.messages
    assert received["message"]["Message-ID"].strip() == row.message_id


def test_without_smtp_mail_stays_on_the_sent_mail_page(
    app, db, client, page, mailbox, monkeypatch, deliver_outbox
):
    paid_gift(db, page)
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    monkeypatch.setitem(app.config, "SHOW_SENT_MAIL", True)
    assert deliver_outbox() == {"sent": 1}  # kept: nothing to hand it to
    assert mailbox.messages == []
    (row,) = receipts(db)
    assert row.subject in client.get("/mail").get_data(as_text=True)


def test_receipts_are_numbered_and_delivered_within_a_minute():
    jobs = {j.id: j for j in JOBS}
    assert jobs["issue-receipts"].func == "campaigns.giving.jobs:issue_receipts"
    assert jobs["deliver-outbox"].func == "messaging.outbox.delivery:deliver_due"
    assert jobs["issue-receipts"].seconds + jobs["deliver-outbox"].seconds <= 60
    assert "deliver-pending-mail" not in jobs  # receipts go through the outbox
