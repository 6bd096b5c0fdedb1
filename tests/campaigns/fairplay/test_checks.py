"""Gifts are flagged as they are recorded: the page owner's (or a co-host's)
address or card, and bursts of small gifts from one card or address; a
normal pattern is never flagged. The card comes from what Stripe sent:
an expanded session, the fee lookup's charge."""

# The fixtures post and place come from test_webhooks.py, imported by name.
# ruff: noqa: F401, F811

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from campaigns.donors.services import erase_on_request
from campaigns.fairplay.models import FairPlayFlag, FlagStatus, GiftCard
from campaigns.giving import ledger
from campaigns.giving.fee_lookup import record_fees
from campaigns.giving.models import Donation
from campaigns.giving.payments import process_event
from campaigns.pages.models import PageHost
from campaigns.signals import card_seen
from extensions import db as _db
from tests import stripe_objects as so
from tests.campaigns.giving.test_webhooks import assert_outcome, completed, paid, place, post
from tests.factories import AgentFactory, CauseFactory, EventPageFactory, PageFactory

T0 = datetime(2026, 6, 21, 19, 0, tzinfo=UTC)
API = "https://api.stripe.com/v1"


def give(page, amount, email, *, at=None, card=None):
    gift = ledger.record_gift(
        page=page, cause=page.cause, amount_minor=amount, donor_email=email, created_at=at
    )
    if card:
        card_seen.send(gift, fingerprint=card)
    return gift


def flags() -> dict[int, FairPlayFlag]:
    return {f.gift_id: f for f in _db.session.scalars(select(FairPlayFlag))}


@pytest.fixture
def pages(db):
    cause = CauseFactory()
    owner = AgentFactory(email="Lea.Martin@example.org")
    mine = PageFactory(cause=cause, owner=owner, title="Léa court")
    theirs = PageFactory(cause=cause, title="Hugo nage")
    return {"cause": cause, "owner": owner, "mine": mine, "theirs": theirs}


def test_a_gift_from_the_owners_address_is_flagged_and_a_strangers_is_not(db, pages):
    mine, theirs = pages["mine"], pages["theirs"]
    own = give(mine, 20_00, "  lea.martin@EXAMPLE.org ")  # case and spaces aside
    friend = give(mine, 20_00, "friend@example.org")
    elsewhere = give(theirs, 20_00, "lea.martin@example.org")  # the owner gives to another page
    found = flags()
    assert set(found) == {own.id}
    flag = found[own.id]
    assert flag.status == FlagStatus.OPEN and flag.page_id == mine.id
    assert (flag.is_self_gift, flag.is_velocity) == (True, False)
    assert flag.evidence == {"self_gift": ["email"]}
    assert friend.id not in found and elsewhere.id not in found


def test_a_cohost_of_the_event_the_page_counts_in_gives_a_self_gift(db):
    cause = CauseFactory()
    event = EventPageFactory(cause=cause)
    cohost = AgentFactory(email="cohost@example.org")
    db.session.add(PageHost(page_id=event.id, agent_id=cohost.id))
    member = PageFactory(cause=cause, parent=event)
    gift = give(member, 30_00, "cohost@example.org")  # counts on the event's board too
    assert flags()[gift.id].is_self_gift


def test_a_gift_with_the_owners_card_is_flagged_whichever_comes_first(db, pages):
    mine, theirs = pages["mine"], pages["theirs"]
    # The owner pays a friend's page with her card: no self-gift, but the card is hers.
    hers = give(theirs, 10_00, "lea.martin@example.org", card="fp_lea")
    disguised = give(mine, 40_00, "someone@example.org", card="fp_lea")
    other_card = give(mine, 40_00, "someone-else@example.org", card="fp_other")
    found = flags()
    assert set(found) == {disguised.id}
    assert found[disguised.id].evidence == {"self_gift": ["card"]}
    assert _db.session.get(GiftCard, disguised.id).fingerprint == "fp_lea"
    assert other_card.id not in found and hers.id not in found

    # The other way round: the card was used on her page before she gave with it.
    early = give(mine, 15_00, "anon@example.org", card="fp_lea_2")
    assert early.id not in flags()
    give(theirs, 5_00, "lea.martin@example.org", card="fp_lea_2")
    assert flags()[early.id].evidence == {"self_gift": ["card"]}


def test_the_same_card_told_twice_is_kept_once(db, pages):
    gift = give(pages["mine"], 10_00, "a@example.org", card="fp_1")
    card_seen.send(gift, fingerprint="fp_1")
    card_seen.send(gift, fingerprint="fp_changed")
    cards = list(_db.session.scalars(select(GiftCard)))
    assert [(c.gift_id, c.fingerprint) for c in cards] == [(gift.id, "fp_1")]


