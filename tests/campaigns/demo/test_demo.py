from collections import Counter

from sqlalchemy import func, select

from agents.models import Agent
from campaigns.demo import seed as demo
from campaigns.giving.models import Donation
from campaigns.organisations.models import Cause, CauseStatus, Organisation
from campaigns.pages.models import Page, PageKind
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope


def test_demo_tells_the_twestival_story(db):
    assert demo.seed() is True
    org = db.session.scalar(select(Organisation).where(Organisation.slug == demo.DEMO_ORG_SLUG))
    assert (org.currency, org.locale, org.suggested_amounts) == ("EUR", "fr", [1000, 2500, 5000])
    causes = db.session.scalars(select(Cause).where(Cause.organisation_id == org.id)).all()
    assert [c.status for c in causes] == [CauseStatus.PUBLISHED]
    assert 2 <= len(causes[0].projects) <= 4

    events = db.session.scalars(select(Page).where(Page.kind == PageKind.EVENT)).all()
    assert len(events) >= 12
    assert len({e.city for e in events}) == len(events)
    assert all(e.venue and e.starts_at for e in events)
    assert all(2 <= len(e.members) <= 6 for e in events)
    direct = db.session.scalar(
        select(func.count()).where(Page.kind == PageKind.PERSONAL, Page.parent_id.is_(None))
    )
    assert direct > 0
    assert db.session.scalar(select(func.count(Agent.id))) >= 40

    cause_total = totals.figures_one(TotalScope.CAUSE, causes[0].id)
    assert cause_total.raised_minor > 0
    assert cause_total.raised_minor == db.session.scalar(select(func.sum(Donation.amount_minor)))
    ranks = Counter(totals.figures_one(TotalScope.EVENT, e.id).raised_minor for e in events)
    assert len(ranks) > 1, "events should not all have raised the same"
    assert totals.drift() == []


def test_demo_seeds_once(db):
    assert demo.seed() is True
    count = db.session.scalar(select(func.count(Donation.id)))
    assert demo.seed() is False
    assert db.session.scalar(select(func.count(Donation.id))) == count
