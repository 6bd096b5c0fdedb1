"""Share cards: every public page family carries the tags a shared link
unfurls from, and its og:image is a 1200×630 PNG that follows the figures."""

from __future__ import annotations

from html.parser import HTMLParser
from io import BytesIO
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from campaigns.giving.ledger import record_gift
from campaigns.pages.models import Page, PageStatus
from tests.factories import EventPageFactory, PageFactory, ProjectFactory

REQUIRED = (
    "og:title",
    "og:description",
    "og:image",
    "og:image:width",
    "og:image:height",
    "og:type",
    "og:site_name",
    "og:locale",
    "og:url",
    "twitter:card",
)


class Head(HTMLParser):
    def __init__(self):
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.canonical: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "meta":
            key = attributes.get("property") or attributes.get("name")
            if key:
                self.meta.setdefault(key, []).append(attributes.get("content", ""))
        if tag == "link" and attributes.get("rel") == "canonical":
            self.canonical.append(attributes["href"])


def head_of(client, url: str) -> Head:
    response = client.get(url)
    assert response.status_code == 200, url
    head = Head()
    head.feed(response.get_data(as_text=True).split("</head>")[0])
    return head


def image_of(client, url: str) -> Image.Image:
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    return Image.open(BytesIO(response.data))


@pytest.fixture
def family(db, cause):
    cause.summary = "Clean water for 200 villages."
    event = EventPageFactory(cause=cause, slug="lyon-night", title="The Lyon night")
    team = PageFactory(cause=cause, slug="the-runners", title="The runners", kind="team")
    page = PageFactory(
        cause=cause,
        slug="anna-runs",
        title="Anna runs for water",
        story="I run **20 km** on Sunday.\n\nEvery euro buys [clean water](https://example.org).",
    )
    project = ProjectFactory(cause=cause, slug="wells", name="Wells", description="Dig wells.")
    db.session.commit()
    return {
        "home": "/",
        "cause": f"/c/{cause.slug}",
        "leaderboard": f"/c/{cause.slug}/leaderboard",
        "project": f"/c/{cause.slug}/projects/{project.slug}",
        "page": f"/p/{page.slug}",
        "event": f"/p/{event.slug}",
        "team": f"/p/{team.slug}",
    }


def test_every_public_page_family_has_a_full_share_card(client, family):
    for name, url in family.items():
        head = head_of(client, url + "?s=abc123")
        missing = [key for key in REQUIRED if not head.meta.get(key) or not head.meta[key][0]]
        assert not missing, (name, missing)
        assert head.meta["twitter:card"] == ["summary_large_image"], name
        assert head.meta["og:locale"] == ["en_GB"] and head.meta["og:locale:alternate"] == [
            "fr_FR"
        ], name
        # The canonical link and og:url drop the share link's tracking parameter.
        assert head.canonical == [f"http://localhost{url}"], name
        assert head.meta["og:url"] == head.canonical, name
        image = image_of(client, head.meta["og:image"][0])
        assert image.size == (1200, 630), name
        assert head.meta["og:image:width"] == ["1200"] and head.meta["og:image:height"] == ["630"]


def test_description_is_the_story_as_plain_text(client, family):
    head = head_of(client, family["page"])
    assert head.meta["og:description"] == ["I run 20 km on Sunday. Every euro buys clean water."]
    assert head.meta["og:type"] == ["article"]
    assert head_of(client, family["cause"]).meta["og:description"] == [
        "Clean water for 200 villages."
    ]


def test_long_story_is_cut_at_a_word(client, db, cause):
    PageFactory(cause=cause, slug="long", story="word " * 200)
    db.session.commit()
    description = head_of(client, "/p/long").meta["og:description"][0]
    assert len(description) <= 200 and description.endswith("word…")


def test_the_image_changes_when_a_gift_moves_the_figures(client, db, cause, family):
    page_url = family["page"]
    before = head_of(client, page_url).meta["og:image"][0]
    first = image_of(client, before).tobytes()
    page = db.session.scalars(select(Page).where(Page.slug == "anna-runs")).one()
    record_gift(page=page, cause=cause, amount_minor=12_500, donor_name="Marc")
    db.session.commit()
    after = head_of(client, page_url).meta["og:image"][0]
    assert after != before
    assert image_of(client, after).tobytes() != first
    # The cause's image moves too: the gift counts there.
    assert image_of(client, head_of(client, family["cause"]).meta["og:image"][0])


def test_the_image_is_drawn_in_the_pages_language(client, family):
    url = urlsplit(head_of(client, family["page"]).meta["og:image"][0])
    english = client.get(f"{url.path}?lang=en").data
    french = client.get(f"{url.path}?lang=fr").data
    assert english != french
    # An unknown language falls back to the first the site speaks, not a 500.
    assert client.get(f"{url.path}?lang=xx").data == client.get(f"{url.path}?lang=fr").data


def test_no_image_for_a_draft_page_or_an_unknown_slug(client, db, cause):
    PageFactory(cause=cause, slug="secret", status=PageStatus.DRAFT)
    db.session.commit()
    assert client.get("/cards/p/secret.png").status_code == 404
    assert client.get("/cards/p/nobody.png").status_code == 404
    assert client.get("/cards/c/nothing.png").status_code == 404
    assert client.get("/cards/x/secret.png").status_code == 404


def test_a_page_photo_is_drawn_on_the_card(client, db, app, cause):
    from pathlib import Path

    photo = Image.new("RGB", (800, 800), (200, 30, 30))
    name = "card-test-photo.jpg"
    folder = Path(app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    photo.save(folder / name)
    PageFactory(cause=cause, slug="with-photo", photo=name)
    db.session.commit()
    image = image_of(client, head_of(client, "/p/with-photo").meta["og:image"][0]).convert("RGB")
    assert image.getpixel((1100, 315))[0] > 150  # the photo fills the right side


def test_behind_a_proxy_the_card_uses_the_public_address(client, app, family, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://relais.example")
    head = head_of(client, family["page"])
    assert head.canonical == ["https://relais.example/p/anna-runs"]
    assert head.meta["og:image"][0].startswith("https://relais.example/cards/p/anna-runs.png?")
