"""Automatic messages: welcome, first gift, 50 % and 100 % of the goal, gifts
on your page (batched), rank changes (to the page that moved up and to the
page it passed), the daily digest of a cause's last days, and a nudge for
quiet pages. This module holds their settings and the signal receivers;
``messaging.automatic.jobs`` the scheduled ones.

Each is a message template with that trigger, toggled per organisation
(``AutoMessageSetting``, on by default). Signal receivers run inside the
sender's transaction and jobs run on the scheduler; both only add outbox rows,
with dedupe keys that make each message happen once.
"""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from agents.models import Agent
from campaigns import per_transaction
from campaigns.badges import services as badges
from campaigns.errors import ValidationError
from campaigns.giving.models import Donation, DonationKind
from campaigns.organisations import services
from campaigns.organisations.models import Organisation
from campaigns.pages.models import Page, PageStatus
from campaigns.totals import services as totals
from campaigns.totals.models import TotalScope
from extensions import db
from messaging.automatic.models import AutoMessageSetting
from messaging.broadcasts import fanout
from messaging.broadcasts.recipients import people_of, places
from messaging.outbox.models import Channel
from messaging.templating.context import badge_data
from messaging.templating.models import MessageTemplate, Trigger

log = logging.getLogger(__name__)

COUNTED = (DonationKind.GIFT, DonationKind.OFFLINE)

# Every automatic message, its label and its knobs (name: (default, low, high)).
AUTOMATIC: dict[str, dict[str, Any]] = {
    Trigger.WELCOME: {"label": _l("Welcome, when a page is published"), "options": {}},
    Trigger.FIRST_GIFT: {"label": _l("A page's first gift"), "options": {}},
    Trigger.GOAL_50: {"label": _l("Half of a page's goal reached"), "options": {}},
    Trigger.GOAL_100: {"label": _l("A page's goal reached"), "options": {}},
    Trigger.GIFTS: {
        "label": _l("Gifts on your page (at most one message an hour)"),
        "options": {},
    },
    Trigger.RANK_CHANGE: {"label": _l("Moving up the leaderboard"), "options": {}},
    Trigger.RANK_PASSED: {
        "label": _l("Passed on the leaderboard (to the page that was passed)"),
        "options": {},
    },
    Trigger.DAILY_DIGEST: {
        "label": _l("Daily digest in a cause's last days"),
        "options": {"days_before_end": (3, 1, 30), "hour": (9, 0, 23)},
    },
    Trigger.NUDGE: {
        "label": _l("Nudge for a page without gifts"),
        "options": {"inactive_days": (7, 1, 90)},
    },
    Trigger.BADGE: {
        "label": _l("A badge earned (besides those of the first gift, half and whole goal)"),
        "options": {},
    },
}
# Badges whose milestone message announces them (``badge`` in its context):
# the badge message leaves them out, so nobody gets two mails for one gift.
ANNOUNCED_BY = {
    "first_gift": Trigger.FIRST_GIFT,
    "goal_50": Trigger.GOAL_50,
    "goal_100": Trigger.GOAL_100,
}
OPTION_LABELS = {
    "days_before_end": _l("Days before the end of the cause"),
    "hour": _l("Hour of the day it is sent (Paris time)"),
    "inactive_days": _l("Days without a gift"),
}


# --- settings ----------------------------------------------------------------


def setting(organisation_id: int, trigger: str) -> tuple[bool, dict[str, int]]:
    """Whether an organisation sends this message, and its options (defaults filled in)."""
    row = db.session.get(AutoMessageSetting, (organisation_id, str(trigger)))
    defaults = {k: v[0] for k, v in AUTOMATIC[trigger]["options"].items()}
    if row is None:
        return True, defaults
    return bool(row.is_enabled), {**defaults, **(row.options or {})}


def settings(org: Organisation) -> list[dict[str, Any]]:
    """Every automatic message with its state, for the staff page."""
    with_template = set(
        db.session.scalars(
            select(MessageTemplate.trigger)
            .where(
                MessageTemplate.organisation_id == org.id,
                MessageTemplate.is_active.is_(True),
                # Text to copy is never sent: it does not make a message go out.
                MessageTemplate.channel != Channel.COPY,
            )
            .distinct()
        )
    )
    out = []
    for trigger, spec in AUTOMATIC.items():
        enabled, options = setting(org.id, trigger)
        out.append(
            {
                "trigger": str(trigger),
                "label": spec["label"],
                "is_enabled": enabled,
                "options": [
                    {"name": name, "label": OPTION_LABELS[name], "value": options[name]}
                    for name in spec["options"]
                ],
                "has_template": str(trigger) in with_template,
            }
        )
    return out


def save_setting(
    staff: Agent, org: Organisation, trigger: str, is_enabled: bool, options: dict[str, Any]
) -> AutoMessageSetting:
    """Turn one automatic message on or off and set its options (staff)."""
    services.require_staff(staff, org.id)
    if trigger not in AUTOMATIC:
        raise ValidationError({"trigger": _("Choose one of the automatic messages.")})
    clean, errors = {}, {}
    for name, (default, low, high) in AUTOMATIC[trigger]["options"].items():
        raw = options.get(name, default)
        try:
            value = int(str(raw).strip())
            if not low <= value <= high:
                raise ValueError
        except ValueError:
            errors[f"{trigger}-{name}"] = _(
                "Enter a whole number from %(low)s to %(high)s.", low=low, high=high
            )
            continue
        clean[name] = value
    if errors:
        raise ValidationError(errors)
    row = db.session.get(AutoMessageSetting, (org.id, str(trigger)))
    if row is None:
        row = AutoMessageSetting(organisation_id=org.id, trigger=str(trigger))
        db.session.add(row)
    row.is_enabled = bool(is_enabled)
    row.options = clean
    db.session.flush()
    return row


