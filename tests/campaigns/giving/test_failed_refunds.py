"""A refund Stripe later reports as failed gives its money back, exactly once."""

# The fixtures post and place come from test_webhooks.py, imported by name.
# ruff: noqa: F401, F811

from __future__ import annotations

import time

import pytest

from campaigns.giving.models import Donation, DonationKind, StripeEvent
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from tests import stripe_objects as so
from tests.campaigns.giving.test_webhooks import (
    assert_outcome,
    completed,
    count,
    gift,
    paid,
    place,
    post,
    raised,
    refunded,
    rows,
)

pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


def failed(
    session: dict, amount: int, *, refund_id="re_failed_1", kind="refund.failed", created=None
):
    obj = so.refund("ch_same", session["payment_intent"], amount, refund_id=refund_id)
    obj["status"] = "failed"
    obj["failure_reason"] = "expired_or_canceled_card"
    return so.event(obj, kind, created=created)


def at(event: dict, created: int) -> dict:
    """The event as Stripe created it at ``created`` (seconds)."""
    return {**event, "created": created}


def everywhere(place) -> list[int]:
    return [
        raised(TotalScope.PAGE, place["page"].id),
        raised(TotalScope.EVENT, place["event"].id),
        raised(TotalScope.CAUSE, place["cause"].id),
        raised(TotalScope.ORGANISATION, place["org"].id),
    ]


@pytest.mark.parametrize("kind", ["refund.failed", "charge.refund.updated"])
def test_a_failed_refund_gives_the_money_back_once(post, place, kind):
    session = gift(post, place)
    then = int(time.time())
    first = at(refunded(session, 1000), then - 20)
    assert_outcome(post(first), "recorded")
    assert everywhere(place) == [1500, 1500, 1500, 1500]
    event = failed(session, 1000, kind=kind, created=then - 10)
    assert_outcome(post(event), "recorded")
    assert everywhere(place) == [2500, 2500, 2500, 2500]
    # A replay, and the same refund's failure under another event id, add nothing.
    assert_outcome(post(event), "duplicate")
    assert_outcome(post(failed(session, 1000)), "duplicate")
    assert rows(DonationKind.REFUND_REVERSAL) == [1000]
    assert totals.figures_one(TotalScope.PAGE, place["page"].id) == totals.Figures(2500, 1, 1)
    # The old snapshot of the charge, delivered late, does not refund it again.
    assert_outcome(post(at(refunded(session, 1000), then - 20)), "duplicate")
    assert raised(TotalScope.PAGE, place["page"].id) == 2500
    assert totals.drift() == []


def test_a_refund_update_that_is_no_failure_changes_nothing(post, place):
    session = gift(post, place)
    assert_outcome(post(refunded(session, 1000)), "recorded")
    update = failed(session, 1000, kind="charge.refund.updated")
    update["data"]["object"]["status"] = "succeeded"
    assert_outcome(post(update), "ignored")
    assert raised(TotalScope.PAGE, place["page"].id) == 1500


def test_a_failure_before_its_refund_is_kept_and_applied_when_the_refund_arrives(db, post, place):
    session = gift(post, place)
    early = failed(session, 1000)
    assert_outcome(post(early), "anomaly")
    assert raised(TotalScope.PAGE, place["page"].id) == 2500
    assert_outcome(post(refunded(session, 1000)), "recorded")
    assert rows(DonationKind.REFUND) == [-1000]
    assert rows(DonationKind.REFUND_REVERSAL) == [1000]
    assert db.session.get(StripeEvent, early["id"]).resolved_at is not None
    assert raised(TotalScope.CAUSE, place["cause"].id) == 2500
    assert totals.drift() == []


def test_a_failure_for_an_unknown_payment_is_an_anomaly_and_applied_with_its_gift(db, post, place):
    session = paid(place)
    early_refund, early_failure = refunded(session, 1000), failed(session, 1000)
    assert_outcome(post(early_refund), "anomaly")
    assert_outcome(post(early_failure), "anomaly")
    kept = db.session.get(StripeEvent, early_failure["id"])
    assert kept.outcome == "anomaly" and kept.payload["id"] == "re_failed_1"
    assert count(Donation) == 0
    assert_outcome(post(completed(session)), "recorded")
    assert rows(DonationKind.REFUND) == [-1000]
    assert rows(DonationKind.REFUND_REVERSAL) == [1000]
    db.session.refresh(kept)
    assert kept.outcome == "recorded"
    assert raised(TotalScope.PAGE, place["page"].id) == 2500
    assert totals.drift() == []


def test_a_failed_refund_gives_back_no_more_than_was_refunded(post, place):
    session = gift(post, place)
    assert_outcome(post(refunded(session, 500)), "recorded")
    assert_outcome(post(failed(session, 1000)), "recorded")
    assert rows(DonationKind.REFUND_REVERSAL) == [500]
    assert raised(TotalScope.PAGE, place["page"].id) == 2500
    assert totals.drift() == []


def test_a_new_refund_after_a_failure_is_recorded(post, place):
    session = gift(post, place)
    assert_outcome(post(refunded(session, 1000)), "recorded")
    assert_outcome(post(failed(session, 1000)), "recorded")
    # Stripe's amount_refunded no longer holds the failed refund.
    assert_outcome(post(refunded(session, 700)), "recorded")
    assert raised(TotalScope.PAGE, place["page"].id) == 1800
    assert totals.drift() == []


def test_a_new_refund_of_the_same_amount_after_a_failure_is_recorded(post, place):
    session = gift(post, place)
    then = int(time.time())
    assert_outcome(post(at(refunded(session, 1000), then - 20)), "recorded")
    assert_outcome(post(failed(session, 1000, created=then - 10)), "recorded")
    # Stripe's amount_refunded is 1000 again: a second refund, sent after the failure.
    assert_outcome(post(at(refunded(session, 1000), then)), "recorded")
    assert raised(TotalScope.PAGE, place["page"].id) == 1500
    # ...while the first snapshot, delivered again late, is no new refund.
    assert_outcome(post(at(refunded(session, 1000), then - 20)), "duplicate")
    assert raised(TotalScope.PAGE, place["page"].id) == 1500
    assert totals.drift() == []
