"""Leaving erases everything personal: one signal, each package its own tables."""

from __future__ import annotations

from sqlalchemy import String, Text, cast, func, select

from agents import services
from agents.models import Agent
from campaigns.audit import record
from campaigns.giving.ledger import donor_key_for, record_gift
from campaigns.giving.models import Donation, StripeEvent, StripeEventOutcome, donor_id_for
from campaigns.offline.models import OfflineGift
from campaigns.pages.models import CohostInvite, PageHost
from campaigns.totals import services as totals
from campaigns.totals.models import TotalDonor
from extensions import db
from messaging.outbox.models import Channel, OutboxMessage, OutboxStatus
from messaging.outbox.queue import queue_email
from messaging.preferences.models import MessagingPreference
from messaging.sharing.models import ShareClick, ShareLink
from messaging.social.crypto import encrypt_credentials
from messaging.social.models import SocialAccount
from tests.factories import (
    PASSWORD,
    AgentFactory,
    EventPageFactory,
    MembershipFactory,
    PageFactory,
)

EMAIL = "Camille.Martin@example.org"
NAME = "Camille Martin"


def hits(needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text or JSON cell holding one of ``needles``."""
    found = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if (
                not isinstance(column.type, (String, Text))
                and column.type.__class__.__name__ != "JSON"
            ):
                continue
            text = func.lower(cast(column, Text))
            for needle in needles:
                rows = db.session.execute(
                    select(text).where(text.contains(needle.lower(), autoescape=True))
                ).scalars()
                found += [(table.name, column.name, value) for value in rows]
    return found


def test_deleting_an_account_leaves_no_personal_string(client, db, login_as):
    me = login_as(AgentFactory(name=NAME, email=EMAIL))
    page = PageFactory(
        owner=me,
        title=f"{NAME} court pour l'eau",
        story=f"Je suis {NAME}.",
        photo="a" * 32 + ".jpg",
    )
    cause = page.cause
    event = EventPageFactory(owner=me, cause=cause)
    friend = AgentFactory(email="friend@example.org", name="Dominique Friend")
    db.session.add(PageHost(page=event, agent=friend))
    other_event = EventPageFactory(cause=cause)
    db.session.add(PageHost(page=other_event, agent=me))
    db.session.add(
        CohostInvite(
            page=event, email="invitee@example.org", token_hash="1" * 64, invited_by_id=me.id
        )
    )
    db.session.add(
        CohostInvite(
            page=other_event, email=EMAIL.lower(), token_hash="2" * 64, invited_by_id=friend.id
        )
    )
    other_page = PageFactory(cause=cause)
    given = record_gift(
        page=other_page,
        cause=cause,
        amount_minor=2500,
        donor_name=NAME,
        donor_email=EMAIL,
        message=f"De la part de {NAME}",
        extra={"donor_city": "Lyon", "stripe_payment_intent_id": "pi_1"},
    )
    received = record_gift(
        page=page,
        cause=cause,
        amount_minor=1000,
        donor_name="Lou",
        donor_email="lou@example.org",
        message=f"Bravo {NAME} !",
    )
    db.session.add(
        StripeEvent(
            id="evt_1",
            type="charge.refunded",
            outcome=StripeEventOutcome.RECORDED,
            stripe_payment_intent_id="pi_1",
            payload={"billing_details": {"email": EMAIL, "name": NAME}},
        )
    )
    db.session.add(
        OfflineGift(
            page=page,
            recorded_by_id=me.id,
            amount_minor=500,
            currency="EUR",
            donor_name="Sam",
            note=f"Collecté par {NAME}",
        )
    )
    MembershipFactory(agent=me, organisation=cause.organisation)
    services.create_token(me, f"script de {NAME}")
    db.session.add(
        SocialAccount(
            agent_id=me.id,
            provider="x",
            account_ref="@camille",
            credentials_encrypted=encrypt_credentials({"token": "t"}),
        )
    )
    db.session.add(MessagingPreference(agent_id=me.id, unsubscribe_salt="s" * 16))
    org_id = cause.organisation_id
    queued = OutboxMessage(
        dedupe_key="q",
        organisation_id=org_id,
        agent_id=me.id,
        channel=Channel.EMAIL,
        recipient=EMAIL,
        subject=f"Bonjour {NAME}",
        body_text=f"Bonjour {NAME}",
    )
    sent = OutboxMessage(
        dedupe_key="s",
        organisation_id=org_id,
        agent_id=me.id,
        channel=Channel.EMAIL,
        recipient=EMAIL,
        subject="Hi",
        body_text=f"Hi {NAME}",
        status=OutboxStatus.SENT,
    )
    about_me = OutboxMessage(
        dedupe_key="o",
        organisation_id=org_id,
        agent_id=friend.id,
        channel=Channel.EMAIL,
        recipient=friend.email,
        subject="News",
        body_text=f"{NAME} vous a dépassé.",
    )
    db.session.add_all([queued, sent, about_me])
    # Account mail: no organisation, and (a receipt, an invitation) no agent either.
    queue_email(to=EMAIL, subject=f"Bienvenue {NAME}", text="…", trigger="account")
    link = ShareLink(code="abc123", agent_id=me.id, page_id=page.id, channel="x", click_count=1)
    db.session.add(link)
    db.session.flush()
    db.session.add(ShareClick(share_link_id=link.id))
    record(org_id, me, "page.hide", f"{NAME} a masqué une page")
    db.session.flush()
    before = [
        totals.figures_one(s, i)
        for s, i in (("page", page.id), ("page", other_page.id), ("cause", cause.id))
    ]
    assert hits([EMAIL, NAME])  # the search finds them before

    response = client.post("/me/delete", data={"understood": "y", "password": PASSWORD})
    assert response.status_code == 302
    db.session.expire_all()

    assert hits([EMAIL, NAME, donor_key_for(EMAIL)]) == []
    # Nor is the 64-bit id made from that hash, in the ledger or the donor sets.
    old_id = donor_id_for(donor_key_for(EMAIL))
    assert db.session.scalar(select(func.count()).where(Donation.donor_id == old_id)) == 0
    assert db.session.scalar(select(func.count()).where(TotalDonor.donor_id == old_id)) == 0
    assert totals.drift() == []
    after = [
        totals.figures_one(s, i)
        for s, i in (("page", page.id), ("page", other_page.id), ("cause", cause.id))
    ]
    assert after == before
    assert db.session.get(Donation, given.id).amount_minor == 2500
    assert db.session.get(Donation, received.id).donor_name == "Lou"
    assert db.session.get(OutboxMessage, queued.id).status == OutboxStatus.CANCELLED
    assert db.session.get(OutboxMessage, sent.id).status == OutboxStatus.SENT
    assert db.session.scalar(select(func.count()).select_from(SocialAccount)) == 0
    assert db.session.scalar(select(func.count()).select_from(ShareClick)) == 1
    assert db.session.get(PageHost, event.cohosts[0].id).agent_id == friend.id  # others stay
    assert db.session.get(Agent, me.id).memberships == []
    # The pages stay online, shown as a former supporter's.
    assert client.get(f"/p/{page.slug}").status_code == 200


def test_an_issued_tax_receipt_keeps_the_donors_name_and_address(db):
    me = AgentFactory(name=NAME, email=EMAIL)
    page = PageFactory()
    gift = record_gift(
        page=page,
        cause=page.cause,
        amount_minor=5000,
        donor_name=NAME,
        donor_email=EMAIL,
        extra={"donor_city": "Lyon"},
    )
    gift.receipt_number = "ORG-2026-000001"
    db.session.flush()
    services.delete_account(me)
    db.session.expire_all()
    gift = db.session.get(Donation, gift.id)
    assert (gift.donor_name, gift.donor_city, gift.donor_email) == (NAME, "Lyon", "")
    assert [h[:2] for h in hits([EMAIL, NAME])] == [("donations", "donor_name")]
