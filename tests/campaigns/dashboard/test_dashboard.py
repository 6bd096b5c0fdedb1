"""The organisation's dashboard: who gets in, what each section shows with known
data, the charts (hours in the organisers' time zone, net of refunds), and a
number of queries that does not grow with the pages.

Fixture data is committed before the first request (a savepoint inside the
test's outer transaction).
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from agents.models import Agent
from campaigns import audit
from campaigns.dashboard import charts
from campaigns.giving.ledger import record_gift
from campaigns.giving.models import Donation, StripeEvent
from campaigns.model_types import utcnow
from campaigns.offline.models import OfflineGift
from campaigns.organisations.models import Cause, CauseStatus, Organisation
from campaigns.pages.models import PageStatus
from messaging.outbox.models import OutboxMessage
from messaging.sharing import services as sharing
from tests.conftest import count_queries
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    PageFactory,
    ProjectFactory,
    refund_row,
)

PARIS = ZoneInfo("Europe/Paris")
DASHBOARD = "/staff/eau-vive/dashboard/"


class _Finder(HTMLParser):
    """The text (and raw tags) inside the element with a given id."""

    def __init__(self, element_id: str):
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if self.depth:
            self.depth += 1
            self.tags.append((tag, attributes))
        elif attributes.get("id") == self.element_id:
            self.depth = 1

    def handle_startendtag(self, tag, attrs):
        if self.depth:
            self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def element(response, element_id: str) -> _Finder:
    finder = _Finder(element_id)
    finder.feed(response.get_data(as_text=True))
    return finder


def text_of(response, element_id: str) -> str:
    """The element's text with whitespace squeezed; fails if it is not there."""
    found = element(response, element_id)
    assert found.text or found.tags, f"no element #{element_id}"
    return re.sub(r"\s+", " ", " ".join(found.text)).strip()


def page_text(response) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(response.get_data(as_text=True)))


# --- who gets in ----------------------------------------------------------------


def test_an_agent_who_is_not_staff_gets_403(db, client, as_agent, cause, outsider):
    as_agent(outsider)
    for url in (DASHBOARD, f"{DASHBOARD}?cause=twestival"):
        assert client.get(url).status_code == 403, url


def test_an_agent_with_no_organisation_gets_403(db, client, as_agent, cause):
    as_agent(AgentFactory())
    assert client.get(DASHBOARD).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(db, client, cause):
    db.session.commit()
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]


def test_the_staff_overview_and_list_link_to_the_dashboard(db, client, as_agent, staffer, cause):
    as_agent(staffer)
    assert f'href="{DASHBOARD}"' in client.get("/staff/").text
    assert f'href="{DASHBOARD}"' in client.get("/staff/eau-vive/").text


# --- what it shows --------------------------------------------------------------


