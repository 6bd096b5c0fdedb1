"""Gifts over time: the series read from the ledger, and bar charts drawn as
server-rendered SVG (no JavaScript, no chart library to vendor).

This module computes the numbers and the geometry;
``templates/staff/_dashboard_chart.html`` draws them as an inline SVG with
``role="img"``, a ``<title>`` and a ``<desc>``, and the same figures in a
visually-hidden table for screen readers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import format_date, format_time
from flask_babel import gettext as _
from sqlalchemy import func, literal_column, select

from campaigns.giving.models import Donation
from campaigns.money import minor_factor
from campaigns.organisations.models import Cause
from campaigns.pages.models import Page, PageStatus
from campaigns.templating import money
from campaigns.totals import services as totals
from extensions import db

# The daily chart shows at most this many days, ending today (or the cause's end).
DAILY_WINDOW = 90


@dataclass(frozen=True)
class Bucket:
    """Net money and gift count in one hour or day, starting at ``start`` (local)."""

    start: datetime
    net_minor: int
    gift_count: int


# --- gifts over time (the ledger, one window) -------------------------------


def _hour_utc(column, dialect: str):
    """The UTC hour a ledger row falls in, truncated by the database: the only
    place that knows the dialects apart."""
    if dialect == "postgresql":
        return func.date_trunc(
            literal_column("'hour'"), func.timezone(literal_column("'UTC'"), column)
        )
    # SQLite stores UTC as naive text (UTCDateTime).
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), column)


def _hourly(cause_id: int, start: datetime, end: datetime) -> list[tuple[datetime, int, int]]:
    """Net money and gift count per UTC hour in [start, end)."""
    hour = _hour_utc(Donation.created_at, db.session.get_bind().dialect.name).label("bucket")
    rows = db.session.execute(
        select(
            hour,
            func.sum(totals.raised_amount()),
            func.count().filter(Donation.kind.in_(totals.COUNTED_KINDS)),
        )
        .where(
            Donation.cause_id == cause_id,
            Donation.created_at >= start,
            Donation.created_at < end,
        )
        .group_by("bucket")
    ).all()
    out = []
    for value, amount, count in rows:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        out.append((moment.replace(tzinfo=UTC), int(amount or 0), int(count or 0)))
    return out


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def gifts_per_hour(cause_id: int, day: date, zone: ZoneInfo) -> list[Bucket]:
    """Every local hour of ``day`` (23 or 25 on a clock change), gifts or not.

    Rows are grouped per UTC hour in SQL (SQLite has no time zones) and each
    UTC hour lands in the local hour it starts in: exact for the organisers'
    zone, a whole number of hours from UTC; in a half-hour zone a row may show
    one hour early, but none is lost."""
    start, end = midnight(day, zone), midnight(day + timedelta(days=1), zone)
    hours = int((end - start) / timedelta(hours=1))
    sums = [[0, 0] for _hour in range(hours)]
    for moment, amount, count in _hourly(cause_id, start, end):
        slot = sums[min(hours - 1, max(0, int((moment - start) / timedelta(hours=1))))]
        slot[0] += amount
        slot[1] += count
    return [Bucket((start + timedelta(hours=n)).astimezone(zone), *sums[n]) for n in range(hours)]


def gifts_per_day(cause_id: int, first: date, last: date, zone: ZoneInfo) -> list[Bucket]:
    """Every local day from ``first`` to ``last``, gifts or not."""
    sums: dict[date, list[int]] = {}
    rows = _hourly(cause_id, midnight(first, zone), midnight(last + timedelta(days=1), zone))
    for moment, amount, count in rows:
        day = min(last, max(first, moment.astimezone(zone).date()))
        day_sum = sums.setdefault(day, [0, 0])
        day_sum[0] += amount
        day_sum[1] += count
    days = (last - first).days + 1
    return [
        Bucket(datetime.combine(day, time(0), zone), *sums.get(day, (0, 0)))
        for day in (first + timedelta(days=n) for n in range(days))
    ]


def daily_window(cause: Cause, today: date, zone: ZoneInfo) -> tuple[date, date]:
    """The days the daily chart shows: the cause's start (or creation) up to
    today or its end, at most ``DAILY_WINDOW`` days."""
    now = datetime.now(UTC)
    last = today
    if cause.ends_at is not None and cause.ends_at < now:
        last = cause.ends_at.astimezone(zone).date()
    begin = (cause.starts_at or cause.created_at).astimezone(zone).date()
    first = max(min(begin, last), last - timedelta(days=DAILY_WINDOW - 1))
    return first, last


def event_days(cause_id: int, zone: ZoneInfo, limit: int = 500) -> list[date]:
    """The local days the cause's events take place, in order."""
    starts = db.session.scalars(
        select(Page.starts_at)
        .where(
            Page.cause_id == cause_id,
            Page.is_event,
            Page.status != PageStatus.DRAFT,
            Page.starts_at.is_not(None),
        )
        .distinct()
        .order_by(Page.starts_at)
        .limit(limit)
    )
    return sorted({moment.astimezone(zone).date() for moment in starts})


