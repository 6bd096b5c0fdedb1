"""Share cards: what a link to a public page unfurls as on Facebook, X,
WhatsApp or LinkedIn (Open Graph and Twitter tags), and the figures its
generated image is drawn from.

A card's image URL carries a version made from everything drawn on it, so a
new gift gives the page a new image URL and the networks fetch it again
instead of showing yesterday's total from their own cache."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from campaigns.giving import discretion
from campaigns.organisations.models import Cause, Project
from campaigns.pages.models import Page, PageKind
from campaigns.templating import render_story
from campaigns.totals.models import TotalScope
from campaigns.totals.services import Figures, figures_one
from campaigns.urls import absolute_url

IMAGE_WIDTH = 1200
IMAGE_HEIGHT = 630
DESCRIPTION_LENGTH = 200
# Open Graph wants language_TERRITORY; the territory is the usual one for
# each language the site speaks.
OG_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


@dataclass(frozen=True)
class Drawing:
    """Everything the share image shows; its hash is the image's version."""

    kind: str  # "p" for a page, event or team; "c" for a cause
    slug: str
    locale: str
    title: str
    organisation: str
    raised_minor: int | None
    goal_minor: int
    currency: str
    donor_count: int
    photo: str | None = None
    label: str = ""

    @property
    def version(self) -> str:
        parts = [str(getattr(self, name)) for name in self.__dataclass_fields__]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ShareCard:
    title: str
    description: str
    url: str
    type: str = "website"
    image_url: str = ""
    image_width: int = IMAGE_WIDTH
    image_height: int = IMAGE_HEIGHT
    image_alt: str = ""
    site_name: str = "Relais"
    locale: str = "fr_FR"
    alternates: tuple[str, ...] = field(default_factory=tuple)


def plain_text(markdown: str, limit: int = DESCRIPTION_LENGTH) -> str:
    """A story as one line of plain text, cut at a word near ``limit``."""
    text = " ".join(render_story(markdown).striptags().split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.-–— ") + "…"


def _locale() -> str:
    return str(get_locale() or "fr")


def _locales() -> tuple[str, tuple[str, ...]]:
    here = _locale()
    others = [code for code in current_app.config["LANGUAGES"] if code != here]
    return OG_LOCALES.get(here, here), tuple(OG_LOCALES.get(c, c) for c in others)


def _image_url(drawing: Drawing) -> str:
    return absolute_url(
        "cards.image", kind=drawing.kind, slug=drawing.slug, lang=drawing.locale, v=drawing.version
    )


def page_drawing(page: Page, raised_minor: int | None, donor_count: int, locale: str) -> Drawing:
    label = {PageKind.EVENT: "event", PageKind.TEAM: "team"}.get(page.kind, "")
    return Drawing(
        kind="p",
        slug=page.slug,
        locale=locale,
        title=page.title,
        organisation=page.cause.organisation.name,
        raised_minor=raised_minor,
        goal_minor=page.goal_minor,
        currency=page.currency,
        donor_count=donor_count,
        photo=page.photo,
        label=label,
    )


def cause_drawing(cause: Cause, locale: str, total: Figures | None = None) -> Drawing:
    """``total`` is what the view already shows the public; read it when not given."""
    if total is None:
        total = discretion.total(
            "cause", cause.id, cause.organisation, figures_one(TotalScope.CAUSE, cause.id)
        )
    return Drawing(
        kind="c",
        slug=cause.slug,
        locale=locale,
        title=cause.title,
        organisation=cause.organisation.name,
        raised_minor=total.raised_minor,
        goal_minor=cause.goal_minor,
        currency=cause.organisation.currency,
        donor_count=total.donor_count,
    )


def page_card(page: Page, shown: Figures, partners: list) -> ShareCard:
    """The page's card from what its view already read: the public figures and
    the sponsors it shows (no second query per page view)."""
    drawing = page_drawing(page, shown.raised_minor, shown.donor_count, _locale())
    locale, alternates = _locales()
    description = plain_text(page.story) or plain_text(page.cause.summary or page.cause.story)
    partners = [s.name for s in partners]
    if partners:
        thanks = _("With the support of %(names)s.", names=", ".join(partners))
        room = max(60, DESCRIPTION_LENGTH - len(thanks) - 1)
        description = f"{plain_text(description, room)} {thanks}"
    return ShareCard(
        title=page.title,
        description=description,
        url=absolute_url("campaigns.page_detail", slug=page.slug),
        type="article",
        image_url=_image_url(drawing),
        image_alt=page.title,
        locale=locale,
        alternates=alternates,
    )


def cause_card(
    cause: Cause,
    total: Figures | None = None,
    *,
    endpoint: str = "campaigns.cause_detail",
    title: str = "",
) -> ShareCard:
    drawing = cause_drawing(cause, _locale(), total)
    locale, alternates = _locales()
    return ShareCard(
        title=title or cause.title,
        description=cause.summary or plain_text(cause.story),
        url=absolute_url(endpoint, slug=cause.slug),
        image_url=_image_url(drawing),
        image_alt=cause.title,
        locale=locale,
        alternates=alternates,
    )


def project_card(project: Project) -> ShareCard:
    cause = project.cause
    card = cause_card(cause)
    return ShareCard(
        title=f"{project.name} — {cause.title}",
        description=plain_text(project.description) or card.description,
        url=absolute_url("expenses.project", cause_slug=cause.slug, project_slug=project.slug),
        type="article",
        image_url=card.image_url,
        image_alt=cause.title,
        locale=card.locale,
        alternates=card.alternates,
    )


def home_card(causes: list[Cause], totals: dict, description: str) -> ShareCard:
    """The home page shows the first published cause's image, if there is one."""
    locale, alternates = _locales()
    first = causes[0] if causes else None
    image = _image_url(cause_drawing(first, _locale(), totals[first.id])) if first else ""
    return ShareCard(
        title="Relais",
        description=description,
        url=absolute_url("campaigns.home"),
        image_url=image,
        image_alt=causes[0].title if causes else "",
        locale=locale,
        alternates=alternates,
    )


def profile_card(
    name: str, bio: str, url: str, pages: list[Page], figures: dict[int, Figures]
) -> ShareCard:
    """A free agent's profile unfurls with their name, bio, and the share image
    of their first public page (the one they are raising for now)."""
    locale, alternates = _locales()
    first = pages[0] if pages else None
    image = ""
    if first is not None:
        shown = figures[first.id]
        image = _image_url(page_drawing(first, shown.raised_minor, shown.donor_count, _locale()))
    return ShareCard(
        title=name,
        description=plain_text(bio) or _("%(name)s raises money on Relais.", name=name),
        url=url,
        type="profile",
        image_url=image,
        image_alt=first.title if first else "",
        locale=locale,
        alternates=alternates,
    )
