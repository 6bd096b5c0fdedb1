"""Staff keep their organisation's message templates: list, save, deactivate.

A template is checked before it is stored (``messaging.templating.rendering.validate_template``):
one that fails is refused with its line and reason, and nothing is saved.
Text to copy is only for suggested posts: nothing delivers it, the agent
pastes it from their share kit.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from campaigns.errors import ValidationError
from campaigns.organisations import services
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page, PageStatus
from extensions import db
from messaging.outbox.models import Channel
from messaging.templating.context import sample_page
from messaging.templating.models import MessageTemplate, Trigger
from messaging.templating.rendering import LOCALES, validate_template

NAME_MAX = 120
SUBJECT_MAX = 300
# The only use of the "copy" channel: agents paste it from their share kit.
COPY_TRIGGERS = frozenset({Trigger.SUGGESTED.value})


def is_never_sent(template: MessageTemplate) -> bool:
    """A copy template saved for a broadcast or an automatic message before
    they were refused: it is never sent, staff should change it."""
    return str(template.channel) == Channel.COPY and str(template.trigger) not in COPY_TRIGGERS


def list_templates(
    organisation: Organisation,
    *,
    trigger: str = "",
    channel: str = "",
    locale: str = "",
) -> list[MessageTemplate]:
    """The organisation's templates, optionally of one trigger, channel or locale."""
    query = select(MessageTemplate).where(MessageTemplate.organisation_id == organisation.id)
    if trigger:
        query = query.where(MessageTemplate.trigger == trigger)
    if channel:
        query = query.where(MessageTemplate.channel == channel)
    if locale:
        query = query.where(MessageTemplate.locale == locale)
    return list(
        db.session.scalars(
            query.order_by(
                MessageTemplate.trigger,
                MessageTemplate.channel,
                MessageTemplate.locale,
                MessageTemplate.name,
                MessageTemplate.id,
            )
        )
    )


def get_template(organisation: Organisation, template_id: int) -> MessageTemplate | None:
    template = db.session.get(MessageTemplate, template_id)
    if template is None or template.organisation_id != organisation.id:
        return None
    return template


def preview_pages(organisation: Organisation, limit: int = 200) -> list[Page]:
    """Published pages staff can preview a template on, the default one first."""
    pages = list(
        db.session.scalars(
            select(Page)
            .join(Cause, Cause.id == Page.cause_id)
            .where(Cause.organisation_id == organisation.id, Page.status == PageStatus.PUBLISHED)
            .order_by(Page.title, Page.id)
            .limit(limit)
        )
    )
    first = sample_page(organisation)
    if first is not None:
        pages = [first, *[p for p in pages if p.id != first.id]]
    return pages


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def save_template(
    agent, organisation: Organisation, template: MessageTemplate | None, data: dict
) -> MessageTemplate:
    """Create or update a template after checking it renders within its channel's
    limits; raise ValidationError (nothing changed) otherwise.

    ``data``: name, cause (slug, empty for every cause), trigger, channel,
    locale, subject, body, body_html, is_active.
    """
    services.require_staff(agent, organisation.id)
    errors: dict[str, str] = {}
    name = _text(data, "name").strip()
    if not name:
        errors["name"] = _("Give the template a name staff will recognise.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("Keep the name under %(n)s characters.", n=NAME_MAX)
    cause = None
    cause_slug = _text(data, "cause").strip()
    if cause_slug:
        cause = db.session.scalar(
            select(Cause).where(Cause.slug == cause_slug, Cause.organisation_id == organisation.id)
        )
        if cause is None:
            errors["cause"] = _("Choose one of your causes, or every cause.")
    trigger = _text(data, "trigger")
    if trigger not in {t.value for t in Trigger}:
        errors["trigger"] = _("Choose what the template is for.")
    channel = _text(data, "channel")
    if channel not in {c.value for c in Channel} - {Channel.WEBHOOK.value}:
        errors["channel"] = _("Choose X, Facebook, email or copy.")
    locale = _text(data, "locale")
    if locale not in LOCALES:
        errors["locale"] = _("Choose French or English.")
    is_email = channel == Channel.EMAIL
    subject = _text(data, "subject").strip() if is_email else ""
    body = _text(data, "body").replace("\r\n", "\n")
    body_html = _text(data, "body_html").replace("\r\n", "\n") if is_email else ""
    if len(subject) > SUBJECT_MAX:
        errors["subject"] = _("Keep the subject under %(n)s characters.", n=SUBJECT_MAX)
    if "channel" not in errors and "locale" not in errors:
        for key, message in validate_template(
            channel, locale, subject, body, body_html, organisation=organisation
        ).items():
            errors.setdefault(key, message)
    # Not a reason to skip checking the text above: staff see every problem at once.
    if channel == Channel.COPY and "trigger" not in errors and trigger not in COPY_TRIGGERS:
        errors["channel"] = _(
            "Text to copy is only offered to agents in their share kit, never sent: choose "
            "X, Facebook or email for this message, or make it a suggested post."
        )
    if errors:
        raise ValidationError(errors)
    if template is None:
        template = MessageTemplate(organisation_id=organisation.id)
        db.session.add(template)
    template.name = name
    template.cause_id = cause.id if cause else None
    template.trigger = Trigger(trigger)
    template.channel = Channel(channel)
    template.locale = locale
    template.subject = subject
    template.body = body
    template.body_html = body_html
    template.is_active = bool(data.get("is_active", True))
    template.updated_by_id = agent.id
    db.session.flush()
    return template


def set_active(agent, template: MessageTemplate, is_active: bool) -> MessageTemplate:
    """Switch a template on or off (an inactive one is never sent nor suggested)."""
    services.require_staff(agent, template.organisation_id)
    template.is_active = is_active
    template.updated_by_id = agent.id
    db.session.flush()
    return template