@pytest.fixture
def campaign(db, org, cause, staffer):
    """A cause with an event in Lyon and its member page, a page in Marseille,
    a hidden page, a project, and gifts on each."""
    wells = ProjectFactory(cause=cause, slug="wells", name="Wells", goal_minor=5000)
    lyon = EventPageFactory(cause=cause, slug="lyon-night", title="Lyon night", city="Lyon")
    ana = PageFactory(cause=cause, parent=lyon, slug="ana-runs", title="Ana runs")
    bob = PageFactory(cause=cause, slug="bob-swims", title="Bob swims", city="Marseille")
    PageFactory(
        cause=cause,
        slug="spam-page",
        title="Spam page",
        status=PageStatus.HIDDEN,
        hidden_reason="Links to a casino",
    )
    PageFactory(cause=cause, slug="old-page", published_at=utcnow() - timedelta(days=30))
    link = sharing.link_for(ana.owner, ana, "x")
    for _click in range(3):
        sharing.record_click(link.code)
    record_gift(
        page=ana,
        cause=cause,
        amount_minor=2500,
        donor_email="a@example.org",
        project=wells,
        extra={"share_link_id": link.id},
    )
    record_gift(page=lyon, cause=cause, amount_minor=1000, donor_email="b@example.org")
    record_gift(page=bob, cause=cause, amount_minor=4000, donor_email="c@example.org")
    record_gift(
        page=None, cause=cause, amount_minor=700, donor_name="Dana", donor_email="d@example.org"
    )
    db.session.add_all(
        [
            StripeEvent(
                id="evt_anomaly",
                type="checkout.session.completed",
                outcome="anomaly",
                detail="The gift names a currency the organisation does not use.",
                organisation_id=org.id,
                amount_minor=1500,
                currency="EUR",
            ),
            StripeEvent(
                id="evt_resolved",
                type="charge.refunded",
                outcome="anomaly",
                detail="Resolved long ago.",
                organisation_id=org.id,
                resolved_at=utcnow(),
            ),
            OfflineGift(
                page_id=ana.id,
                recorded_by_id=ana.owner_id,
                amount_minor=3000,
                currency="EUR",
                method="cash",
                donor_name="Chloé",
                collected_on=utcnow(),
            ),
        ]
    )
    for n, status in enumerate(["dead", "dead", "sent", "queued", "review", "failed"]):
        db.session.add(
            OutboxMessage(
                dedupe_key=f"test:{n}", organisation_id=org.id, channel="email", status=status
            )
        )
    db.session.flush()
    audit.record(org.id, staffer, "page.hide", "Hid “Spam page”: links to a casino")
    return {"lyon": lyon, "ana": ana, "bob": bob, "wells": wells}


def test_headline_figures_are_the_cause_totals_inside_the_live_container(
    db, client, as_agent, staffer, campaign
):
    as_agent(staffer)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    container = re.search(
        r'<section[^>]*data-live-stream="([^"]+)"[^>]*>(.*?)</section>', response.text, re.S
    )
    assert container is not None
    assert container.group(1) == "/api/v1/causes/twestival/stream"
    inside = container.group(2)
    assert re.search(r'data-live="cause-raised">€82<', inside)  # 25 + 10 + 40 + 7
    assert re.search(r'data-live="cause-donations">4<', inside)
    assert re.search(r'data-live="cause-donors">4<', inside)
    assert re.search(r'<progress max="100" value="0" data-live="cause-progress"', inside)
    assert 'data-live-label="{pct}% of the goal"' in inside


def test_totals_per_cause_project_event_page_and_city(db, client, as_agent, staffer, campaign):
    as_agent(staffer)
    response = client.get(DASHBOARD)
    causes = text_of(response, "cause-totals")
    assert "Twestival Published €82 4 4 €10,000 (0%)" in causes
    assert "Wells €25 1 1 €50 (50%)" in text_of(response, "project-totals")
    events = text_of(response, "event-totals")
    assert "Lyon night Lyon Published €35 2 2 €500 (7%)" in events  # its member page counts
    pages = text_of(response, "page-totals")
    assert pages.index("Bob swims") < pages.index("Ana runs")  # by money raised
    assert "Bob swims Published €40 1 1" in pages
    assert "Spam page Hidden €0" in pages
    cities = text_of(response, "top-cities")
    assert cities.index("Marseille €40") < cities.index("Lyon €35")


def test_share_funnel_per_channel(db, client, as_agent, staffer, campaign):
    as_agent(staffer)
    funnel = text_of(client.get(DASHBOARD), "share-funnel")
    assert "X 3 1 33.3 €25" in funnel
    assert "Facebook 0 0 — €0" in funnel


def test_what_needs_a_person(db, client, as_agent, staffer, campaign):
    as_agent(staffer)
    response = client.get(DASHBOARD)
    text = page_text(response)
    assert "€7 net from 1 gift." in text
    assert "Dana €7" in text_of(response, "unattributed")
    anomalies = text_of(response, "anomalies")
    assert "evt_anomaly" in anomalies
    assert "does not use" in anomalies
    assert "evt_resolved" not in anomalies
    assert "1 gift waiting for confirmation (€30)" in text
    gift_id = db.session.scalar(OfflineGift.__table__.select().with_only_columns(OfflineGift.id))
    assert f'href="/staff/eau-vive/offline#gift-{gift_id}"' in response.text
    assert "Chloé" in text_of(response, "offline-pending")
    outbox = text_of(response, "outbox-health")
    for expected in ("Waiting: 1", "Sent: 1", "Failed, will retry: 1", "dead letters): 2"):
        assert expected in outbox
    assert "To review: 1" in outbox
    assert 'href="/staff/eau-vive/outbox/"' in response.text


