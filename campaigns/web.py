"""What the public screens of every area share: the acting agent and who may see
a cause or a page."""

from __future__ import annotations

from flask import (
    g,
)
from flask_babel import gettext as _
from flask_security import current_user

from campaigns.errors import NotFound
from campaigns.giving import discretion
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Cause, CauseStatus
from campaigns.pages import services as page_services
from campaigns.pages.models import Page, PageStatus
from campaigns.totals.models import TotalScope
from campaigns.totals.services import Figures, figures

PUBLIC_STATUSES = (PageStatus.PUBLISHED, PageStatus.CLOSED)


def agent():
    """The logged-in agent, or None: services take the acting agent explicitly."""
    return current_user._get_current_object() if current_user.is_authenticated else None


# --- reading -----------------------------------------------------------------


def page_figures(pages: list[Page]) -> dict[int, Figures]:
    """What each page shows as raised: its own gifts, or an event's with its members'
    (a total that would tell a hidden gift's amount as the organisation chose)."""
    personal = [p.id for p in pages if not p.is_event]
    events = [p.id for p in pages if p.is_event]
    numbers = {**figures(TotalScope.PAGE, personal), **figures(TotalScope.EVENT, events)}
    return discretion.page_figures(pages, numbers)


def visible_cause(slug: str) -> Cause:
    cause = org_services.get_cause(slug)
    if cause.status == CauseStatus.DRAFT and not org_services.is_staff(
        agent(), cause.organisation_id
    ):
        raise NotFound(_("There is no cause at this address."))
    g.organisation_locale = cause.organisation.locale
    return cause


def visible_page(slug: str) -> Page:
    """A page the current visitor may see: drafts and hidden pages only for
    their owner, co-hosts and the organisation's staff."""
    page = page_services.get_page(slug)
    g.organisation_locale = page.cause.organisation.locale
    if page.status in PUBLIC_STATUSES:
        return page
    who = agent()
    if page_services.can_edit(who, page) or org_services.is_staff(who, page.cause.organisation_id):
        return page
    raise NotFound(_("There is no page at this address."))
