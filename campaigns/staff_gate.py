"""The staff gate every staff screen uses: the organisation, the agent's role in it
(403 for anyone else), and the one way a staff form is saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    abort,
    current_app,
    g,
)
from flask_babel import gettext as _
from flask_security import current_user
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from agents.models import MembershipRole  # read only; writes go through services
from campaigns import unit_of_work
from campaigns.errors import PermissionDenied, ServiceError, ValidationError
from campaigns.organisations import services as org_services
from campaigns.organisations.forms import (
    StaffForm,
)
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages import services as page_services
from campaigns.pages.models import Page
from extensions import db

# --- helpers ---------------------------------------------------------------


def staff_organisation(org_slug: str, *, admin: bool = False) -> tuple[Organisation, str]:
    """The organisation and the current agent's role in it; 403 for anyone else."""
    org = org_services.get_organisation(org_slug)
    role = org_services.membership_role(current_user, org.id)
    if role is None or (admin and role != MembershipRole.ADMIN):
        abort(403)
    g.organisation_locale = org.locale
    return org, role


def staff_organisation_to_write(org_slug: str) -> tuple[Organisation, str]:
    """``staff_organisation`` for a view that changes money or a review (a POST:
    its unit of work is a writer from the first read, the login included, with
    BEGIN IMMEDIATE on SQLite; row locks do the rest on PostgreSQL), so two
    clicks are served one after the other."""
    unit_of_work.begin_write()  # a no-op in a POST: its transaction is a writer's already
    return staff_organisation(org_slug)


def staff_cause(org: Organisation, cause_slug: str) -> Cause:
    cause = org_services.get_cause(cause_slug)
    if cause.organisation_id != org.id:
        abort(404)
    return cause


def staff_page(org: Organisation, page_slug: str) -> Page:
    page = page_services.get_page(page_slug)
    if page.cause.organisation_id != org.id:
        abort(404)
    return page


def save_staff_form(
    form: StaffForm, read: Callable[[], tuple[dict, dict]], save: Callable[[dict], Any]
):
    """Read the form and call the service (the unit of work commits).

    Returns the service's result, or None when the form must be shown again (what
    the service wrote is discarded and the messages are on the form).
    """
    if not form.validate_on_submit():
        return None
    data, problems = read()
    try:
        result = save(data)
        if problems:
            raise ValidationError(problems)
        db.session.flush()  # the database's refusals show here, on the form
        return result
    except ValidationError as exc:
        unit_of_work.discard()
        # What the form could not read wins over what the service said about the gap.
        form.add_errors({**exc.errors, **problems})
    except PermissionDenied:
        raise
    except ServiceError as exc:
        unit_of_work.discard()
        form.general_errors.append(exc.message)
    except IntegrityError:
        unit_of_work.discard()
        form.general_errors.append(
            _("Someone saved the same address at the same moment. Choose another one.")
        )
    except SQLAlchemyError:
        unit_of_work.discard()
        current_app.logger.exception("staff form refused by the database")
        form.general_errors.append(
            _("One of the values is too long or too large. Shorten it and try again.")
        )
    return None
