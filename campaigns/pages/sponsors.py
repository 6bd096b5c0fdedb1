"""Local sponsors of an event: hosts add the businesses and partners that
support it (name, logo, link); staff can hide one; the event page and its
share card show the others."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Agent
from campaigns import audit, inputs, photos
from campaigns.errors import NotFound, PermissionDenied, ValidationError
from campaigns.organisations import services as org_services
from campaigns.pages.models import Page, Sponsor
from campaigns.pages.services import can_edit
from extensions import db

MAX_SPONSORS = 12


def shown(page: Page) -> list[Sponsor]:
    """The sponsors the public sees, in the order they were added."""
    return list(
        db.session.scalars(
            select(Sponsor)
            .where(Sponsor.page_id == page.id, Sponsor.is_hidden.is_(False))
            .order_by(Sponsor.id)
        )
    )


def all_of(page: Page) -> list[Sponsor]:
    return list(
        db.session.scalars(select(Sponsor).where(Sponsor.page_id == page.id).order_by(Sponsor.id))
    )


def _sponsor_of(page: Page, sponsor_id: int) -> Sponsor:
    sponsor = db.session.get(Sponsor, sponsor_id)
    if sponsor is None or sponsor.page_id != page.id:
        raise NotFound(_("This sponsor is not on this page."))
    return sponsor


def add(agent: Agent, page: Page, data: dict, logo: bytes = b"") -> Sponsor:
    """A sponsor added by a host of an event page; ``logo`` is a checked JPEG."""
    if not can_edit(agent, page):
        raise PermissionDenied(_("Only the event's hosts can add its sponsors."))
    if not page.is_event:
        raise ValidationError({"name": _("Sponsors are for event and team pages.")})
    errors: dict[str, str] = {}
    name = inputs.text_field(
        data,
        "name",
        errors,
        max_length=120,
        required=True,
        required_message=_("Give the sponsor's name."),
    )
    try:
        url = inputs.web_address(data.get("url"))
    except ValueError:
        errors["url"] = _("Give a web address such as https://example.org, or leave it empty.")
        url = ""
    count = db.session.scalar(select(func.count(Sponsor.id)).where(Sponsor.page_id == page.id))
    if count >= MAX_SPONSORS:
        errors["name"] = _("An event shows %(n)s sponsors at most.", n=MAX_SPONSORS)
    if errors:
        raise ValidationError(errors)
    sponsor = Sponsor(
        page_id=page.id,
        name=name,
        url=url,
        logo=photos.save(logo) if logo else None,
        added_by_id=agent.id,
    )
    db.session.add(sponsor)
    db.session.flush()
    return sponsor


def remove(agent: Agent, page: Page, sponsor_id: int) -> None:
    if not can_edit(agent, page):
        raise PermissionDenied(_("Only the event's hosts can remove its sponsors."))
    db.session.delete(_sponsor_of(page, sponsor_id))
    db.session.flush()


def set_hidden(agent: Agent, page: Page, sponsor_id: int, *, hidden: bool) -> Sponsor:
    """Staff hide a sponsor from the public (or show it again); audited."""
    organisation_id = page.cause.organisation_id
    if not org_services.is_staff(agent, organisation_id):
        raise PermissionDenied(_("Only the organisation's staff can hide a sponsor."))
    sponsor = _sponsor_of(page, sponsor_id)
    sponsor.is_hidden = hidden
    audit.record(
        organisation_id,
        agent,
        "sponsor.hide" if hidden else "sponsor.show",
        f"{sponsor.name} on {page.title}",
        subject=sponsor,
        details={"page": page.slug},
    )
    db.session.flush()
    return sponsor
