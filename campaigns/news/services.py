"""Field news: staff and page owners post dated updates (text, one photo) on a
project or a page; the donors who gave to it and asked to hear back get each
one once by email (``field_update_posted``: messaging queues the mail); the
project and the page list them, newest first; open data lists them too."""

from __future__ import annotations

from datetime import UTC, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from agents.models import Agent
from campaigns import audit, inputs, photos
from campaigns.errors import NotFound, PermissionDenied, ValidationError
from campaigns.giving.models import Donation, DonationKind, PendingGift
from campaigns.model_types import utcnow
from campaigns.news.models import FieldUpdate, NewsConsent
from campaigns.organisations import services as org_services
from campaigns.organisations.models import Cause, CauseStatus, Project
from campaigns.pages.models import Page, PageStatus
from campaigns.pages.services import can_edit
from campaigns.signals import field_update_posted
from campaigns.urls import absolute_url
from extensions import db

TITLE_MAX = 120
BODY_MAX = 5000
# Donors asked for news, not a stream: a few updates a day per project or page.
PER_DAY = 3
PUBLIC_PAGES = (PageStatus.PUBLISHED, PageStatus.CLOSED)
PUBLIC_CAUSES = (CauseStatus.PUBLISHED, CauseStatus.CLOSED)


def _organisation_id(page: Page | None, project: Project | None) -> int:
    return (page.cause if page is not None else project.cause).organisation_id


def can_post(agent: Agent | None, *, page: Page | None = None, project: Project | None = None):
    """Staff post on their organisation's projects and pages; a page's owner
    and co-hosts on their page."""
    if agent is None:
        return False
    if org_services.is_staff(agent, _organisation_id(page, project)):
        return True
    return page is not None and can_edit(agent, page)


def can_change(agent: Agent | None, update: FieldUpdate) -> bool:
    """Its author, or the organisation's staff, may edit or delete an update."""
    if agent is None:
        return False
    return update.author_id == agent.id or org_services.is_staff(agent, update.organisation_id)


def has_written_on(agent: Agent | None, page: Page) -> bool:
    """Whether the agent wrote one of the page's updates (and so may change it)."""
    if agent is None:
        return False
    return (
        db.session.scalar(
            select(FieldUpdate.id)
            .where(FieldUpdate.page_id == page.id, FieldUpdate.author_id == agent.id)
            .limit(1)
        )
        is not None
    )


def _clean(data: dict) -> dict:
    errors: dict[str, str] = {}
    title = inputs.text_field(
        data,
        "title",
        errors,
        max_length=TITLE_MAX,
        required=True,
        required_message=_("Give the news a title."),
    )
    body = inputs.text_field(
        data,
        "body",
        errors,
        max_length=BODY_MAX,
        required=True,
        required_message=_("Write what happened in the field."),
    )
    if errors:
        raise ValidationError(errors)
    return {"title": title, "body": body}


def post(
    agent: Agent,
    data: dict,
    *,
    page: Page | None = None,
    project: Project | None = None,
    photo: bytes = b"",
) -> FieldUpdate:
    """Post an update on a page or a project (``photo``: a checked JPEG from
    ``photos.process``) and mail it to the donors who asked for news."""
    if (page is None) == (project is None):
        raise ValueError("an update is about one page or one project")
    if not can_post(agent, page=page, project=project):
        raise PermissionDenied(
            _("Only the page's hosts or the organisation's staff can post news.")
        )
    if page is not None and page.status not in PUBLIC_PAGES:
        raise ValidationError({"title": _("Publish the page before posting news on it.")})
    clean = _clean(data)
    subject = FieldUpdate.page_id == page.id if page else FieldUpdate.project_id == project.id
    recent = db.session.scalar(
        select(func.count(FieldUpdate.id)).where(
            subject, FieldUpdate.posted_at > utcnow() - timedelta(days=1)
        )
    )
    if recent >= PER_DAY:
        raise ValidationError(
            {
                "title": _(
                    "%(n)s updates a day at most: your donors asked for news, not a stream.",
                    n=PER_DAY,
                )
            }
        )
    cause = page.cause if page is not None else project.cause
    update = FieldUpdate(
        organisation_id=cause.organisation_id,
        cause_id=cause.id,
        page_id=page.id if page else None,
        project_id=project.id if project else None,
        author_id=agent.id,
        photo=photos.save(photo) if photo else None,
        **clean,
    )
    db.session.add(update)
    db.session.flush()
    mail_once(update)
    return update


def mail_once(update: FieldUpdate) -> int:
    """Queue the update's mail for its donors unless it was queued already;
    returns how many addresses it was for."""
    if update.mailed_at is not None:
        return 0
    to = recipients(update)
    field_update_posted.send(update, recipients=to)
    update.mailed_at = utcnow()
    db.session.flush()
    return len(to)


