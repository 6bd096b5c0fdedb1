from collections import Counter

import pytest
from sqlalchemy import func, select

from agents.models import Agent
from campaigns.demo import seed as demo
from campaigns.giving.models import Donation, DonationKind
from campaigns.organisations.models import Cause, CauseStatus, Organisation
from campaigns.pages.models import Page, PageKind
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from tests.conftest import own_database
from tests.factories import AgentFactory, OrganisationFactory


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
    gifts = select(func.sum(Donation.amount_minor)).where(Donation.kind != DonationKind.FEE)
    assert cause_total.raised_minor == db.session.scalar(gifts)
    # What Stripe would have charged for each seeded gift, kept apart (gross stays gross).
    fees = select(func.sum(-Donation.amount_minor)).where(Donation.kind == DonationKind.FEE)
    assert 0 < cause_total.fees_minor == db.session.scalar(fees) < cause_total.raised_minor
    ranks = Counter(totals.figures_one(TotalScope.EVENT, e.id).raised_minor for e in events)
    assert len(ranks) > 1, "events should not all have raised the same"
    assert totals.drift() == []


def test_demo_seeds_once(db):
    assert demo.seed() is True
    count = db.session.scalar(select(func.count(Donation.id)))
    assert demo.seed() is False
    assert db.session.scalar(select(func.count(Donation.id))) == count


# --- relais demo refuses where it would do harm ----------------------------------


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        from extensions import db

        return tuple(
            db.session.scalar(select(func.count(model.id)))
            for model in (Organisation, Agent, Donation)
        )


def run_demo(app):
    return app.test_cli_runner().invoke(args=["demo", "--no-serve"])


def test_demo_refuses_in_production_mode(app, tmp_path):
    with own_database(app, tmp_path, "demo_prod", RELAIS_ENV="production") as own:
        result = run_demo(own)
        assert result.exit_code != 0
        assert result.output.strip().splitlines() == [
            "Error: relais demo does not run in production mode (RELAIS_ENV=production): it adds "
            "an admin with a public password and made-up gifts. Use a development database."
        ]
        assert counts(own) == (0, 0, 0)


@pytest.mark.parametrize("existing", ["organisation", "account"])
def test_demo_refuses_a_database_with_other_data(app, tmp_path, existing):
    with own_database(app, tmp_path, "demo_other") as own:
        with own.app_context():
            from extensions import db

            OrganisationFactory() if existing == "organisation" else AgentFactory()
            db.session.commit()
        before = counts(own)
        result = run_demo(own)
        assert result.exit_code != 0
        [line] = result.output.strip().splitlines()
        assert line.startswith("Error: relais demo refuses: this database holds data the demo")
        assert line.endswith("Point DATABASE_URL at an empty database.")
        assert counts(own) == before


@pytest.mark.slow
def test_demo_runs_on_a_fresh_database_and_again_on_its_own_data(app, tmp_path):
    with own_database(app, tmp_path, "demo_fresh") as own:
        result = run_demo(own)
        assert result.exit_code == 0, result.output
        assert "Demo data created." in result.output
        seeded = counts(own)
        with own.app_context():
            from extensions import db

            AgentFactory()  # someone signed up in the demo
            db.session.commit()
        result = run_demo(own)
        assert result.exit_code == 0, result.output
        assert "Demo data already present." in result.output
        assert counts(own)[2] == seeded[2]
