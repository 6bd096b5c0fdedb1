"""Match challenges: each gift of the window is matched up to the cap, once;
refunds give their part back and what is freed is matched again; the page
shows what is left; the sponsor gets a statement; bad input changes nothing."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from campaigns.errors import ValidationError
from campaigns.giving.models import Donation, DonationKind
from campaigns.giving.payments import process_event
from campaigns.matching import services, settlement
from campaigns.matching.models import Match, MatchedGift
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from messaging.outbox.models import OutboxMessage
from tests import stripe_objects as so
from tests.factories import EventPageFactory, PageFactory

NOW = int(time.time())


def wall(dt: datetime) -> str:
    """A UTC time as the organiser types it (Paris wall clock, no zone)."""
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%dT%H:%M")


def make_match(org, in_cause, *, page=None, ratio="1:1", cap=5000, start=-3600, end=3600, **more):
    return services.create_match(
        None,
        org,
        {
            "cause": in_cause.slug,
            "page": more.pop("page_address", page.slug if page else ""),
            "sponsor_name": "Boulangerie Ana",
            "sponsor_email": "ana@example.org",
            "ratio": ratio,
            "cap_minor": cap,
            "starts_at": wall(datetime.fromtimestamp(NOW + start, UTC)),
            "ends_at": wall(datetime.fromtimestamp(NOW + end, UTC)),
            **more,
        },
    )


def give(cause, page, amount, *, at=NOW, email="d@example.org"):
    session = so.checkout_session(
        amount=amount, page=page.slug if page else "", cause=cause.slug, email=email
    )
    event = so.event(session, "checkout.session.completed", created=at)
    assert process_event(event) == "recorded"
    return session, event


def refund(session, cumulative):
    charge = so.charge(
        payment_intent_id=session["payment_intent"],
        amount=session["amount_total"],
        amount_refunded=cumulative,
        charge_id=f"ch_{session['payment_intent']}",
    )
    event = so.event(charge, "charge.refunded")
    process_event(event)
    return event


def match_rows(db) -> list[tuple]:
    return db.session.execute(
        select(Donation.kind, Donation.amount_minor, Donation.matched_gift_id)
        .where(Donation.kind.in_((DonationKind.MATCH, DonationKind.MATCH_RELEASE)))
        .order_by(Donation.id)
    ).all()


def test_gifts_are_matched_up_to_the_cap_and_counted_in_the_totals(db, org, cause, page):
    match = make_match(org, cause, page=page, cap=5000)
    give(cause, page, 2000)
    give(cause, page, 2500)
    give(cause, page, 1000)  # only 500 of the cap is left
    assert [r.amount_minor for r in match_rows(db)] == [2000, 2500, 500]
    assert match.matched_minor == 5000 == settlement.ledger_sum(match)
    fig = totals.figures_one(TotalScope.PAGE, page.id)
    # Matched money counts as raised, not as gifts or donors.
    assert (fig.raised_minor, fig.donation_count, fig.donor_count) == (10500, 3, 1)
    assert totals.figures_one(TotalScope.CAUSE, cause.id).raised_minor == 10500
    assert totals.drift() == []


def test_a_replayed_event_is_matched_once(db, org, cause, page):
    make_match(org, cause, page=page)
    _session, event = give(cause, page, 2000)
    assert process_event(event) == "duplicate"
    again = dict(event, id=so.stripe_id("evt"))  # another event for the same session
    assert process_event(again) == "duplicate"
    assert len(match_rows(db)) == 1
    assert db.session.scalar(select(func.count()).select_from(MatchedGift)) == 1


def test_gifts_outside_the_window_or_scope_are_not_matched(db, org, cause, page):
    other = PageFactory(cause=cause)
    make_match(org, cause, page=page, start=0, end=3600)
    give(cause, page, 1000, at=NOW - 60)  # before the start
    give(cause, page, 1000, at=NOW + 3600)  # the end itself is outside
    give(cause, other, 1000, at=NOW + 60)  # another page
    give(cause, page, 1000, at=NOW)  # the start itself is inside
    assert [r.amount_minor for r in match_rows(db)] == [1000]


def test_an_event_match_takes_every_page_of_the_event_and_a_cause_match_every_gift(db, org, cause):
    event_page = EventPageFactory(cause=cause)
    member = PageFactory(cause=cause, parent=event_page)
    elsewhere = PageFactory(cause=cause)
    make_match(org, cause, page=event_page, ratio="2:1", cap=100_000)
    make_match(org, cause, ratio="1:2", cap=100_000)
    give(cause, member, 1000)
    give(cause, elsewhere, 1000)
    amounts = sorted(r.amount_minor for r in match_rows(db))
    # The member's gift: 2000 (event, 2:1) + 500 (cause, 1:2); elsewhere: 500.
    assert amounts == [500, 500, 2000]
    assert totals.figures_one(TotalScope.EVENT, event_page.id).raised_minor == 3500
    assert totals.drift() == []


def test_a_refund_releases_its_part_and_the_freed_money_is_matched_again(db, org, cause, page):
    match = make_match(org, cause, page=page, cap=3000)
    first, _e = give(cause, page, 2000)
    give(cause, page, 2000)  # matched 1000 only: the cap ran out
    assert match.matched_minor == 3000
    refund(first, 1000)  # half of the first gift: 1000 of its match comes free
    db.session.refresh(match)
    # ... and goes to the second gift, matched short.
    assert match.matched_minor == 3000
    held = dict(db.session.execute(select(MatchedGift.gift_id, MatchedGift.matched_minor)).all())
    assert sorted(held.values()) == [1000, 2000]
    refund(first, 2000)  # the rest: nobody is short now, the cap has room
    db.session.refresh(match)
    assert match.matched_minor == 2000 == settlement.ledger_sum(match)
    give(cause, page, 4000)  # a later gift takes what is left
    db.session.refresh(match)
    assert match.matched_minor == 3000
    assert totals.drift() == []
    # A refund's match never reaches the gift's receipt or what it holds.
    from campaigns.giving.follow_ups import remaining

    gift = db.session.scalars(
        select(Donation).where(Donation.stripe_payment_intent_id == first["payment_intent"])
    ).one()
    assert remaining(gift) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cap_minor": 0}, "cap"),
        ({"cap_minor": -5}, "cap"),
        ({"ratio": "0:1"}, "ratio"),
        ({"ratio": "1:0"}, "ratio"),
        ({"ratio": "double"}, "ratio"),
        ({"ends_at": "2020-01-01T10:00", "starts_at": "2020-01-01T12:00"}, "ends_at"),
        ({"starts_at": "soon"}, "starts_at"),
        ({"sponsor_name": ""}, "sponsor_name"),
        ({"sponsor_email": "not-an-address"}, "sponsor_email"),
        ({"cause": "nope"}, "cause"),
        ({"page_address": "no-such-page"}, "page"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    db, org, cause, page, change, field
):
    with pytest.raises(ValidationError) as refused:
        make_match(org, cause, page=page, **change)
    assert field in refused.value.errors
    assert db.session.scalar(select(func.count()).select_from(Match)) == 0


def test_the_page_shows_what_is_left_and_the_statement_goes_to_the_sponsor(
    db, client, org, cause, page
):
    match = make_match(org, cause, page=page, cap=500_000)
    give(cause, page, 188_000)
    db.session.commit()
    html = client.get(f"/p/{page.slug}").get_data(as_text=True)
    notice = re.sub(r"<[^>]+>", "", html[html.index("Doubled until") :][:300])
    assert "€3,120 of €5,000 left" in notice, notice
    assert f'data-live-match="{match.id}"' in html
    # Once the window has ended: one statement, however often the job runs.
    later = datetime.fromtimestamp(NOW + 7200, UTC)
    assert services.send_statements(later) == 1
    assert services.send_statements(later) == 0
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == "ana@example.org")
    ).one()
    assert "1\u202f880\xa0€" in mail.body_text  # the organisation's language: French
    assert "Total owed" in mail.body_text
    assert "d@example.org" not in mail.body_text


def test_staff_set_a_match_and_another_organisations_staff_get_404(
    db, client, as_agent, org, cause, page, staffer, outsider
):
    as_agent(staffer)
    response = client.post(
        f"/staff/{org.slug}/matches/",
        data={
            "cause": cause.slug,
            "page": f"https://example.org/p/{page.slug}",
            "sponsor_name": "Ana",
            "sponsor_email": "",
            "ratio": "1:1",
            "cap": "0",
            "starts_at": "2026-06-21T19:00",
            "ends_at": "2026-06-21T18:00",
        },
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Enter the cap as an amount above zero" in text
    assert "The match must end after it starts." in text
    assert db.session.scalar(select(func.count()).select_from(Match)) == 0
    response = client.post(
        f"/staff/{org.slug}/matches/",
        data={
            "cause": cause.slug,
            "page": page.slug,
            "sponsor_name": "Ana",
            "ratio": "2:1",
            "cap": "5000",
            "starts_at": "2026-06-21T19:00",
            "ends_at": "2026-06-21T22:00",
        },
    )
    assert response.status_code == 303
    match = db.session.scalars(select(Match)).one()
    assert (match.ratio_num, match.cap_minor) == (2, 500_000)
    assert match.ends_at == datetime(2026, 6, 21, 20, 0, tzinfo=UTC)  # 22:00 in Paris
    assert client.get(f"/staff/{org.slug}/matches/{match.id}").status_code == 200
    csv = client.get(f"/staff/{org.slug}/matches/{match.id}/statement.csv")
    assert csv.status_code == 200 and "matched_minor" in csv.get_data(as_text=True)

    as_agent(outsider)
    other_org = outsider.memberships[0].organisation if hasattr(outsider, "memberships") else None
    slug = other_org.slug if other_org else "autre"
    assert client.get(f"/staff/{slug}/matches/{match.id}").status_code == 404
    assert client.get(f"/staff/{slug}/matches/{match.id}/statement.csv").status_code == 404
    assert client.get(f"/staff/{org.slug}/matches/{match.id}").status_code == 403
