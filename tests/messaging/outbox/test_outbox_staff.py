"""Staff see dead letters and posts to review, with their last error, and decide."""

from sqlalchemy import select

from extensions import db
from messaging.outbox.models import OutboxMessage, OutboxStatus
from messaging.outbox.services import enqueue
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
