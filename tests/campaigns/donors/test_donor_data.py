"""A donor, who has no account, sees their gifts from a link sent to their
address and erases their details; staff erase on request; old addresses go."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from campaigns.audit import AuditEntry
from campaigns.donors import services as donors
from campaigns.donors.jobs import purge_donor_addresses
from campaigns.giving.ledger import record_gift
from campaigns.giving.models import Donation, PendingGift, StripeEvent, StripeEventOutcome
from campaigns.model_types import utcnow
from campaigns.totals import services as totals
from extensions import db
from messaging.outbox.models import OutboxMessage
from messaging.outbox.queue import queue_email
from tests.agents.test_erasure import hits
from tests.factories import (
    AgentFactory,
    CauseFactory,
    MembershipFactory,
    OrganisationFactory,
    PageFactory,
    refund_row,
)

EMAIL = "Lea.Donatrice@example.org"
NAME = "Léa Donatrice"
STREET = "12 rue des Acacias"


def give(page, amount=2500, **extra):
    return record_gift(
        page=page,
        cause=page.cause,
        amount_minor=amount,
        donor_name=NAME,
        donor_email=EMAIL,
        message=f"Courage, de {NAME}",
        extra={"donor_address_line": STREET, "donor_city": "Lyon", **extra},
    )


def link_mails() -> list[OutboxMessage]:
    return list(
        db.session.scalars(select(OutboxMessage).where(OutboxMessage.trigger == "donor_link"))
    )


def link_in(mail: OutboxMessage) -> str:
    return re.search(r"https?://\S+/my-gifts/\S+", mail.body_text).group(0)


def test_a_donor_gets_a_link_and_sees_their_gifts_and_refunds(client, db, page):
    gift = give(page)
    refund_row(gift, -1000, utcnow())
    db.session.commit()

    response = client.post("/my-gifts", data={"email": "  LEA.donatrice@example.org "})

    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    [mail] = link_mails()
    assert mail.recipient == EMAIL.lower()
    listing = client.get(link_in(mail).split("localhost", 1)[-1])
    body = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert listing.headers["Cache-Control"] == "private, no-store"
    assert page.title in body and "25" in body and "refunded" in body
    assert "six years" in body  # what an issued receipt keeps, and why

    # Asking again within the hour queues no second mail.
    client.post("/my-gifts", data={"email": EMAIL})
    assert len(link_mails()) == 1


def test_an_address_that_never_gave_gets_the_same_answer_and_no_mail(client, db, page):
    give(page)
    db.session.commit()
    response = client.post("/my-gifts", data={"email": "nobody@example.org"})
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    assert link_mails() == []


def test_a_bad_address_is_refused_and_nothing_is_queued(client, db, page):
    give(page)
    db.session.commit()
    response = client.post("/my-gifts", data={"email": "not an address"})
    assert response.status_code == 422
    assert "like name@example.org" in response.get_data(as_text=True)
    assert link_mails() == []


def test_a_forged_or_expired_link_shows_nothing(client, db, page, monkeypatch):
    give(page)
    db.session.commit()
    token = donors.access_token(EMAIL.lower())
    assert client.get(f"/my-gifts/{token}x").status_code == 404
    monkeypatch.setattr(donors, "LINK_HOURS", -1)
    response = client.get(f"/my-gifts/{token}")
    assert response.status_code == 404
    assert NAME not in response.get_data(as_text=True)
    assert "Ask for a new one" in response.get_data(as_text=True)


def test_erasing_from_the_link_keeps_the_money_and_no_personal_string(client, db, page):
    gift = give(page, stripe_payment_intent_id="pi_lea")
    receipted = give(page, 4000)
    receipted.receipt_number = "ORG-2026-000007"
    db.session.add(
        StripeEvent(
            id="evt_lea",
            type="checkout.session.completed",
            outcome=StripeEventOutcome.RECORDED,
            stripe_payment_intent_id="pi_lea",
            payload={"customer_details": {"email": EMAIL, "name": NAME, "line1": STREET}},
        )
    )
    db.session.add(
        PendingGift(
            reference="d" * 32,
            organisation_id=page.cause.organisation_id,
            cause_id=page.cause_id,
            amount_minor=2500,
            currency="EUR",
            donor_name=NAME,
            donor_email=EMAIL,
            donor_address_line=STREET,
        )
    )
    queue_email(to=EMAIL, subject=f"Reçu pour {NAME}", text=f"Merci {NAME}", trigger="receipt")
    db.session.commit()
    before = totals.figures_one("page", page.id)
    assert hits([EMAIL, NAME, STREET])
    token = donors.access_token(EMAIL.lower())

    # Without the box ticked, nothing changes.
    client.post(f"/my-gifts/{token}/erase", data={})
    db.session.expire_all()
    assert db.session.get(Donation, gift.id).donor_email == EMAIL

    response = client.post(f"/my-gifts/{token}/erase", data={"confirm": "y"})

    assert response.status_code == 302
    db.session.expire_all()
    # The issued receipt keeps the name and street it states; nothing else anywhere.
    assert sorted(h[:2] for h in hits([EMAIL, NAME, STREET])) == [
        ("donations", "donor_address_line"),
        ("donations", "donor_name"),
    ]
    kept = db.session.get(Donation, receipted.id)
    assert (kept.donor_name, kept.donor_email, kept.message) == (NAME, "", "")
    assert db.session.get(Donation, gift.id).amount_minor == 2500
    assert totals.figures_one("page", page.id) == before
    assert totals.drift() == []
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "donor.erase"))
    assert entry.details == {"gifts": 2, "by_donor": True}
    assert "Nothing personal is kept" in client.get(f"/my-gifts/{token}").get_data(as_text=True)


def test_staff_erase_a_donor_in_their_organisation_only(client, db, login_as, page):
    admin = AgentFactory()
    MembershipFactory(agent=admin, organisation=page.cause.organisation, role="admin")
    other_page = PageFactory(cause=CauseFactory(organisation=OrganisationFactory()))
    here, there = give(page), give(other_page)
    db.session.commit()
    login_as(admin)
    url = f"/staff/{page.cause.organisation.slug}/donors/erase"

    assert client.post(url, data={"email": "nope"}).status_code == 422
    assert client.post(url, data={"email": EMAIL}).status_code == 422  # not confirmed
    db.session.expire_all()
    assert db.session.get(Donation, here.id).donor_email == EMAIL

    response = client.post(url, data={"email": EMAIL, "confirm": "y"})

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Donation, here.id).donor_email == ""
    assert db.session.get(Donation, there.id).donor_email == EMAIL  # another organisation's
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "donor.erase"))
    assert entry.actor_id == admin.id and entry.organisation_id == page.cause.organisation_id


def test_only_admins_erase(client, db, login_as, page):
    staffer = AgentFactory()
    MembershipFactory(agent=staffer, organisation=page.cause.organisation, role="staff")
    give(page)
    db.session.commit()
    login_as(staffer)
    url = f"/staff/{page.cause.organisation.slug}/donors/erase"
    assert client.post(url, data={"email": EMAIL, "confirm": "y"}).status_code == 403


def test_old_addresses_are_purged_but_a_receipt_keeps_its_own(app, db, page, monkeypatch):
    now = utcnow()
    old = give(page)
    old.created_at = now - timedelta(days=500)
    receipted = give(page)
    receipted.created_at = now - timedelta(days=500)
    receipted.receipt_number = "ORG-2025-000001"
    ancient = give(page)
    ancient.created_at = now - timedelta(days=365 * 7)
    ancient.receipt_number = "ORG-2019-000001"
    recent = give(page)
    db.session.flush()

    purge_donor_addresses()

    db.session.expire_all()
    street = {
        g.id: db.session.get(Donation, g.id).donor_address_line
        for g in (old, receipted, ancient, recent)
    }
    assert street == {old.id: "", receipted.id: STREET, ancient.id: "", recent.id: STREET}
    assert db.session.get(Donation, old.id).donor_name == NAME  # only the address goes