def default_event_day(days: list[date], today: date) -> date | None:
    """Today if an event is on, else the latest event day past, else the next one."""
    past = [d for d in days if d <= today]
    if past:
        return past[-1]
    return days[0] if days else None


# --- SVG geometry -------------------------------------------------------------

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 12, 28
MAX_X_LABELS = 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the period, in words: "21 Jun 2026, 20:00"
    amount: str  # the net money, formatted
    net_minor: int
    gift_count: int


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    period_heading: str
    bars: list[Bar]
    ticks: list[Tick]
    x_labels: list[tuple[float, str]]
    baseline: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT


def nice_step(span: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about ``ticks`` lines."""
    raw = max(1, span // ticks)
    power = 10 ** (len(str(raw)) - 1)
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def bar_chart(
    chart_id: str,
    title: str,
    buckets: list[Bucket],
    currency: str,
    *,
    label: Callable[[datetime], str],
    short_label: Callable[[datetime], str],
    period_heading: str,
) -> Chart:
    """One bar per bucket (an empty period is a bar of height 0); negative net
    money (refunds) goes below the zero line."""
    values = [b.net_minor for b in buckets]
    high, low = max([0, *values]), min([0, *values])
    # Lines fall on whole currency units: "€20", never "€0.01".
    unit = minor_factor(currency)
    step = nice_step(-(-(high - low) // unit) or 1) * unit
    top = -(-high // step) * step if high else step
    bottom = (low // step) * step
    plot_height = HEIGHT - TOP - BOTTOM
    scale = plot_height / (top - bottom)

    def y_of(value: int) -> float:
        return round(TOP + (top - value) * scale, 1)

    baseline = y_of(0)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(buckets))
    gap = min(2.0, slot * 0.2)
    bars = []
    for n, bucket in enumerate(buckets):
        y = y_of(max(bucket.net_minor, 0))
        bars.append(
            Bar(
                x=round(LEFT + n * slot + gap / 2, 1),
                y=y,
                width=round(slot - gap, 1),
                height=round(abs(y_of(bucket.net_minor) - baseline), 1),
                label=label(bucket.start),
                amount=money(bucket.net_minor, currency),
                net_minor=bucket.net_minor,
                gift_count=bucket.gift_count,
            )
        )
    every = max(1, -(-len(buckets) // MAX_X_LABELS))
    x_labels = [
        (round(LEFT + (n + 0.5) * slot, 1), short_label(b.start))
        for n, b in enumerate(buckets)
        if n % every == 0
    ]
    ticks = [Tick(y_of(v), money(v, currency)) for v in range(bottom, top + 1, step)]
    return Chart(
        chart_id,
        title,
        describe(buckets, bars, currency),
        period_heading,
        bars,
        ticks,
        x_labels,
        baseline,
    )


def describe(buckets: list[Bucket], bars: list[Bar], currency: str) -> str:
    """The chart in one or two sentences, for people who cannot see it."""
    gifts = sum(b.gift_count for b in buckets)
    if not any(b.net_minor or b.gift_count for b in buckets):
        return _("No gift in this period.")
    total = money(sum(b.net_minor for b in buckets), currency)
    best = max(range(len(buckets)), key=lambda n: buckets[n].net_minor)
    return _(
        "%(total)s net from %(gifts)s gifts. Highest: %(period)s, %(amount)s.",
        total=total,
        gifts=gifts,
        period=bars[best].label,
        amount=bars[best].amount,
    )


def hourly_chart(buckets: list[Bucket], day: date, currency: str) -> Chart:
    return bar_chart(
        "gifts-per-hour",
        _("Gifts per hour on %(day)s", day=format_date(day, "full")),
        buckets,
        currency,
        label=lambda moment: format_time(moment, "short"),
        short_label=lambda moment: format_time(moment, "HH"),
        period_heading=_("Hour"),
    )


def daily_chart(buckets: list[Bucket], currency: str) -> Chart:
    first, last = buckets[0].start.date(), buckets[-1].start.date()
    return bar_chart(
        "gifts-per-day",
        _(
            "Gifts per day from %(first)s to %(last)s",
            first=format_date(first, "medium"),
            last=format_date(last, "medium"),
        ),
        buckets,
        currency,
        label=lambda moment: format_date(moment.date(), "medium"),
        short_label=lambda moment: format_date(moment.date(), "d MMM"),
        period_heading=_("Day"),
    )
