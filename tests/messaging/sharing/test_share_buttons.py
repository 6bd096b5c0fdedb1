"""Share buttons where people share: the page (X, Facebook, WhatsApp, LinkedIn,
email, copy link, the phone's share sheet), the thank-you page, and a poster
to print with the QR code of the agent's own share link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from campaigns.giving import services as giving
from messaging.sharing.models import ShareLink

NETWORKS = ("twitter.com/intent/tweet", "facebook.com/sharer", "wa.me/", "linkedin.com/sharing")


def links(body: str) -> list[str]:
    import re

    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', body)]


def shared_url(href: str) -> str:
    query = parse_qs(urlsplit(href).query)
    for key in ("url", "u"):
        if key in query:
            return query[key][0]
    return query["text"][0].rsplit(" ", 1)[-1]


def test_a_page_offers_every_network_the_share_sheet_and_the_link(client, db, page):
    db.session.commit()
    body = client.get(f"/p/{page.slug}?s=abc").get_data(as_text=True)
    hrefs = links(body)
    for network in NETWORKS:
        (href,) = [h for h in hrefs if network in h]
        # The canonical page, not the visitor's tracking parameter.
        assert shared_url(href) == f"http://localhost/p/{page.slug}", network
    assert any(h.startswith("mailto:?subject=") for h in hrefs)
    assert f'data-web-share data-url="http://localhost/p/{page.slug}"' in body
    assert 'id="page-url"' in body and "data-copy-link" in body


def test_the_thank_you_page_asks_to_share_with_buttons(client, db, page, app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    pending = giving.start_gift(page, {"amount": "25"})
    db.session.commit()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    body = client.get(f"/give/{pending.reference}/thanks").get_data(as_text=True)
    assert "Tell your friends" in body
    hrefs = links(body)
    for network in NETWORKS:
        (href,) = [h for h in hrefs if network in h]
        assert shared_url(href) == f"http://localhost/p/{page.slug}", network
    assert "I just gave to" in body


def test_the_poster_carries_the_page_and_the_agents_qr_link(client, db, as_agent, page):
    from campaigns.pages.models import PageKind

    page.kind = PageKind.EVENT
    page.venue, page.city = "Le Sucre", "Lyon"
    as_agent(page.owner)
    response = client.get(f"/p/{page.slug}/share/poster")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    link = db.session.scalars(
        select(ShareLink).where(ShareLink.page_id == page.id, ShareLink.channel == "qr")
    ).one()
    assert f"/s/{link.code}" in body and "<svg" in body
    assert page.title in body and "Le Sucre, Lyon" in body and "Our goal:" in body
    assert 'href="/p/' + page.slug + '/share/poster"' in client.get(
        f"/p/{page.slug}/share"
    ).get_data(as_text=True)


def test_only_the_pages_editors_get_its_poster(client, db, as_agent, page):
    from tests.factories import AgentFactory

    db.session.commit()
    assert client.get(f"/p/{page.slug}/share/poster").status_code in (302, 401)
    as_agent(AgentFactory())
    assert client.get(f"/p/{page.slug}/share/poster").status_code == 403
