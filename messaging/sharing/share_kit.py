"""An agent's share kit: the suggested posts rendered for their own page, with
their own share link per channel, intent links, a QR code and their figures."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import segno
from flask import current_app
from sqlalchemy import or_, select

from campaigns.pages.models import Page
from extensions import db
from messaging.sharing import services as sharing
from messaging.templating.context import context_for
from messaging.templating.models import MessageTemplate, Trigger
from messaging.templating.rendering import (
    LOCALES,
    RenderError,
    render_message,
    render_source,
    tidy,
)

KIT_CHANNELS = ("x", "facebook", "email", "copy")

# Used when the organisation wrote no suggested post for a channel, so the kit
# is never empty. They pass validate_template (tests/messaging/templating/test_templates.py).
DEFAULT_POSTS: dict[str, dict[str, tuple[str, str]]] = {
    "fr": {
        "x": (
            "",
            "Je soutiens « {{ cause.title }} ». Avec 10 €, vous m'aidez à atteindre "
            "{{ page.goal }} : déjà {{ page.raised }} ! {{ page.share_url }}",
        ),
        "facebook": (
            "",
            "Bonjour à toutes et à tous !\n\nJe collecte des dons pour « {{ cause.title }} » "
            "avec {{ organisation.name }}. Mon objectif : {{ page.goal }}, et j'en suis déjà "
            "à {{ page.raised }}.\n\nUn don de 10 € fait vraiment la différence. Merci de "
            "votre soutien !\n\n{{ page.share_url }}",
        ),
        "email": (
            "Vous me donnez un coup de main ? 10 € pour {{ cause.title }}",
            "Bonjour,\n\nJe participe à « {{ cause.title }} » avec {{ organisation.name }} "
            "et je me suis fixé un objectif de {{ page.goal }} ({{ page.raised }} collectés "
            "pour l'instant).\n\nSi vous le pouvez, un don de 10 € sur ma page m'aiderait "
            "beaucoup :\n{{ page.share_url }}\n\nMerci !\n{{ agent.first_name }}",
        ),
        "copy": (
            "",
            "Je soutiens « {{ cause.title }} » : 10 € suffisent pour m'aider à atteindre "
            "{{ page.goal }}. {{ page.share_url }}",
        ),
    },
    "en": {
        "x": (
            "",
            "I'm supporting “{{ cause.title }}”. €10 helps me reach {{ page.goal }}: "
            "{{ page.raised }} so far! {{ page.share_url }}",
        ),
        "facebook": (
            "",
            "Hi everyone!\n\nI'm raising money for “{{ cause.title }}” with "
            "{{ organisation.name }}. My goal is {{ page.goal }} and I'm at {{ page.raised }} "
            "already.\n\nA €10 gift really makes a difference. Thank you for your support!"
            "\n\n{{ page.share_url }}",
        ),
        "email": (
            "Can you help? €10 for {{ cause.title }}",
            "Hello,\n\nI'm taking part in “{{ cause.title }}” with {{ organisation.name }} "
            "and my goal is {{ page.goal }} ({{ page.raised }} raised so far).\n\nIf you "
            "can, a €10 gift on my page would help a lot:\n{{ page.share_url }}\n\nThank "
            "you!\n{{ agent.first_name }}",
        ),
        "copy": (
            "",
            "I'm supporting “{{ cause.title }}”: €10 helps me reach {{ page.goal }}. "
            "{{ page.share_url }}",
        ),
    },
}


@dataclass
class Post:
    name: str
    subject: str
    text: str
    share_url: str

    @property
    def x_intent(self) -> str:
        params = {"text": self.text}
        if self.share_url not in self.text:
            params["url"] = self.share_url
        return "https://twitter.com/intent/tweet?" + urlencode(params, quote_via=quote)

    @property
    def facebook_sharer(self) -> str:
        return "https://www.facebook.com/sharer/sharer.php?" + urlencode(
            {"u": self.share_url}, quote_via=quote
        )

    @property
    def mailto(self) -> str:
        return "mailto:?" + urlencode({"subject": self.subject, "body": self.text}, quote_via=quote)


@dataclass
class Kit:
    locale: str
    share_urls: dict[str, str]
    posts: dict[str, list[Post]] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)


def kit_locale(agent, page: Page) -> str:
    """The agent's language, else the organisation's."""
    locale = getattr(agent, "locale", "") or ""
    return locale if locale in LOCALES else (page.cause.organisation.locale or "fr")


def suggested_templates(page: Page, locale: str) -> dict[str, list[MessageTemplate]]:
    """Active suggested posts of the page's organisation for its cause (or for
    every cause), per channel, the cause's own first."""
    cause = page.cause
    rows = db.session.scalars(
        select(MessageTemplate)
        .where(
            MessageTemplate.organisation_id == cause.organisation_id,
            or_(MessageTemplate.cause_id.is_(None), MessageTemplate.cause_id == cause.id),
            MessageTemplate.trigger == Trigger.SUGGESTED,
            MessageTemplate.locale == locale,
            MessageTemplate.is_active.is_(True),
        )
        .order_by(MessageTemplate.cause_id.is_(None), MessageTemplate.id)
    )
    grouped: dict[str, list[MessageTemplate]] = {c: [] for c in KIT_CHANNELS}
    for template in rows:
        grouped.setdefault(str(template.channel), []).append(template)
    return grouped


def build_kit(agent, page: Page) -> Kit:
    """Every channel's posts rendered for the agent's page with the agent's own
    links (made on first use: the caller commits)."""
    locale = kit_locale(agent, page)
    templates = suggested_templates(page, locale)
    kit = Kit(locale=locale, share_urls={})
    for channel in KIT_CHANNELS:
        context = context_for(agent, page, channel=channel, locale=locale)
        url = context["page"]["share_url"]
        kit.share_urls[channel] = url
        posts = []
        for template in templates.get(channel, []):
            try:
                rendered = render_message(template, context)
            except RenderError:
                current_app.logger.warning("suggested template %s fails to render", template.id)
                continue
            posts.append(Post(template.name, rendered.subject, rendered.text, url))
        if not posts:
            subject, body = DEFAULT_POSTS[locale][channel]
            posts.append(
                Post(
                    "",
                    " ".join(render_source(subject, context).split()),
                    tidy(render_source(body, context)),
                    url,
                )
            )
        kit.posts[channel] = posts
    kit.share_urls["qr"] = sharing.share_url(sharing.link_for(agent, page, "qr"))
    kit.stats = sharing.channel_stats(agent=agent, page=page)
    return kit


def qr_code(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False)


def qr_svg_inline(url: str, title: str) -> str:
    """An SVG QR code to put in the page (segno escapes the title)."""
    return qr_code(url).svg_inline(scale=5, border=2, title=title, svgclass="qr-code")


def qr_file(url: str, kind: str) -> bytes:
    """A printable QR code: a large PNG or a scalable SVG, for posters."""
    out = io.BytesIO()
    if kind == "png":
        qr_code(url).save(out, kind="png", scale=20, border=4)
    else:
        qr_code(url).save(out, kind="svg", scale=20, border=4, xmldecl=True)
    return out.getvalue()
