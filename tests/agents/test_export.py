"""An agent downloads everything Relais holds about them, as one ZIP."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

from agents import services
from agents.export import EMAIL_COLUMNS
from agents.models import Profile, Role
from campaigns.audit import record
from campaigns.fairplay.models import FairPlayFlag, FlagStatus
from campaigns.giving.ledger import record_gift
from campaigns.giving.models import PendingGift, StripeEvent, StripeEventOutcome
from campaigns.matching.models import Match, MatchScope
from campaigns.model_types import utcnow
from campaigns.monthly.models import MonthlyGift
from campaigns.news.models import FieldUpdate
from campaigns.offline.models import OfflineGift
from campaigns.pages.models import (
    CohostInvite,
    PageHost,
    PageReport,
    ReportReason,
    Sponsor,
    TeamJoinRequest,
)
from extensions import db
from messaging.broadcasts.models import Broadcast
from messaging.outbox.models import Channel, OutboxMessage
from messaging.preferences.models import MessagingPreference
from messaging.sharing.models import ShareLink
from messaging.social.crypto import encrypt_credentials
from messaging.social.models import SocialAccount
from messaging.templating.models import MessageTemplate
from messaging.webhooks.models import WebhookEndpoint
from tests.factories import (
    AgentFactory,
    EventPageFactory,
    MembershipFactory,
    PageFactory,
    ProjectFactory,
    spend,
)

EMAIL = "noa.lefevre@example.org"
PHOTO = "b" * 32 + ".jpg"


def about_agents_or_their_email() -> set[str]:
    """Every table with a foreign key to agents or an email column."""
    return {
        table.name
        for table in db.metadata.sorted_tables
        if table.name == "agents"
        or any(fk.column.table.name == "agents" for c in table.columns for fk in c.foreign_keys)
        or any(name in table.c for name in EMAIL_COLUMNS)
    }


def a_row_in_every_table(app, me, stranger):
    """``me`` has a row in every table about agents; ``stranger`` in some."""
    page = PageFactory(owner=me, title="Noa court", photo=PHOTO)
    folder = Path(app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PHOTO).write_bytes(b"\xff\xd8jpeg")
    cause, org = page.cause, page.cause.organisation
    event = EventPageFactory(cause=cause)
    db.session.add(PageHost(page=event, agent=me))
    db.session.add(
        CohostInvite(page=page, email="x@example.org", token_hash="1" * 64, invited_by_id=me.id)
    )
    record_gift(
        page=PageFactory(cause=cause),
        cause=cause,
        amount_minor=2500,
        donor_name="Noa",
        donor_email=EMAIL.upper(),
        extra={"stripe_payment_intent_id": "pi_noa"},
    )
    other = record_gift(page=page, cause=cause, amount_minor=700, donor_email="other@example.org")
    # A gift I reviewed as staff (fair play).
    db.session.add(
        FairPlayFlag(
            organisation_id=org.id,
            gift_id=other.id,
            page_id=page.id,
            is_velocity=True,
            evidence={"velocity": ["card"]},
            status=FlagStatus.CLEARED,
            reviewed_by_id=me.id,
            reviewed_at=utcnow(),
        )
    )
    db.session.add(
        PendingGift(
            reference="c" * 32,
            organisation_id=org.id,
            cause_id=cause.id,
            amount_minor=2500,
            currency="EUR",
            donor_email=EMAIL,
        )
    )
    db.session.add(
        StripeEvent(
            id="evt_noa",
            type="checkout.session.completed",
            outcome=StripeEventOutcome.RECORDED,
            stripe_payment_intent_id="pi_noa",
            payload={"customer_details": {"email": EMAIL}},
        )
    )
    db.session.add(OfflineGift(page=page, recorded_by_id=me.id, amount_minor=500, currency="EUR"))
    db.session.add(
        MonthlyGift(
            stripe_subscription_id="sub_export",
            organisation_id=org.id,
            cause_id=cause.id,
            page_id=page.id,
            amount_minor=1000,
            currency="EUR",
            donor_email=EMAIL,
            stop_key="k" * 16,
        )
    )
    MembershipFactory(agent=me, organisation=org)
    me.roles.append(Role(name="export-tester"))
    db.session.add(Profile(agent_id=me.id, handle="noa", is_public=True))
    services.create_token(me, "my script")
    db.session.add(
        SocialAccount(
            agent_id=me.id,
            provider="x",
            account_ref="@noa",
            credentials_encrypted=encrypt_credentials({"token": "SECRET-XYZ"}),
        )
    )
    db.session.add(MessagingPreference(agent_id=me.id, unsubscribe_salt="s" * 16))
    db.session.add(
        OutboxMessage(
            dedupe_key="noa",
            agent_id=me.id,
            channel=Channel.EMAIL,
            recipient=EMAIL,
            subject="Bonjour Noa",
            body_text="…",
        )
    )
    db.session.add(ShareLink(code="noa123", agent_id=me.id, page_id=page.id, channel="x"))
    template = MessageTemplate(
        organisation_id=org.id, name="t", channel=Channel.EMAIL, body="b", updated_by_id=me.id
    )
    db.session.add(template)
    db.session.flush()
    db.session.add(
        Broadcast(
            organisation_id=org.id, cause_id=cause.id, template_id=template.id, created_by_id=me.id
        )
    )
    spend(me, ProjectFactory(cause=cause), 1000, "Tentes")
    db.session.add(
        WebhookEndpoint(
            organisation_id=org.id,
            url="https://crm.example.org/hooks",
            event_types=["gift.recorded"],
            secret_encrypted=encrypt_credentials({"secret": "whsec_c2VjcmV0"}),
            created_by_id=me.id,
        )
    )
    db.session.add(
        Match(
            organisation_id=org.id,
            cause_id=cause.id,
            page_id=page.id,
            scope=MatchScope.PAGE,
            sponsor_name="Boulangerie",
            ratio_num=1,
            cap_minor=50000,
            currency="EUR",
            starts_at=utcnow(),
            ends_at=utcnow() + timedelta(hours=2),
            created_by_id=me.id,
        )
    )
    db.session.add(PageReport(page_id=event.id, reason=ReportReason.SPAM, reviewed_by_id=me.id))
    db.session.add(Sponsor(page_id=page.id, name="Boulangerie", added_by_id=me.id))
    db.session.add(TeamJoinRequest(team_id=event.id, page_id=page.id, decided_by_id=me.id))
    db.session.add(
        FieldUpdate(
            organisation_id=org.id,
            cause_id=cause.id,
            page_id=page.id,
            author_id=me.id,
            title="Le puits",
            body="Il donne de l'eau.",
        )
    )
    record(org.id, me, "page.hide", "hid a page")
    # The stranger's rows must not travel in my archive.
    PageFactory(owner=stranger, title="Someone else's page")
    record(org.id, stranger, "page.hide", "stranger's entry")
    db.session.commit()


def test_the_archive_holds_a_row_of_every_table_about_the_agent(app, db, client, login_as):
    me = AgentFactory(email=EMAIL, name="Noa Lefèvre")
    stranger = AgentFactory(email="stranger@example.org")
    a_row_in_every_table(app, me, stranger)
    login_as(me)

    response = client.get("/me/data.zip")

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert f"photos/{PHOTO}" in archive.namelist()
    data = json.loads(archive.read("data.json"))
    tables = data["tables"]
    # Every table that can hold something about an agent, including stripe_events
    # (found through the gifts they gave): a table added later is exported too.
    missing = about_agents_or_their_email() - set(tables)
    assert missing == set()
    assert "stripe_events" in tables
    assert tables["agents"] == [tables["agents"][0]] and tables["agents"][0]["id"] == me.id
    assert [p["title"] for p in tables["pages"]] == ["Noa court"]
    assert [d["amount_minor"] for d in tables["donations"]] == [2500]
    text = archive.read("data.json").decode()
    assert "stranger" not in text.lower() and "Someone else" not in text
    # Secrets stay out: the password hash, token hashes, encrypted credentials.
    for secret in ("password", "token_hash", "credentials_encrypted", "fs_uniquifier"):
        assert secret not in text
    assert me.password not in text


def test_the_archive_needs_a_login(client, db):
    response = client.get("/me/data.zip")
    assert response.status_code in (302, 401)
    assert response.mimetype != "application/zip"