def test_latest_gifts_open_the_gift_page_where_staff_can_refund(
    db, client, as_agent, staffer, campaign
):
    as_agent(staffer)
    response = client.get(DASHBOARD)
    latest = text_of(response, "latest-gifts")
    for page_title in ("Ana runs", "Lyon night", "Bob swims"):
        assert page_title in latest
    newest = db.session.scalar(select(func.max(Donation.id)))
    link = f'href="/staff/eau-vive/donations/{newest}"'
    assert link in response.text
    assert client.get(f"/staff/eau-vive/donations/{newest}").status_code == 200
    unattributed = db.session.scalar(select(Donation.id).where(Donation.is_unattributed.is_(True)))
    assert f'href="/staff/eau-vive/donations/{unattributed}"' in response.text


def test_moderation_queue_links_to_hide_and_unhide(db, client, as_agent, staffer, campaign):
    as_agent(staffer)
    response = client.get(DASHBOARD)
    recent = text_of(response, "recently-published")
    assert "Bob swims" in recent
    assert "old-page" not in response.text.split('id="recently-published"')[1].split("</ul>")[0]
    assert 'href="/staff/eau-vive/pages/bob-swims/hide"' in response.text
    hidden = text_of(response, "hidden-pages")
    assert "Spam page" in hidden
    assert "Reason: Links to a casino" in hidden
    assert 'action="/staff/eau-vive/pages/spam-page/unhide"' in response.text


def test_audit_log_shows_who_did_what_and_pages_back(db, client, as_agent, staffer, campaign, org):
    for n in range(30):
        audit.record(
            org.id,
            staffer,
            "offline.confirm",
            f"Confirmed gift {n}",
            amount_minor=100 * n,
            currency="EUR",
        )
    as_agent(staffer)
    first = client.get(DASHBOARD)
    log = element(first, "audit-log")
    ids = [int(a["data-audit-id"]) for tag, a in log.tags if tag == "tr" and "data-audit-id" in a]
    assert len(ids) == 25
    assert ids == sorted(ids, reverse=True)
    newest = text_of(first, "audit-log")
    assert "Cash or cheque confirmed Confirmed gift 29 €29" in newest
    assert staffer.name in newest
    older = re.search(r'href="([^"]*audit_before=(\d+)[^"]*)"', first.text)
    assert int(older.group(2)) == ids[-1]
    second = client.get(html_lib.unescape(older.group(1)))
    log = element(second, "audit-log")
    rest = [int(a["data-audit-id"]) for tag, a in log.tags if tag == "tr" and "data-audit-id" in a]
    assert len(rest) == 6  # 5 confirmations and the hidden page
    assert max(rest) < min(ids)
    assert "Page hidden" in text_of(second, "audit-log")
    assert "audit_before=" not in second.text.split('id="audit-log"')[1].split("Older")[0]


def test_several_causes_pick_the_first_published_or_the_one_asked(
    db, client, as_agent, staffer, org, cause
):
    draft = CauseFactory(organisation=org, slug="draft-one", status=CauseStatus.DRAFT)
    later = CauseFactory(organisation=org, slug="later", title="Later cause")
    record_gift(page=PageFactory(cause=later), cause=later, amount_minor=1200)
    as_agent(staffer)
    default = client.get(DASHBOARD)
    assert 'data-live-stream="/api/v1/causes/twestival/stream"' in default.text
    chosen = client.get(f"{DASHBOARD}?cause=later")
    assert 'data-live-stream="/api/v1/causes/later/stream"' in chosen.text
    assert re.search(r'data-live="cause-raised">€12<', chosen.text)
    assert client.get(f"{DASHBOARD}?cause={draft.slug}").status_code == 200


