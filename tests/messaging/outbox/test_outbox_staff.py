"""Staff see dead letters and posts to review, with their last error, and decide."""

import re
from datetime import timedelta

from sqlalchemy import select

from campaigns.model_types import utcnow
from campaigns.runtime import heartbeats
from extensions import db
from messaging.outbox.models import OutboxMessage, OutboxStatus
from messaging.outbox.queue import enqueue
from tests.factories import AgentFactory, MembershipFactory


def stuck_message(org, agent, status, key):
    enqueue(
        [
            {
                "dedupe_key": key,
                "organisation_id": org.id,
                "agent_id": agent.id,
                "channel": "x",
                "body_text": "10 € pour l'eau",
            }
        ]
    )
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    message.status = status
    message.attempts = 6
    message.last_error = "X answered 503: Service Unavailable"
    return message


def test_staff_see_the_last_error_and_retry_or_cancel(db, client, login_as):
    staff = MembershipFactory()
    org, agent = staff.organisation, AgentFactory()
    dead = stuck_message(org, agent, OutboxStatus.DEAD, "dead-1")
    review = stuck_message(org, agent, OutboxStatus.REVIEW, "review-1")
    db.session.commit()
    login_as(staff.agent)

    page = client.get(f"/staff/{org.slug}/outbox/")
    assert page.status_code == 200
    assert "X answered 503" in page.text

    client.post(f"/staff/{org.slug}/outbox/{dead.id}", data={"action": "retry"})
    client.post(f"/staff/{org.slug}/outbox/{review.id}", data={"action": "cancel"})
    db.session.expire_all()
    assert (dead.status, dead.attempts) == (OutboxStatus.QUEUED, 0)
    assert review.status == OutboxStatus.CANCELLED
    # Decided once: a second decision changes nothing.
    client.post(f"/staff/{org.slug}/outbox/{review.id}", data={"action": "retry"})
    db.session.expire_all()
    assert review.status == OutboxStatus.CANCELLED


def test_the_outbox_page_is_for_staff_only(db, client, login_as):
    staff = MembershipFactory()
    outsider = AgentFactory()
    db.session.commit()
    login_as(outsider)
    assert client.get(f"/staff/{staff.organisation.slug}/outbox/").status_code == 403


def test_staff_see_which_scheduler_leads_and_which_workers_run(db, client, login_as):
    staff = MembershipFactory()
    now = utcnow()
    login_as(staff.agent)
    page = client.get(f"/staff/{staff.organisation.slug}/outbox/")
    assert "No scheduler or worker has reported yet." in page.text
    assert "No scheduler holds the leader lock" in page.text

    heartbeats.beat("scheduler:a:1", "scheduler", started_at=now, is_leader=True)
    heartbeats.beat("scheduler:b:2", "scheduler", started_at=now)
    heartbeats.beat("worker:a:3", "worker", started_at=now, detail="a:3:ff")
    gone = heartbeats.Heartbeat(
        name="worker:c:4", kind="worker", started_at=now, seen_at=now - timedelta(hours=1)
    )
    db.session.add(gone)
    db.session.commit()

    page = client.get(f"/staff/{staff.organisation.slug}/outbox/").text
    assert "A scheduler holds the leader lock" in page
    assert "1 outbox worker is running." in page
    state_cell = r'<th scope="row">([^<]+)</th>.*?<td>([^<]+)</td>\s*</tr>'
    rows = dict(re.findall(state_cell, page, re.S))
    assert rows == {
        "scheduler:a:1": "leading",
        "scheduler:b:2": "waiting for the lock",
        "worker:a:3": "delivering",
        "worker:c:4": "not seen recently",
    }
