"""The dashboard is scannable: the headline and "at a glance" first, then
parts that fold, open by themselves when something waits for a person; every
figure stays on the page (inside its part)."""

from __future__ import annotations

import re

from tests.campaigns.dashboard.test_dashboard import DASHBOARD, campaign  # noqa: F401

PARTS = (
    "time",
    "totals",
    "events",
    "pages",
    "cities",
    "funnel",
    "latest",
    "offline",
    "unattributed",
    "anomalies",
    "outbox",
    "moderation",
    "audit",
    "exports",
)


def opened(html: str) -> dict[str, bool]:
    found = re.findall(r'<details class="dashboard-section" id="section-([a-z]+)"([^>]*)>', html)
    return {name: " open" in attrs for name, attrs in found}


def test_summary_first_then_parts_that_fold(db, client, as_agent, staffer, campaign):  # noqa: F811
    as_agent(staffer)
    html = client.get(DASHBOARD).text
    assert html.index('id="headline-title"') < html.index('id="summary-title"')
    assert html.index('id="summary-title"') < html.index('id="section-time"')
    parts = opened(html)
    assert list(parts) == list(PARTS)
    # What waits for a person is open; the long lists are folded.
    for name in ("time", "totals", "offline", "unattributed", "anomalies", "outbox"):
        assert parts[name], name
    for name in ("events", "pages", "cities", "latest", "moderation", "audit", "exports"):
        assert not parts[name], name
    summary = html[html.index('id="attention-summary"') :].split("</ul>")[0]
    assert "1 cash or cheque gift to confirm (€30)" in summary
    assert "1 payment to look at" in summary
    assert "4 messages failed or wait for review" in summary
    assert "1 hidden page" in summary
    assert "€7 on no page" in summary
    for name in ("offline", "anomalies", "outbox", "moderation", "unattributed"):
        assert f'href="#{name}-title"' in summary
    # Every part is one link away.
    for name in PARTS:
        assert f'href="#{name}-title"' in html, name
        assert f'id="{name}-title"' in html, name


def test_a_quiet_organisation_says_nothing_waits(db, client, as_agent, staffer, cause):
    as_agent(staffer)
    html = client.get(DASHBOARD).text
    assert "Nothing waits for a person." in html
    parts = opened(html)
    assert not parts["offline"] and not parts["anomalies"] and not parts["outbox"]


def test_paging_the_audit_log_keeps_it_open(db, client, as_agent, staffer, campaign):  # noqa: F811
    as_agent(staffer)
    assert opened(client.get(DASHBOARD + "?audit_before=999999").text)["audit"]