def templates_for(org: Organisation, cause_id: int, trigger: str) -> fanout.TemplateSet:
    """The active templates of a trigger; a cause's own beat the organisation's."""
    found = db.session.scalars(
        select(MessageTemplate)
        .where(
            MessageTemplate.organisation_id == org.id,
            MessageTemplate.trigger == str(trigger),
            MessageTemplate.is_active.is_(True),
            (MessageTemplate.cause_id.is_(None)) | (MessageTemplate.cause_id == cause_id),
        )
        .order_by(MessageTemplate.cause_id.is_not(None), MessageTemplate.id)
    ).all()
    # Later entries win in TemplateSet: the cause's own come last.
    return fanout.TemplateSet(found, org.locale)


def ready(org: Organisation, cause_id: int, trigger: str):
    """The templates to use, or None when the message is off or has no template
    (read once per transaction: a gift asks for its page's and its event's)."""

    def read():
        enabled, options = setting(org.id, trigger)
        if not enabled:
            return None, options
        templates = templates_for(org, cause_id, trigger)
        return (templates or None), options

    return per_transaction.remembered(
        ("automatic.ready", org.id, cause_id, str(trigger)),
        read,
        watch=(AutoMessageSetting, MessageTemplate),
    )


def page_people(page_ids) -> Any:
    return people_of(select(Page.id, Page.owner_id).where(Page.id.in_(list(page_ids))))


def queue_for_page(page: Page, trigger: str, key: str, extra: dict | None = None) -> int:
    """Queue one automatic message to a page's owner and co-hosts; ``key`` is
    the part of the dedupe key that makes it happen once."""
    cause = page.cause
    org = cause.organisation
    templates, _options = ready(org, cause.id, trigger)
    if templates is None:
        return 0
    return fanout.fan_out(
        org,
        cause,
        templates,
        page_people([page.id]),
        dedupe=lambda row, channel: f"{key}:agent:{row.agent_id}:{channel}",
        trigger=trigger,
        extra=extra,
        where=places(cause.id, only=[page.id]),
    )


# --- receivers (inside the sender's transaction: rows only) -------------------


def welcome(page: Page, **_extra) -> int:
    """A page was published: welcome its owner, once per page."""
    if page.id is None:
        db.session.flush()
    return queue_for_page(page, Trigger.WELCOME, f"welcome:page:{page.id}")


def _milestone(before: int, after: int, goal: int, count_after: int) -> str | None:
    """The most notable milestone one gift crossed."""
    if goal > 0 and before * 100 < goal * 100 <= after * 100:
        return Trigger.GOAL_100
    if goal > 0 and before * 100 < goal * 50 <= after * 100:
        return Trigger.GOAL_50
    if count_after == 1:
        return Trigger.FIRST_GIFT
    return None


def gift_milestones(donation: Donation, **_extra) -> int:
    """First gift, 50 % and 100 % of the goal, for the page and its event:
    the page's money before and after this gift; each once ever per page."""
    if donation.kind not in COUNTED or not donation.page_id or donation.amount_minor <= 0:
        return 0
    page = db.session.get(Page, donation.page_id)
    targets = []
    if page.is_event:
        targets.append((page, TotalScope.EVENT))
    else:
        targets.append((page, TotalScope.PAGE))
        if donation.event_id and donation.event_id != page.id:
            targets.append((db.session.get(Page, donation.event_id), TotalScope.EVENT))
    written = 0
    for target, scope in targets:
        if target is None or target.status != PageStatus.PUBLISHED:
            continue
        after = totals.figures_one(scope, target.id)
        milestone = _milestone(
            after.raised_minor - donation.amount_minor,
            after.raised_minor,
            target.goal_minor,
            after.donation_count,
        )
        if milestone:
            written += queue_for_page(
                target,
                milestone,
                f"{milestone}:page:{target.id}",
                extra=_badge_of(target, str(milestone)),
            )
    return written


def _badge_of(page: Page, milestone: str):
    """The badge a milestone message announces, unless the organisation turned it off."""
    org = page.cause.organisation
    code = next((c for c, trigger in ANNOUNCED_BY.items() if trigger == milestone), None)
    if code is None or code in badges.turned_off([org.id])[org.id]:
        return None
    return lambda row: {"badge": badge_data(code, row.agent_locale or org.locale or "fr")}


def badge_earned(page: Page, *, codes, backfill: bool = False, **_extra) -> int:
    """A page earned badges: announce each one no milestone message announces,
    once per page and badge (not those `relais badges award` gives older data)."""
    if backfill:
        return 0
    org = page.cause.organisation
    written = 0
    for code in codes:
        if code in ANNOUNCED_BY:
            continue
        written += queue_for_page(
            page,
            Trigger.BADGE,
            f"badge:{code}:page:{page.id}",
            extra=lambda row, code=code: {
                "badge": badge_data(code, row.agent_locale or org.locale or "fr")
            },
        )
    return written


# --- jobs ----------------------------------------------------------------------