def test_a_donor_erased_on_request_leaves_no_card_behind(db, pages):
    gone = give(pages["mine"], 10_00, "erase.me@example.org", card="fp_gone")
    kept = give(pages["theirs"], 10_00, "stays@example.org", card="fp_kept")
    erase_on_request("erase.me@example.org")
    cards = [(c.gift_id, c.fingerprint) for c in _db.session.scalars(select(GiftCard))]
    assert cards == [(kept.id, "fp_kept")]
    assert _db.session.get(Donation, gone.id).donor_email == ""


def test_a_burst_of_small_gifts_from_one_card_flags_every_gift_of_it(db, pages):
    mine = pages["mine"]
    burst = [
        give(mine, 2_00, f"donor{n}@example.org", at=T0 + timedelta(minutes=2 * n), card="fp_b")
        for n in range(5)
    ]
    found = flags()
    assert set(found) == {g.id for g in burst}
    assert all(f.is_velocity and f.evidence == {"velocity": ["card"]} for f in found.values())
    # The burst goes on: the next one is flagged too, the earlier flags unchanged.
    more = give(mine, 3_00, "donor9@example.org", at=T0 + timedelta(minutes=12), card="fp_b")
    assert more.id in flags() and len(flags()) == 6


def test_a_burst_of_small_gifts_from_one_address_is_flagged(db, pages):
    theirs = pages["theirs"]
    burst = [give(theirs, 1_00, "bot@example.org", at=T0 + timedelta(minutes=n)) for n in range(5)]
    found = flags()
    assert set(found) == {g.id for g in burst}
    assert found[burst[0].id].evidence == {"velocity": ["email"]}


def test_a_normal_pattern_is_not_flagged(db, pages):
    mine, theirs = pages["mine"], pages["theirs"]
    for n in range(4):  # four small gifts on one card: below the count
        give(mine, 2_00, f"four{n}@example.org", at=T0 + timedelta(minutes=n), card="fp_four")
    for n in range(6):  # one card, once every two hours
        give(mine, 2_00, f"slow{n}@example.org", at=T0 + timedelta(hours=2 * n), card="fp_slow")
    for n in range(6):  # one card, generous gifts
        give(theirs, 50_00, f"big{n}@example.org", at=T0 + timedelta(minutes=n), card="fp_big")
    for n in range(8):  # a crowd at an event: many small gifts, each their own card
        give(theirs, 5_00, f"crowd{n}@example.org", at=T0 + timedelta(minutes=n), card=f"fp_{n}")
    for n in range(3):  # one donor coming back the same evening
        give(theirs, 2_00, "fan@example.org", at=T0 + timedelta(minutes=10 * n))
    assert _db.session.scalar(select(Donation.id).limit(1)) is not None
    assert flags() == {}


def test_the_burst_thresholds_are_settings(db, pages, app, monkeypatch):
    monkeypatch.setitem(app.config, "FAIRPLAY_VELOCITY_COUNT", 3)
    monkeypatch.setitem(app.config, "FAIRPLAY_SMALL_GIFT_MINOR", 10_00)
    burst = [
        give(pages["mine"], 9_00, f"d{n}@example.org", at=T0 + timedelta(minutes=n), card="fp")
        for n in range(3)
    ]
    assert set(flags()) == {g.id for g in burst}


def test_a_cleared_flag_opens_again_for_a_new_reason(db, pages):
    own = give(pages["mine"], 2_00, "lea.martin@example.org", at=T0)
    flag = flags()[own.id]
    flag.status = FlagStatus.CLEARED
    _db.session.flush()
    for n in range(1, 5):
        give(pages["mine"], 2_00, "lea.martin@example.org", at=T0 + timedelta(minutes=n))
    flag = flags()[own.id]
    assert flag.status == FlagStatus.OPEN
    assert flag.evidence == {"self_gift": ["email"], "velocity": ["email"]}


# --- the card, from what Stripe sent ------------------------------------------------


def test_an_expanded_session_names_the_card(db, place):
    session = paid(place)
    session["payment_intent"] = so.paid_intent(session, None)
    assert process_event(completed(session)) == "recorded"
    gift = _db.session.scalar(select(Donation).where(Donation.stripe_event_id.is_not(None)))
    assert _db.session.get(GiftCard, gift.id).fingerprint == "AOB934RVNwzk6xtn"


def test_the_fee_lookup_keeps_the_card_of_the_charge_it_reads(db, post, place, stripe_api):
    session = paid(place)
    assert_outcome(post(completed(session)), "recorded")
    assert _db.session.scalar(select(GiftCard.gift_id)) is None  # no card in the webhook
    stripe_api.get(
        f"{API}/payment_intents/{session['payment_intent']}",
        json=so.paid_intent(session, so.balance_transaction()),
    )
    record_fees()
    gift = _db.session.scalar(
        select(Donation).where(Donation.stripe_payment_intent_id == session["payment_intent"])
    )
    assert _db.session.get(GiftCard, gift.id).fingerprint == "AOB934RVNwzk6xtn"
    assert len(stripe_api.calls) == 1  # the call it made anyway, no other
