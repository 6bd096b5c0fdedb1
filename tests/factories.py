"""factory_boy factories; each flushes into the test's session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import factory
from flask_security.utils import hash_password

from agents.models import Agent, Membership, MembershipRole
from campaigns.fund_use import services as expenses
from campaigns.fund_use.models import Expense
from campaigns.giving.models import Donation, DonationKind
from campaigns.offline.services import today
from campaigns.organisations.models import Cause, CauseStatus, Organisation, Project
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.totals import services as totals
from extensions import db

PASSWORD = "correct horse battery"


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class AgentFactory(Base):
    class Meta:
        model = Agent

    email = factory.Sequence(lambda n: f"agent{n}@example.org")
    name = factory.Sequence(lambda n: f"Agent {n}")
    password = factory.LazyFunction(lambda: _hashed())
    active = True
    fs_uniquifier = factory.LazyFunction(lambda: uuid.uuid4().hex)
    confirmed_at = factory.LazyFunction(lambda: datetime.now(UTC))


_HASH: list[str] = []


def _hashed() -> str:
    # argon2 is slow on purpose; one hash serves every factory-made agent.
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


class OrganisationFactory(Base):
    class Meta:
        model = Organisation

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Association {n}")
    legal_name = factory.LazyAttribute(lambda o: o.name)
    currency = "EUR"
    locale = "fr"
    suggested_amounts = [1000, 2500, 5000]


class CauseFactory(Base):
    class Meta:
        model = Cause

    organisation = factory.SubFactory(OrganisationFactory)
    slug = factory.Sequence(lambda n: f"cause-{n}")
    title = factory.Sequence(lambda n: f"Cause {n}")
    story = "Water for everyone."
    goal_minor = 10_000_00
    status = CauseStatus.PUBLISHED


class ProjectFactory(Base):
    class Meta:
        model = Project

    cause = factory.SubFactory(CauseFactory)
    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.Sequence(lambda n: f"Project {n}")


class PageFactory(Base):
    class Meta:
        model = Page

    cause = factory.SubFactory(CauseFactory)
    owner = factory.SubFactory(AgentFactory)
    kind = PageKind.PERSONAL
    slug = factory.Sequence(lambda n: f"page-{n}")
    title = factory.Sequence(lambda n: f"Page {n}")
    goal_minor = 500_00
    status = PageStatus.PUBLISHED
    published_at = factory.LazyAttribute(
        lambda page: datetime.now(UTC) if page.status == PageStatus.PUBLISHED else None
    )


class EventPageFactory(PageFactory):
    kind = PageKind.EVENT
    city = "Lyon"
    venue = "Le Sucre"
    starts_at = factory.LazyFunction(lambda: datetime.now(UTC) + timedelta(days=30))


class MembershipFactory(Base):
    class Meta:
        model = Membership

    agent = factory.SubFactory(AgentFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = MembershipRole.ADMIN


def refund_row(gift: Donation, amount_minor: int, at: datetime) -> Donation:
    """A refund ledger row of ``gift`` (as campaigns.giving.refunds writes one), counted
    in the totals."""
    row = Donation(
        kind=DonationKind.REFUND,
        organisation_id=gift.organisation_id,
        cause_id=gift.cause_id,
        project_id=gift.project_id,
        page_id=gift.page_id,
        event_id=gift.event_id,
        amount_minor=-amount_minor,
        currency=gift.currency,
        donor_key=gift.donor_key,
        is_unattributed=gift.is_unattributed,
        original_id=gift.id,
        created_at=at,
    )
    db.session.add(row)
    db.session.flush()
    totals.apply(row)
    return row


def spend(staffer, project, amount_minor, title, *, publish=True, **data) -> Expense:
    """An expense ``staffer`` records through the service (spent three days ago
    unless ``spent_on`` says otherwise), published unless ``publish`` is False."""
    org = project.cause.organisation
    expense = expenses.save_expense(
        staffer,
        org,
        None,
        {
            "project": project,
            "amount_minor": amount_minor,
            "spent_on": data.pop("spent_on", today() - timedelta(days=3)),
            "title": title,
            **data,
        },
    )
    if publish:
        expenses.publish_expense(staffer, org, expense)
    return expense
