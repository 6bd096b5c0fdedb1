"""Staff CSV exports: donations (with donors' details), pages, agents, offline gifts.

Each file is one query read from a server-side cursor in batches of
``YIELD_PER`` rows and written out by a generator in chunks, so a
million-row ledger never sits in memory. The files are UTF-8 with a BOM
(spreadsheets then read accents right), and a cell a spreadsheet would run
as a formula is prefixed with a quote (CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, null, select
from sqlalchemy.orm import aliased

from agents.models import Agent  # read only
from campaigns.csv_safety import inert
from campaigns.dashboard.filters import Filters
from campaigns.dashboard.services import wall_clock
from campaigns.giving.models import Donation
from campaigns.money import to_decimal
from campaigns.offline.models import OfflineGift
from campaigns.organisations.models import Cause, Organisation, Project
from campaigns.pages.models import Page
from campaigns.signals import first_answer, share_link_channels
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures_subquery
from extensions import db

YIELD_PER = 1000
ROWS_PER_CHUNK = 500
BOM = "\ufeff"


# --- CSV ----------------------------------------------------------------------


def safe_cell(value: object) -> object:
    """A value as a spreadsheet should show it: never run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"  # never 1E+3
    return inert(value)


def to_csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The file in chunks of ``ROWS_PER_CHUNK`` rows, starting with the BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([safe_cell(value) for value in row])
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _stream(statement) -> Iterator:
    """Rows fetched ``YIELD_PER`` at a time (a server-side cursor on PostgreSQL)."""
    yield from db.session.execute(
        statement.execution_options(stream_results=True, yield_per=YIELD_PER)
    )


def _org_pages(organisation_id: int):
    return select(Page.id).join(Cause).where(Cause.organisation_id == organisation_id)


def _currency(organisation_id: int) -> str:
    return db.session.get(Organisation, organisation_id).currency


# --- the files ----------------------------------------------------------------


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


DONATION_HEADER = _columns(
    "id created_at kind amount amount_minor currency donor_name donor_email "
    "donor_address_line donor_postal_code donor_city donor_country is_anonymous "
    "message payment_method cause project page event is_unattributed share_channel "
    "refund_of receipt_number stripe_checkout_session_id stripe_payment_intent_id "
    "stripe_charge_id stripe_event_id stripe_dispute_id"
)


# A refund or dispute row shows its gift's donor when it has none of its own.
DONOR_FIELDS = (
    "donor_name",
    "donor_email",
    "donor_address_line",
    "donor_postal_code",
    "donor_city",
    "donor_country",
)


def donation_rows(organisation_id: int, filters: Filters) -> Iterator[tuple]:
    """Every ledger row, oldest first; refunds and disputes carry their gift's
    donor and share channel."""
    gift, page, event = aliased(Donation), aliased(Page), aliased(Page)
    # The share links are messaging's: it answers with their (id, channel).
    links = first_answer(share_link_channels, None)
    conditions = filters.where(
        Donation.organisation_id, organisation_id, Donation.cause_id, Donation.created_at
    )
    query = (
        select(
            Donation.id,
            Donation.created_at,
            Donation.kind,
            Donation.amount_minor,
            Donation.currency,
            *(
                # The reçu fiscal's address is personal data, like the name and email.
                func.coalesce(func.nullif(getattr(Donation, name), ""), getattr(gift, name))
                for name in DONOR_FIELDS
            ),
            Donation.is_anonymous,
            Donation.message,
            Donation.payment_method,
            Cause.slug,
            Project.slug,
            page.slug,
            event.slug,
            Donation.is_unattributed,
            links.c.channel if links is not None else null(),
            Donation.original_id,
            Donation.receipt_number,
            Donation.stripe_checkout_session_id,
            Donation.stripe_payment_intent_id,
            Donation.stripe_charge_id,
            Donation.stripe_event_id,
            Donation.stripe_dispute_id,
        )
        .outerjoin(gift, gift.id == Donation.original_id)
        .outerjoin(Cause, Cause.id == Donation.cause_id)
        .outerjoin(Project, Project.id == Donation.project_id)
        .outerjoin(page, page.id == Donation.page_id)
        .outerjoin(event, event.id == Donation.event_id)
    )
    if links is not None:
        query = query.outerjoin(
            links, links.c.id == func.coalesce(Donation.share_link_id, gift.share_link_id)
        )
    statement = query.where(*conditions).order_by(Donation.id)
    for row in _stream(statement):
        amount, currency = row[3], row[4]
        yield (*row[:3], to_decimal(amount, currency), *row[3:])


PAGE_HEADER = _columns(
    "slug title kind status cause event owner city venue starts_at goal goal_minor "
    "raised raised_minor currency donation_count donor_count created_at published_at "
    "closed_at hidden_reason"
)