def test_bad_input_is_a_clear_4xx(db, client, as_agent, staffer, cause):
    other = CauseFactory(slug="not-ours")
    as_agent(staffer)
    for query in ("?day=21/06/2026", "?day=2026-13-01", "?day=yesterday", "?day=0001-01-01"):
        response = client.get(DASHBOARD + query)
        assert response.status_code == 400, query
        assert "YYYY-MM-DD" in response.text
    for value in ("abc", "%C2%B2", "1" * 13):  # "²" passes str.isdigit()
        response = client.get(f"{DASHBOARD}?audit_before={value}")
        assert response.status_code == 400, value
        assert "older entries" in response.text
    for slug in ("nope", other.slug):
        response = client.get(f"{DASHBOARD}?cause={slug}")
        assert response.status_code == 404
        assert "no cause at this address" in response.text


def test_an_organisation_with_no_cause_still_has_a_dashboard(db, client, as_agent, staffer):
    as_agent(staffer)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert "Create a cause" in response.text
    assert "data-live-stream" not in response.text


# --- charts ---------------------------------------------------------------------


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def event_day(db, cause):
    """Gifts around an event on 21 June 2026, 19:00 in Paris (UTC+2)."""
    lyon = EventPageFactory(cause=cause, slug="lyon-night", starts_at=_utc(2026, 6, 21, 17))
    page = PageFactory(cause=cause, parent=lyon)
    at = {
        "early": _utc(2026, 6, 20, 22, 30),  # 00:30 on the 21st in Paris
        "evening": _utc(2026, 6, 21, 18, 10),  # 20:10
        "evening2": _utc(2026, 6, 21, 18, 50),  # 20:50
        "late": _utc(2026, 6, 21, 22, 30),  # 00:30 on the 22nd
    }
    record_gift(page=page, cause=cause, amount_minor=1000, created_at=at["early"])
    gift = record_gift(page=page, cause=cause, amount_minor=2500, created_at=at["evening"])
    record_gift(page=lyon, cause=cause, amount_minor=500, created_at=at["evening2"])
    record_gift(page=page, cause=cause, amount_minor=4000, created_at=at["late"])
    refund_row(gift, 500, _utc(2026, 6, 21, 18, 20))
    return lyon


def test_gifts_per_hour_fall_in_the_organisers_hours_net_of_refunds(db, cause, event_day):
    buckets = charts.gifts_per_hour(cause.id, date(2026, 6, 21), PARIS)
    assert len(buckets) == 24
    assert [b.start.hour for b in buckets] == list(range(24))
    assert (buckets[0].net_minor, buckets[0].gift_count) == (1000, 1)
    assert (buckets[20].net_minor, buckets[20].gift_count) == (2500, 2)  # 2500 + 500 - 500
    assert sum(b.net_minor for b in buckets) == 3500  # the 00:30 gift of the 22nd is not here


def test_gifts_per_day_are_local_days(db, cause, event_day):
    buckets = charts.gifts_per_day(cause.id, date(2026, 6, 20), date(2026, 6, 22), PARIS)
    assert [b.start.date() for b in buckets] == [date(2026, 6, d) for d in (20, 21, 22)]
    assert [b.net_minor for b in buckets] == [0, 3500, 4000]
    assert [b.gift_count for b in buckets] == [0, 3, 1]


def test_a_clock_change_day_has_23_hours(db, cause):
    record_gift(page=None, cause=cause, amount_minor=900, created_at=_utc(2026, 3, 29, 1, 30))
    buckets = charts.gifts_per_hour(cause.id, date(2026, 3, 29), PARIS)
    assert len(buckets) == 23
    assert [b.start.hour for b in buckets][:4] == [0, 1, 3, 4]
    assert buckets[2].net_minor == 900  # 01:30 UTC is 03:30 summer time


