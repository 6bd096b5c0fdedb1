"""The outbox: enqueue once, claim, deliver email over a real SMTP server on
loopback, retries with backoff, dead letters, opt-out, quiet hours, leases."""

from __future__ import annotations

import re
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from messaging.outbox import delivery as outbox
from messaging.outbox.delivery import Outcome, deliver, drain
from messaging.outbox.leases import claim, recover_stale
from messaging.outbox.models import OutboxMessage
from messaging.outbox.queue import enqueue
from messaging.preferences.models import MessagingPreference
from tests.conftest import free_port
from tests.factories import AgentFactory, OrganisationFactory


@pytest.fixture
def org(db):
    return OrganisationFactory(name="Eau Vive")


@pytest.fixture
def agent(db):
    return AgentFactory(email="camille@example.org", name="Camille", locale="en")


def email_row(org, agent, key="k1", **extra):
    return {
        "dedupe_key": key,
        "organisation_id": org.id,
        "agent_id": agent.id,
        "channel": "email",
        "recipient": agent.email,
        "subject": "You moved up to #3",
        "body_text": "Lyon just passed Marseille. Share your page: https://relais.example/s/abc",
        "body_html": "<html><body><p>Lyon just passed Marseille.</p></body></html>",
        **extra,
    }


def row_of(key: str) -> OutboxMessage:
    _db.session.expire_all()
    return _db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()


def send_due(worker="w1") -> list[Outcome]:
    return [deliver(id_, worker) for id_ in claim(worker, 100)]


def make_due(key: str) -> None:
    row = row_of(key)
    row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    _db.session.commit()


def test_enqueue_adds_each_dedupe_key_once(db, org, agent):
    assert enqueue([email_row(org, agent, "a"), email_row(org, agent, "b")]) == 2
    assert enqueue([email_row(org, agent, "b"), email_row(org, agent, "c")]) == 1
    assert enqueue([]) == 0
    count = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert count == 3
    assert row_of("c").status == "queued"


def test_enqueue_refuses_unknown_or_missing_columns(db, org, agent):
    with pytest.raises(ValueError, match="colour"):
        enqueue([{**email_row(org, agent), "colour": "red"}])
    with pytest.raises(ValueError, match="dedupe_key"):
        enqueue([{"organisation_id": org.id, "channel": "email"}])


def test_claim_takes_due_rows_oldest_first_once(db, org, agent):
    now = datetime.now(UTC)
    enqueue(
        [
            email_row(org, agent, "later", next_attempt_at=now + timedelta(hours=1)),
            email_row(org, agent, "second", next_attempt_at=now - timedelta(minutes=1)),
            email_row(org, agent, "first", next_attempt_at=now - timedelta(minutes=5)),
        ]
    )
    ids = claim("w1", 10)
    assert ids == [row_of("first").id, row_of("second").id]
    assert row_of("first").status == "in_flight"
    assert row_of("first").claimed_by == "w1"
    assert row_of("later").status == "queued"
    assert claim("w2", 10) == []


def test_email_is_sent_with_unsubscribe_headers_and_a_sent_mail_copy(db, org, agent, mailbox):
    enqueue([email_row(org, agent)])
    assert send_due() == [Outcome.SENT]

    assert len(mailbox.messages) == 1
    received = mailbox.messages[0]
    assert received["to"] == ["camille@example.org"]
    msg = received["message"]
    assert msg["Subject"] == "You moved up to #3"
    row = row_of("k1")
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1
    assert msg["Message-ID"].strip() == row.message_id
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
    assert links[0].startswith("http://localhost/u/")
    assert links[1].startswith("mailto:no-reply@relais.localhost")
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Lyon just passed Marseille" in text
    assert "you fundraise with Eau Vive" in text  # the agent's language (en)
    assert links[0] in text
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert f'href="{links[0]}"' in html
    assert html.index(links[0]) < html.index("</body>")


