"""The open-data catalogue: each dataset's fields and descriptions, its CSV form,
and the Frictionless ``datapackage.json`` that describes them all."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from campaigns.csv_safety import inert
from campaigns.leagues.services import open_rows as league_rows
from campaigns.news.services import open_rows as field_news_rows
from campaigns.open_data.services import (
    causes,
    daily,
    daily_pages,
    expense_rows,
    fund_use_rows,
    leaderboard_rows,
    organisations,
    pages,
    projects,
)

LICENCE = {
    "name": "CC-BY-4.0",
    "title": "Creative Commons Attribution 4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
}


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    fields: tuple[tuple[str, str], ...]  # (name, Frictionless type)
    rows: Callable[[], list[dict]]
    descriptions: dict[str, str] = field(default_factory=dict)  # per field, for the schema


MONEY = ("raised_minor", "integer")


FLOOR_NOTE = "Minor units; empty when the page has fewer donors than the organisation's floor."


DATASETS = {
    d.name: d
    for d in (
        Dataset(
            "organisations",
            "Organisations",
            (
                ("slug", "string"),
                ("name", "string"),
                ("currency", "string"),
                MONEY,
                ("donor_count", "integer"),
            ),
            organisations,
        ),
        Dataset(
            "causes",
            "Causes",
            (
                ("slug", "string"),
                ("organisation", "string"),
                ("title", "string"),
                ("status", "string"),
                ("currency", "string"),
                ("goal_minor", "integer"),
                MONEY,
                ("donation_count", "integer"),
                ("donor_count", "integer"),
            ),
            causes,
        ),
        Dataset(
            "projects",
            "Projects",
            (
                ("slug", "string"),
                ("cause", "string"),
                ("name", "string"),
                ("goal_minor", "integer"),
                MONEY,
                ("donor_count", "integer"),
                ("spent_minor", "integer"),
            ),
            projects,
            {
                "raised_minor": "Net gifts designated to the project, in minor units.",
                "spent_minor": "Published expenses of the project, in minor units.",
            },
        ),
        Dataset(
            "pages",
            "Pages and events",
            (
                ("slug", "string"),
                ("cause", "string"),
                ("kind", "string"),
                ("title", "string"),
                ("city", "string"),
                ("parent", "string"),
                ("status", "string"),
                ("goal_minor", "integer"),
                MONEY,
                ("donor_count", "integer"),
            ),
            pages,
            {"raised_minor": FLOOR_NOTE},
        ),
        Dataset(
            "daily",
            "Daily series per cause",
            (
                ("cause", "string"),
                ("date", "date"),
                MONEY,
                ("donation_count", "integer"),
                ("fees_minor", "integer"),
                ("covers_minor", "integer"),
            ),
            daily,
            {
                "raised_minor": "Minor units given that day, net of refunds and disputes, before "
                "Stripe's fees (what goals and leaderboards count).",
                "fees_minor": "Minor units: what Stripe charged that day to collect the cause's "
                "gifts (card processing, refund and dispute fees).",
                "covers_minor": "Minor units donors added that day to cover the fees, net of "
                "refunds and disputes, kept apart from raised_minor; an organisation that counts "
                "covers in its goals has them in raised_minor instead (0 here). What the "
                "organisation keeps is raised_minor + covers_minor - fees_minor.",
            },
        ),
        Dataset(
            "daily_pages",
            "Daily series per page and event",
            (
                ("page", "string"),
                ("cause", "string"),
                ("date", "date"),
                MONEY,
                ("donation_count", "integer"),
            ),
            daily_pages,
            {
                "raised_minor": "Minor units; empty when fewer than the organisation's floor of "
                "distinct donors gave to the page that day. An event counts its members' gifts."
            },
        ),
        Dataset(
            "leaderboards",
            "Leaderboards",
            (
                ("cause", "string"),
                ("board", "string"),
                ("rank", "integer"),
                ("page", "string"),
                MONEY,
                ("donor_count", "integer"),
            ),
            leaderboard_rows,
            {"raised_minor": FLOOR_NOTE},
        ),
        Dataset(
            "league_standings",
            "Leagues across organisations: each entrant's rank and figures in the window",
            (
                ("league", "string"),
                ("rank", "integer"),
                ("organisation", "string"),
                ("cause", "string"),
                ("currency", "string"),
                MONEY,
                ("donor_count", "integer"),
                ("gift_count", "integer"),
            ),
            league_rows,
            {
                "raised_minor": "Minor units: gifts in the window minus refunds in it; empty "
                "while fewer donors than the organisation's floor gave.",
                "cause": "Empty when the whole organisation takes part.",
            },
        ),
        Dataset(
            "expenses",
            "Published expenses (fund use)",
            (
                ("id", "integer"),
                ("cause", "string"),
                ("project", "string"),
                ("title", "string"),
                ("description", "string"),
                ("amount_minor", "integer"),
                ("currency", "string"),
                ("spent_at", "date"),
                ("document_url", "string"),
            ),
            expense_rows,
            {
                "amount_minor": "Minor units of the currency (cents for EUR).",
                "spent_at": "The day the money was spent.",
                "document_url": "The invoice or receipt, when one was published.",
            },
        ),
        Dataset(
            "fund_use",
            "What each page's money funded",
            (
                ("cause", "string"),
                ("page", "string"),
                ("project", "string"),
                ("contribution_minor", "integer"),
                ("funded_minor", "integer"),
                ("donor_count", "integer"),
            ),
            fund_use_rows,
            {
                "contribution_minor": "The page's gifts designated to the project plus its "
                "undesignated gifts times the project's share of all spending. " + FLOOR_NOTE,
                "funded_minor": "The part of the project's published expenses this page paid "
                "for: contribution / max(project funding, spent) times spent. " + FLOOR_NOTE,
            },
        ),
        Dataset(
            "field_news",
            "News from the field",
            (
                ("id", "integer"),
                ("cause", "string"),
                ("project", "string"),
                ("page", "string"),
                ("title", "string"),
                ("body", "string"),
                ("photo_url", "string"),
                ("posted_at", "datetime"),
            ),
            field_news_rows,
            {
                "project": "The project the news is about, or empty for a page's news.",
                "page": "The page the news is about, or empty for a project's news.",
                "posted_at": "When the news was posted (UTC).",
            },
        ),
    )
}


def to_csv(dataset: Dataset, rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[name for name, _ in dataset.fields])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else inert(v) for k, v in row.items()})
    return out.getvalue()


def datapackage(base_url: str) -> dict:
    """A Frictionless Data Package describing every CSV file."""
    sources = [{"title": o["name"]} for o in organisations()] or [{"title": "Relais"}]
    return {
        "name": "relais-open-data",
        "title": "Relais: open fundraising data",
        "licenses": [LICENCE],
        "sources": sources,
        "resources": [
            {
                "name": d.name,
                "title": d.title,
                "path": f"{base_url}{d.name}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [
                        {"name": n, "type": t}
                        | ({"description": d.descriptions[n]} if n in d.descriptions else {})
                        for n, t in d.fields
                    ]
                },
            }
            for d in DATASETS.values()
        ],
    }
