"""The field-news mail: one per donor who asked for news, queued in the unit of
work that posts the update (``field_update_posted``). Campaign mail, not
transactional: the address's opt-out, the unsubscribe footer and its one-click
headers apply at delivery (``messaging.outbox.to_address``)."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from campaigns.organisations.models import Organisation
from campaigns.urls import absolute_url
from extensions import db
from messaging.outbox.models import Channel
from messaging.outbox.queue import enqueue, new_message_id
from messaging.preferences.services import address_hash, opted_out_hashes

TEMPLATE = "field_news"


def _context(update) -> dict:
    if update.page_id is not None:
        subject_name = update.page.title
        url = absolute_url("campaigns.page_detail", slug=update.page.slug)
    else:
        subject_name = update.project.name
        url = absolute_url(
            "expenses.project", cause_slug=update.cause.slug, project_slug=update.project.slug
        )
    photo = absolute_url("campaigns.media", name=update.photo) if update.photo else None
    return {
        "update": update,
        "subject_name": subject_name,
        "url": f"{url}#news-{update.id}",
        "photo_url": photo,
        "organisation": db.session.get(Organisation, update.organisation_id),
    }


def queue_field_update(update, *, recipients: dict[str, str]) -> int:
    """Queue the update for each address once (the dedupe key names the update
    and the address); returns how many rows were added."""
    context = _context(update)
    rendered: dict[str, tuple[str, str, str]] = {}
    rows = []
    hashes = {email: address_hash(email) for email in recipients}
    stopped = opted_out_hashes(list(hashes.values()))
    for email, locale in recipients.items():
        if hashes[email] in stopped:
            continue
        if locale not in rendered:
            with force_locale(locale):
                subject = " ".join(
                    render_template(f"messaging/email/{TEMPLATE}/subject.txt", **context).split()
                )[:300]
                rendered[locale] = (
                    subject,
                    render_template(f"messaging/email/{TEMPLATE}/body.txt", **context),
                    render_template(
                        f"messaging/email/{TEMPLATE}/body.html", subject=subject, **context
                    ),
                )
        subject, text, html = rendered[locale]
        rows.append(
            {
                "dedupe_key": f"field-news:{update.id}:{hashes[email]}"[:200],
                "organisation_id": update.organisation_id,
                "page_id": update.page_id,
                "trigger": "field_news",
                "channel": Channel.EMAIL.value,
                "recipient": email,
                "subject": subject,
                "body_text": text,
                "body_html": html,
                "link": context["url"][:500],
                "message_id": new_message_id(),
            }
        )
    return enqueue(rows)