def test_without_smtp_the_demo_keeps_the_mail_on_the_sent_mail_page(
    client, db, app, org, agent, mailbox, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    monkeypatch.setitem(app.config, "SHOW_SENT_MAIL", True)
    enqueue([email_row(org, agent)])
    db.session.commit()
    # Shown once committed, before any worker ran (development runs none).
    assert "You moved up to #3" in client.get("/mail").get_data(as_text=True)
    assert send_due() == [Outcome.SENT]
    assert mailbox.messages == []
    detail = client.get(f"/mail/{row_of('k1').id}").get_data(as_text=True)
    assert "Lyon just passed Marseille" in detail and "No, kept here only" in detail


def test_message_id_is_fixed_across_a_retry(db, app, org, agent, mailbox, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # closed
    enqueue([email_row(org, agent)])
    assert send_due() == [Outcome.RETRY]
    first = row_of("k1")
    # The server was away: nothing was tried for this mail, no attempt is used up.
    assert first.status == "queued" and first.attempts == 0
    assert first.message_id  # stored before the failed attempt
    assert "SMTP unavailable" in first.last_error
    message_id = first.message_id

    monkeypatch.setitem(app.config, "SMTP_URL", mailbox.url)
    make_due("k1")
    assert send_due() == [Outcome.SENT]
    assert [m["message"]["Message-ID"].strip() for m in mailbox.messages] == [message_id]
    assert row_of("k1").attempts == 1


def test_backoff_grows_then_the_row_is_dead_with_its_error(
    db, app, org, agent, mailbox, monkeypatch
):
    async def defer(self, server, session, envelope, address, rcpt_options):
        return "451 4.3.0 try again later"

    monkeypatch.setattr(type(mailbox), "handle_RCPT", defer, raising=False)
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 4)
    monkeypatch.setitem(app.config, "OUTBOX_RETRY_BASE_SECONDS", 10)
    enqueue([email_row(org, agent)])
    delays = []
    for _ in range(3):
        before = datetime.now(UTC)
        assert send_due() == [Outcome.RETRY]
        delays.append((row_of("k1").next_attempt_at - before).total_seconds())
        make_due("k1")
    # 10·2^(n-1) plus up to 10 s of jitter.
    assert 10 <= delays[0] <= 21 and 20 <= delays[1] <= 31 and 40 <= delays[2] <= 51
    assert send_due() == [Outcome.DEAD]
    dead = row_of("k1")
    assert dead.status == "dead" and dead.attempts == 4
    assert "451 4.3.0 try again later" in dead.last_error
    assert claim("w1", 10) == []


def test_a_refused_recipient_is_dead_at_once(db, org, agent, mailbox, monkeypatch):
    async def refuse(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such user"

    monkeypatch.setattr(type(mailbox), "handle_RCPT", refuse, raising=False)
    enqueue([email_row(org, agent)])
    assert send_due() == [Outcome.DEAD]
    assert "550" in row_of("k1").last_error
    assert mailbox.messages == []


def test_unsubscribe_link_works_without_login_and_later_mail_is_skipped(
    client, db, org, agent, mailbox
):
    enqueue([email_row(org, agent, "first")])
    send_due()
    url = re.findall(r"<([^>]+)>", mailbox.messages[0]["message"]["List-Unsubscribe"])[0]
    path = url.removeprefix("http://localhost")

    page = client.get(path)
    assert page.status_code == 200
    assert "Stop the emails" in page.get_data(as_text=True)
    assert not db.session.get(
        MessagingPreference, agent.id
    ).is_email_opted_out  # GET changes nothing

    # RFC 8058: the mail client posts this body by itself, without a session.
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "no more campaign emails" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MessagingPreference, agent.id).is_email_opted_out

    enqueue([email_row(org, agent, "second")])
    assert send_due() == [Outcome.SKIPPED]
    assert "opted out" in row_of("second").last_error
    assert len(mailbox.messages) == 1


def test_a_batch_to_new_agents_gives_each_their_own_working_unsubscribe_link(
    client, db, org, agent, mailbox
):
    """The preferences of a batch's agents are made together: one each, the
    salt of one who had them kept, every link opening that agent's page."""
    others = [AgentFactory(email=f"agent{i}@example.org", locale="en") for i in range(4)]
    kept = MessagingPreference(agent_id=others[0].id, unsubscribe_salt="kept-salt")
    db.session.add(kept)
    db.session.commit()
    enqueue([email_row(org, a, f"batch-{a.id}", recipient=a.email) for a in [agent, *others]])
    assert drain("w1", batch=10) == Counter(sent=5)

    prefs = db.session.scalars(select(MessagingPreference)).all()
    assert sorted(p.agent_id for p in prefs) == sorted(a.id for a in [agent, *others])
    assert db.session.get(MessagingPreference, others[0].id).unsubscribe_salt == "kept-salt"
    assert len({p.unsubscribe_salt for p in prefs}) == 5
    links = {
        m["to"][0]: re.findall(r"<([^>]+)>", m["message"]["List-Unsubscribe"])[0]
        for m in mailbox.messages
    }
    assert len(set(links.values())) == 5
    done = client.post(
        links["agent2@example.org"].removeprefix("http://localhost"),
        data={"List-Unsubscribe": "One-Click"},
    )
    assert done.status_code == 200
    db.session.expire_all()
    opted = [
        p.agent_id for p in db.session.scalars(select(MessagingPreference)) if p.is_email_opted_out
    ]
    assert opted == [others[2].id]


def test_a_forged_or_revoked_unsubscribe_link_is_refused(client, db, org, agent, mailbox):
    db.session.commit()  # the refused request rolls back what is not committed
    assert client.post("/u/not-a-token").status_code == 404
    enqueue([email_row(org, agent)])
    send_due()
    url = re.findall(r"<([^>]+)>", mailbox.messages[0]["message"]["List-Unsubscribe"])[0]
    pref = db.session.get(MessagingPreference, agent.id)
    pref.unsubscribe_salt = "rotated"
    db.session.commit()
    response = client.post(url.removeprefix("http://localhost"))
    assert response.status_code == 404
    assert "not valid any more" in response.get_data(as_text=True)


def test_quiet_hours_postpone_to_their_end_without_counting_an_attempt(db, org, agent, mailbox):
    now = datetime.now(UTC)
    db.session.add(
        MessagingPreference(
            agent_id=agent.id,
            quiet_start_hour=now.hour,
            quiet_end_hour=(now.hour + 2) % 24,
            timezone="UTC",
            unsubscribe_salt="s",
        )
    )
    enqueue([email_row(org, agent)])
    assert send_due() == [Outcome.POSTPONED]
    row = row_of("k1")
    expected = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    assert row.status == "queued" and row.attempts == 0
    assert row.next_attempt_at == expected
    assert mailbox.messages == []


def test_quiet_hours_use_the_agents_time_zone():
    from messaging.preferences.services import quiet_until

    pref = MessagingPreference(quiet_start_hour=22, quiet_end_hour=7, timezone="Europe/Paris")
    # 23:30 in Paris (summer, UTC+2): quiet until 07:00 Paris = 05:00 UTC.
    late = datetime(2025, 7, 1, 21, 30, tzinfo=UTC)
    assert quiet_until(pref, late) == datetime(2025, 7, 2, 5, 0, tzinfo=UTC)
    assert quiet_until(pref, datetime(2025, 7, 1, 12, 0, tzinfo=UTC)) is None


def test_copy_rows_and_deleted_agents_are_skipped_with_a_reason(db, org, agent, mailbox):
    gone = AgentFactory(email=None, deleted_at=datetime.now(UTC))
    enqueue(
        [
            {**email_row(org, agent, "copy"), "channel": "copy"},
            email_row(org, gone, "gone"),
        ]
    )
    assert sorted(send_due()) == [Outcome.SKIPPED, Outcome.SKIPPED]
    assert "share kit" in row_of("copy").last_error
    assert "deleted" in row_of("gone").last_error
    assert mailbox.messages == []


def test_a_row_claimed_by_another_worker_is_left_alone(db, org, agent, mailbox):
    enqueue([email_row(org, agent)])
    (id_,) = claim("w1", 10)
    assert deliver(id_, "w2") == Outcome.NOT_MINE
    assert row_of("k1").status == "in_flight"
    assert mailbox.messages == []


def test_stale_email_goes_back_to_the_queue_and_is_resent_with_its_message_id(
    db, org, agent, mailbox
):
    enqueue([email_row(org, agent)])
    (id_,) = claim("dead-worker", 10)
    # The worker died after counting the attempt and choosing the Message-ID.
    prepared = outbox.Deliverer("dead-worker")._start(id_)
    row = row_of("k1")
    row.claimed_at = datetime.now(UTC) - timedelta(minutes=10)
    db.session.commit()

    assert recover_stale() == {"requeued": 1, "review": 0}
    assert row_of("k1").status == "queued"
    assert drain("w2")["sent"] == 1
    assert [m["message"]["Message-ID"].strip() for m in mailbox.messages] == [
        prepared.email["Message-ID"]
    ]


def test_rows_not_yet_stale_are_not_recovered(db, org, agent):
    enqueue([email_row(org, agent)])
    claim("w1", 10)
    assert recover_stale() == {"requeued": 0, "review": 0}
    assert row_of("k1").status == "in_flight"


def test_drain_stops_between_messages_and_gives_the_rest_back(db, org, agent, mailbox):
    enqueue([email_row(org, agent, f"k{i}") for i in range(5)])
    sent = []

    def stop_after_two():
        sent.append(1)
        return len(mailbox.messages) >= 2

    counts = drain("w1", batch=5, should_stop=stop_after_two)
    assert counts["sent"] == 2
    statuses = sorted(row_of(f"k{i}").status for i in range(5))
    assert statuses == ["queued", "queued", "queued", "sent", "sent"]


def test_rate_limiter_spaces_messages_per_channel():
    clock = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    limiter = outbox.RateLimiter({"x": 1, "email": 2}, clock=lambda: clock[0], sleep=sleep)
    assert limiter.wait("x") == 0
    assert limiter.wait("x") == pytest.approx(1.0)
    assert limiter.wait("email") == 0 and limiter.wait("email") == 0
    assert limiter.wait("email") == pytest.approx(0.5)
    assert limiter.wait("copy") == 0  # no limit configured
    assert sum(slept) == pytest.approx(1.5)


def test_the_demo_job_delivers_the_outbox(db, org, agent, mailbox):
    from messaging.scheduling.scheduler import JOBS

    job = next(job for job in JOBS if job.id == "deliver-outbox")
    assert job.func == "messaging.outbox.delivery:deliver_due" and job.seconds == 10
    enqueue([email_row(org, agent, "a"), email_row(org, agent, "b")])
    assert outbox.deliver_due() == 2
    assert len(mailbox.messages) == 2


def test_relais_worker_once_drains_and_prints_counts(runner, org, agent, mailbox):
    enqueue([email_row(org, agent, "a"), {**email_row(org, agent, "b"), "channel": "copy"}])
    result = runner.invoke(args=["worker", "--once", "--batch", "1"])
    assert result.exit_code == 0, result.output
    assert "Done: sent 1, skipped 1" in result.output
    assert len(mailbox.messages) == 1


def test_the_worker_waits_out_a_database_that_is_away(runner, monkeypatch, caplog):
    """A PostgreSQL restart is no reason for ``relais worker`` to exit."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from messaging.outbox import cli

    calls = []

    def drain(worker_id, *, batch, should_stop):
        calls.append(worker_id)
        if len(calls) < 3:
            refused = psycopg.OperationalError("connection failed: Connection refused")
            raise OperationalError("SELECT", {}, refused)
        signal.raise_signal(signal.SIGTERM)  # back: then stopped as a process manager does
        return Counter()

    monkeypatch.setattr(cli, "drain", drain)
    monkeypatch.setattr(cli, "DATABASE_RETRY_SECONDS", (0.01, 0.02))
    result = runner.invoke(args=["worker", "--poll", "0.01"])

    assert result.exit_code == 0, result.output
    assert len(calls) == 3
    assert "the database is away" in caplog.text and "the database is back" in caplog.text


def test_the_worker_still_stops_on_any_other_error(runner, monkeypatch):
    from messaging.outbox import cli

    def drain(worker_id, *, batch, should_stop):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "drain", drain)
    result = runner.invoke(args=["worker", "--poll", "0.01"])
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