def test_the_event_day_chart_is_an_accessible_svg_with_24_bars(
    db, client, as_agent, staffer, event_day
):
    as_agent(staffer)
    for url in (DASHBOARD, f"{DASHBOARD}?day=2026-06-21"):
        response = client.get(url)
        assert response.status_code == 200
        chart = element(response, "gifts-per-hour")
        svg = [a for tag, a in chart.tags if tag == "svg"]
        assert svg and svg[0]["role"] == "img"
        assert svg[0]["aria-labelledby"] == "gifts-per-hour-title gifts-per-hour-desc"
        bars = [a for tag, a in chart.tags if tag == "rect" and "bar" in a["class"].split()]
        assert len(bars) == 24
        assert [int(b["data-net-minor"]) for b in bars][20] == 2500
        heights = [float(b["height"]) for b in bars]
        assert heights[20] == max(heights) > heights[0] > 0 == heights[1]
        table = text_of(response, "gifts-per-hour")
        assert "Gifts per hour on Sunday, June 21, 2026" in table
        assert "8:00 PM €25 2" in table  # the hidden table, row by row
        assert len([t for t, _a in chart.tags if t == "tr"]) == 25  # header + 24 hours
    assert '?cause=twestival&amp;day=2026-06-21" aria-current="date">Jun 21, 2026<' in response.text
    other_day = client.get(f"{DASHBOARD}?day=2026-06-22")
    bars = [a for tag, a in element(other_day, "gifts-per-hour").tags if tag == "rect"]
    assert int(bars[0]["data-net-minor"]) == 4000


def test_charts_scale_and_describe_themselves(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        start = datetime(2026, 6, 21, tzinfo=PARIS)
        buckets = [
            charts.Bucket(start + timedelta(hours=n), v, 1 if v else 0)
            for n, v in enumerate([0, 1000, -500, 4000])
        ]
        chart = charts.bar_chart(
            "c", "Title", buckets, "EUR", label=str, short_label=str, period_heading="Hour"
        )
        assert len(chart.bars) == 4
        tallest = max(chart.bars, key=lambda b: b.height)
        assert tallest.net_minor == 4000
        negative = chart.bars[2]
        assert negative.y == chart.baseline and negative.height > 0  # below the zero line
        assert chart.bars[0].height == 0
        assert "€45 net from 3 gifts" in chart.description
        empty = charts.bar_chart(
            "e",
            "T",
            [charts.Bucket(start, 0, 0)],
            "EUR",
            label=str,
            short_label=str,
            period_heading="Hour",
        )
        assert empty.description == "No gift in this period."
    assert [charts.nice_step(n) for n in (1, 7, 40, 4500, 99_999)] == [1, 1, 10, 2000, 50_000]


# --- speed ----------------------------------------------------------------------


def _grow(db, org_id: int, cause_id: int, staffer_id: int, n: int) -> None:
    """n more of everything the dashboard lists: events, pages, gifts, cities,
    hidden pages, offline gifts, anomalies, audit entries, share links."""
    org, cause = db.session.get(Organisation, org_id), db.session.get(Cause, cause_id)
    staffer = db.session.get(Agent, staffer_id)
    for i in range(n):
        event = EventPageFactory(cause=cause, city=f"City {i}", starts_at=utcnow())
        page = PageFactory(cause=cause, parent=event)
        PageFactory(cause=cause, status=PageStatus.HIDDEN, hidden_reason="spam")
        ProjectFactory(cause=cause)
        link = sharing.link_for(page.owner, page, "facebook")
        sharing.record_click(link.code)
        record_gift(page=page, cause=cause, amount_minor=1000 + i, extra={"share_link_id": link.id})
        record_gift(page=None, cause=cause, amount_minor=300)
        db.session.add(
            OfflineGift(page_id=page.id, amount_minor=500, currency="EUR", collected_on=utcnow())
        )
        db.session.add(
            StripeEvent(id=f"evt_{n}_{i}", type="x", outcome="anomaly", organisation_id=org_id)
        )
        audit.record(org.id, staffer, "page.hide", f"entry {i}")
    db.session.commit()


def test_the_number_of_queries_does_not_grow_with_the_pages(
    db, client, as_agent, staffer, org, cause
):
    as_agent(staffer)

    def queries() -> int:
        with count_queries(db) as statements:
            assert client.get(DASHBOARD).status_code == 200
        return len(statements)

    ids = (org.id, cause.id, staffer.id)
    _grow(db, *ids, 2)
    few = queries()
    _grow(db, *ids, 8)
    assert queries() == few
    assert few < 40
