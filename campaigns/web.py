"""What the public screens of every area share: the acting agent and who may see
a cause or a page."""

from __future__ import annotations

from flask import (
    g,
)
from flask_babel import gettext as _
from flask_security import current_user

from campaigns.errors import NotFound
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Cause, CauseStatus
from campaigns.pages import services as page_services
from campaigns.pages.models import Page, PageStatus

PUBLIC_STATUSES = (PageStatus.PUBLISHED, PageStatus.CLOSED)


def agent():
    """The logged-in agent, or None: services take the acting agent explicitly."""
    return current_user._get_current_object() if current_user.is_authenticated else None


# --- reading -----------------------------------------------------------------


def visible_cause(slug: str) -> Cause:
    cause = org_services.get_cause(slug)
    if cause.status == CauseStatus.DRAFT and not org_services.is_staff(
        agent(), cause.organisation_id
    ):
        raise NotFound(_("There is no cause at this address."))
    g.organisation_locale = cause.organisation.locale
    return cause


def visible_page(slug: str) -> Page:
    """A page the current visitor may see (``pages.services.visible_page``, the
    API's rule too), its organisation's locale set for the screen."""
    page = page_services.visible_page(agent(), slug)
    g.organisation_locale = page.cause.organisation.locale
    return page