def page_rows(organisation_id: int, filters: Filters) -> Iterator[tuple]:
    """Every page; an event's figures include its member pages, as on the leaderboard."""
    ids = _org_pages(organisation_id)
    own = figures_subquery(TotalScope.PAGE, ids)
    whole_event = figures_subquery(TotalScope.EVENT, ids)
    is_event = Page.is_event

    def pick(column: str):
        return case(
            (is_event, func.coalesce(whole_event.c[column], 0)),
            else_=func.coalesce(own.c[column], 0),
        )

    parent = aliased(Page)
    conditions = filters.where(
        Cause.organisation_id, organisation_id, Page.cause_id, Page.created_at
    )
    statement = (
        select(
            Page.slug,
            Page.title,
            Page.kind,
            Page.status,
            Cause.slug,
            parent.slug,
            Agent.name,
            Page.city,
            Page.venue,
            Page.starts_at,
            Page.goal_minor,
            pick("raised"),
            pick("gifts"),
            pick("donors"),
            Page.created_at,
            Page.published_at,
            Page.closed_at,
            Page.hidden_reason,
        )
        .join(Cause, Cause.id == Page.cause_id)
        .join(Agent, Agent.id == Page.owner_id)
        .outerjoin(parent, parent.id == Page.parent_id)
        .outerjoin(own, own.c.page_id == Page.id)
        .outerjoin(whole_event, whole_event.c.page_id == Page.id)
        .where(*conditions)
        .order_by(Page.id)
    )
    currency = _currency(organisation_id)
    for row in _stream(statement):
        goal, raised = int(row[10]), int(row[11])
        yield (
            *row[:10],
            to_decimal(goal, currency),
            goal,
            to_decimal(raised, currency),
            raised,
            currency,
            *row[12:],
        )


AGENT_HEADER = _columns("name email pages events raised raised_minor currency first_page_at")


def agent_rows(organisation_id: int, filters: Filters) -> Iterator[tuple]:
    """Agents owning pages in the organisation's causes, with the money raised
    on their own pages (an event's member pages count for their owners)."""
    own = figures_subquery(TotalScope.PAGE, _org_pages(organisation_id))
    conditions = filters.where(
        Cause.organisation_id, organisation_id, Page.cause_id, Page.created_at
    )
    statement = (
        select(
            Agent.name,
            Agent.email,
            func.count(Page.id),
            func.count(Page.id).filter(Page.is_event),
            func.sum(func.coalesce(own.c.raised, 0)),
            func.min(Page.created_at),
        )
        .select_from(Page)
        .join(Cause, Cause.id == Page.cause_id)
        .join(Agent, Agent.id == Page.owner_id)
        .outerjoin(own, own.c.page_id == Page.id)
        .where(*conditions)
        .group_by(Agent.id, Agent.name, Agent.email)
        .order_by(Agent.id)
    )
    currency = _currency(organisation_id)
    for name, email, pages, events, raised, first in _stream(statement):
        raised = int(raised or 0)
        yield name, email, pages, events, to_decimal(raised, currency), raised, currency, first


OFFLINE_HEADER = _columns(
    "id created_at collected_on status amount amount_minor currency method donor_name "
    "donor_email note page cause recorded_by reviewed_by reviewed_at reason has_photo"
)


def offline_rows(organisation_id: int, filters: Filters) -> Iterator[tuple]:
    """Every cash or cheque gift agents recorded, whatever its review."""
    recorder, reviewer = aliased(Agent), aliased(Agent)
    conditions = filters.where(
        Cause.organisation_id, organisation_id, Page.cause_id, OfflineGift.collected_on
    )
    statement = (
        select(
            OfflineGift.id,
            OfflineGift.created_at,
            OfflineGift.collected_on,
            OfflineGift.status,
            OfflineGift.amount_minor,
            OfflineGift.currency,
            OfflineGift.method,
            OfflineGift.donor_name,
            OfflineGift.donor_email,
            OfflineGift.note,
            Page.slug,
            Cause.slug,
            recorder.name,
            reviewer.name,
            OfflineGift.reviewed_at,
            OfflineGift.reason,
            OfflineGift.photo.is_not(None),
        )
        .join(Page, Page.id == OfflineGift.page_id)
        .join(Cause, Cause.id == Page.cause_id)
        .outerjoin(recorder, recorder.id == OfflineGift.recorded_by_id)
        .outerjoin(reviewer, reviewer.id == OfflineGift.reviewed_by_id)
        .where(*conditions)
        .order_by(OfflineGift.id)
    )
    zone = wall_clock()
    for row in _stream(statement):
        collected = row[2].astimezone(zone).date().isoformat() if row[2] else None
        amount, currency = row[4], row[5]
        yield (
            *row[:2],
            collected,
            row[3],
            to_decimal(amount, currency),
            *row[4:-1],
            bool(row[-1]),
        )


@dataclass(frozen=True)
class Export:
    name: str
    title: object  # a lazy string
    header: tuple[str, ...]
    rows: Callable[[int, Filters], Iterator[tuple]]
    # Files with personal data leave a trace in the audit log.
    audit_action: str | None
    audit_summary: object | None = None


EXPORTS = {
    e.name: e
    for e in (
        Export(
            "donations",
            _l("Donations, with donors' names and emails"),
            DONATION_HEADER,
            donation_rows,
            "export.donations",
            _l("Exported the donations with donors' names and emails."),
        ),
        Export("pages", _l("Pages and events"), PAGE_HEADER, page_rows, None),
        Export(
            "agents",
            _l("Agents and what their pages raised"),
            AGENT_HEADER,
            agent_rows,
            "export.agents",
            _l("Exported the agents with their emails."),
        ),
        Export(
            "offline",
            _l("Cash and cheques (offline gifts)"),
            OFFLINE_HEADER,
            offline_rows,
            "export.offline",
            _l("Exported the offline gifts with donors' names and emails."),
        ),
    )
}