def edit(
    agent: Agent, update: FieldUpdate, data: dict, *, photo: bytes = b"", drop_photo=False
) -> FieldUpdate:
    """Change an update's words or photo (it is not mailed again)."""
    if not can_change(agent, update):
        raise PermissionDenied(
            _("Only its author or the organisation's staff can change this news.")
        )
    clean = _clean(data)
    update.title, update.body = clean["title"], clean["body"]
    if photo:
        update.photo = photos.save(photo)
    elif drop_photo:
        update.photo = None
    _audit_staff(agent, update, "field_update.edit")
    db.session.flush()
    return update


def delete(agent: Agent, update: FieldUpdate) -> None:
    if not can_change(agent, update):
        raise PermissionDenied(
            _("Only its author or the organisation's staff can delete this news.")
        )
    _audit_staff(agent, update, "field_update.delete")
    db.session.delete(update)
    db.session.flush()


def _audit_staff(agent: Agent, update: FieldUpdate, action: str) -> None:
    # The author's own changes are theirs; staff changing someone else's are on record.
    if update.author_id != agent.id:
        audit.record(
            update.organisation_id, agent, action, update.title, subject=update, details={}
        )


def get(update_id: int) -> FieldUpdate:
    update = db.session.get(FieldUpdate, update_id)
    if update is None:
        raise NotFound(_("This news does not exist (any more)."))
    return update


def listed(*, page: Page | None = None, project: Project | None = None) -> list[FieldUpdate]:
    """The updates of a page or a project, newest first."""
    if page is not None:
        where, order = FieldUpdate.page_id == page.id, FieldUpdate.posted_at.desc()
    else:
        where, order = FieldUpdate.project_id == project.id, FieldUpdate.posted_at.desc()
    return list(
        db.session.scalars(select(FieldUpdate).where(where).order_by(order, FieldUpdate.id.desc()))
    )


def recipients(update: FieldUpdate) -> dict[str, str]:
    """{address: locale} of the donors of a gift to the update's page (or an
    event's member pages) or project who agreed to news on that gift, and
    whose gift was not refunded in full. Each address once, in the language
    of its latest such gift."""
    later = aliased(Donation)
    net = Donation.amount_minor + (
        select(func.coalesce(func.sum(later.amount_minor), 0))
        .where(later.original_id == Donation.id)
        .scalar_subquery()
    )
    if update.page_id is not None:
        scope = or_(Donation.page_id == update.page_id, Donation.event_id == update.page_id)
    else:
        scope = Donation.project_id == update.project_id
    rows = db.session.execute(
        select(func.lower(Donation.donor_email), PendingGift.locale)
        .join(PendingGift, PendingGift.id == Donation.pending_gift_id)
        .join(NewsConsent, NewsConsent.pending_gift_id == PendingGift.id)
        .where(
            scope,
            Donation.kind == DonationKind.GIFT,
            Donation.donor_email != "",
            NewsConsent.is_agreed.is_(True),
            net > 0,
        )
        .order_by(Donation.id)
    ).all()
    return {email: locale or "fr" for email, locale in rows}


# --- the donor's choice, from the thank-you page -----------------------------------


def consent_of(pending: PendingGift) -> bool:
    consent = db.session.get(NewsConsent, pending.id)
    return bool(consent and consent.is_agreed)


def set_consent(pending: PendingGift, agreed: bool) -> NewsConsent:
    """The donor's answer for this gift; the time of the last answer is kept."""
    consent = db.session.get(NewsConsent, pending.id)
    if consent is None:
        consent = NewsConsent(pending_gift_id=pending.id)
        db.session.add(consent)
    consent.is_agreed = bool(agreed)
    consent.decided_at = utcnow()
    db.session.flush()
    return consent


# --- open data ----------------------------------------------------------------------


def open_rows() -> list[dict]:
    """Every update of a public cause's projects and public pages; never who
    wrote it nor who received it."""
    rows = db.session.execute(
        select(FieldUpdate, Cause.slug, Project.slug, Page.slug)
        .join(Cause, Cause.id == FieldUpdate.cause_id)
        .outerjoin(Project, Project.id == FieldUpdate.project_id)
        .outerjoin(Page, Page.id == FieldUpdate.page_id)
        .where(
            Cause.status.in_(PUBLIC_CAUSES),
            or_(FieldUpdate.project_id.is_not(None), Page.status.in_(PUBLIC_PAGES)),
        )
        .order_by(FieldUpdate.id)
    ).all()
    return [
        {
            "id": u.id,
            "cause": cause,
            "project": project,
            "page": page,
            "title": u.title,
            "body": u.body,
            "photo_url": absolute_url("campaigns.media", name=u.photo) if u.photo else None,
            "posted_at": u.posted_at.astimezone(UTC).isoformat(),
        }
        for u, cause, project, page in rows
    ]
