"""Many threads recording gifts at once at a match's cap, with real commits
(on SQLite and PostgreSQL, where the match's row is locked FOR UPDATE): the
match never goes over its cap, each gift is matched once, totals equal the ledger."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import record_event
from campaigns.matching import settlement
from campaigns.matching.models import Match, MatchedGift
from campaigns.totals import services as totals
from extensions import db
from tests import stripe_objects as so
from tests.campaigns.matching.test_matching import make_match
from tests.conftest import own_database
from tests.factories import CauseFactory, OrganisationFactory, PageFactory

pytestmark = pytest.mark.slow
THREADS = 8


def test_threads_giving_at_the_cap_never_match_more_than_it(app, tmp_path):
    with own_database(app, tmp_path, "match") as own:
        with own.app_context():
            org = OrganisationFactory()
            cause = CauseFactory(organisation=org)
            pages = [PageFactory(cause=cause) for _ in range(3)]
            match = make_match(org, cause, cap=10_000)  # the whole cause, 1:1
            db.session.commit()
            match_id = match.id
            events = []
            for n in range(40):
                session = so.checkout_session(amount=700, page=pages[n % 3].slug, cause=cause.slug)
                events.append(so.event(session, "checkout.session.completed"))
            # Every third gift delivered twice, the twin racing the first.
            events += events[::3]
            db.session.remove()

        def deliver(event: dict) -> str:
            with own.app_context():
                try:
                    return str(record_event(event))
                finally:
                    db.session.remove()

        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = list(pool.map(deliver, events))
        assert outcomes.count("recorded") == 40

        with own.app_context():
            match = db.session.get(Match, match_id)
            assert match.matched_minor == 10_000 == settlement.ledger_sum(match)
            assert db.session.scalar(select(func.count()).select_from(MatchedGift)) == 40
            rows = db.session.scalars(
                select(Donation.amount_minor).where(Donation.kind == DonationKind.MATCH)
            ).all()
            # 14 gifts of 700 fill 9,800; one more gets the last 200; the others nothing.
            assert sorted(rows) == [200] + [700] * 14
            assert totals.drift() == []
            db.session.remove()
        result = own.test_cli_runner().invoke(args=["totals", "check"])
        assert result.exit_code == 0, result.output
