"""Share links: the redirect counts the click and carries the code to the give
form; gifts paid through a link are attributed to it; the share kit."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import func, select

from campaigns.giving.models import Donation, DonationKind, PendingGift
from campaigns.pages.models import PageHost
from messaging.sharing.models import ShareClick, ShareLink
from messaging.sharing.services import channel_stats, link_for, share_url
from messaging.templating.models import MessageTemplate
from tests import stripe_objects as so
from tests.factories import (
    AgentFactory,
    CauseFactory,
    EventPageFactory,
    OrganisationFactory,
    PageFactory,
)

SECRET = "whsec_test_relais"
pytestmark = pytest.mark.filterwarnings("ignore:Connection is already established")


@pytest.fixture(autouse=True)
def english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"


@pytest.fixture
def world(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")  # the demo's test payment
    org = OrganisationFactory(slug="eau-vive", name="Eau Vive", locale="fr")
    cause = CauseFactory(organisation=org, slug="water", title="Water for 20 villages")
    event = EventPageFactory(cause=cause, slug="lyon", city="Lyon")
    owner = AgentFactory(name="Camille Martin", locale="en")
    page = PageFactory(cause=cause, parent=event, owner=owner, slug="camille-runs")
    db.session.commit()
    return {"org": org, "cause": cause, "event": event, "page": page, "owner": owner}


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_one_link_per_agent_page_and_channel(db, world):
    page, owner = world["page"], world["owner"]
    x = link_for(owner, page, "x")
    assert link_for(owner, page, "x").id == x.id
    assert re.fullmatch(r"[A-Za-z0-9]{8}", x.code)
    facebook = link_for(owner, page, "facebook")
    assert facebook.code != x.code
    assert link_for(None, page, "x").id == x.id  # no agent: the page owner's link
    assert share_url(x) == f"http://localhost/s/{x.code}"
    with pytest.raises(ValueError):
        link_for(owner, page, "carrier-pigeon")


def test_the_unique_key_settles_a_race(db, world):
    page, owner = world["page"], world["owner"]
    theirs = ShareLink(code="Theirs01", agent_id=owner.id, page_id=page.id, channel="copy")
    db.session.add(theirs)
    db.session.flush()
    # As if the first look had missed the row another request just inserted.
    from messaging.sharing import services as sharing

    real_find = sharing._find
    calls = []

    def late_find(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_find(*args)

    sharing._find = late_find
    try:
        assert link_for(owner, page, "copy").id == theirs.id
    finally:
        sharing._find = real_find
    assert count(db, ShareLink) == 1


def test_following_a_link_counts_the_click_and_keeps_the_code(client, db, world):
    link = link_for(world["owner"], world["page"], "x")
    db.session.commit()
    response = client.get(f"/s/{link.code}")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.query) == ("/p/camille-runs", f"s={link.code}")
    db.session.refresh(link)
    assert link.click_count == 1
    assert count(db, ShareClick, ShareClick.share_link_id == link.id) == 1
    client.get(f"/s/{link.code}")
    db.session.refresh(link)
    assert link.click_count == 2

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(rf'<input[^>]*name="share"[^>]*value="{link.code}"', page) or re.search(
        rf'<input[^>]*value="{link.code}"[^>]*name="share"', page
    )


def test_an_unknown_code_is_a_404_page(client, db, world):
    response = client.get("/s/nope1234")
    assert response.status_code == 404
    assert "share link does not exist" in response.get_data(as_text=True)
    assert count(db, ShareClick) == 0


def test_a_gift_through_a_share_link_is_attributed(client, db, world):
    page = world["page"]
    link = link_for(world["owner"], page, "facebook")
    db.session.commit()
    landing = client.get(f"/s/{link.code}")
    form_page = client.get(landing.headers["Location"]).get_data(as_text=True)
    assert link.code in form_page
    gift = client.post(
        f"/p/{page.slug}/give",
        data={"amount": "25", "other_amount": "", "share": link.code, "donor_name": "Ada"},
    )
    assert gift.status_code == 303
    pending = db.session.scalar(select(PendingGift))
    assert pending.share_code == link.code
    paid = client.post(f"/give/{pending.reference}/test-payment")
    assert paid.status_code == 303
    donation = db.session.scalar(select(Donation).where(Donation.kind == DonationKind.GIFT))
    assert donation.share_link_id == link.id

    mine = channel_stats(agent=world["owner"], page=page)
    assert mine["facebook"] == {"clicks": 1, "gifts": 1, "amount_minor": 2500}
    assert mine["x"] == {"clicks": 0, "gifts": 0, "amount_minor": 0}
    assert channel_stats(cause=world["cause"])["facebook"]["gifts"] == 1
    assert channel_stats(agent=AgentFactory())["facebook"]["gifts"] == 0


def test_a_signed_webhook_names_the_share_link(app, client, db, world, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)
    page = world["page"]
    link = link_for(world["owner"], page, "email")
    other = link_for(world["owner"], PageFactory(cause=world["cause"]), "email")
    db.session.commit()

    def post(share: str, amount: int):
        session = so.checkout_session(page=page.slug, cause="water", share=share, amount=amount)
        body, headers = so.signed(so.event(session, "checkout.session.completed"), SECRET)
        response = client.post("/webhooks/stripe", data=body, headers=headers)
        assert response.get_json()["outcome"] == "recorded", response.get_data(as_text=True)

    post(link.code, 4000)
    post(other.code, 1000)  # a code for another page is not this page's channel
    post("unknown1", 500)
    gifts = {d.amount_minor: d.share_link_id for d in db.session.scalars(select(Donation))}
    assert gifts == {4000: link.id, 1000: None, 500: None}
    assert channel_stats(page=page)["email"] == {"clicks": 0, "gifts": 1, "amount_minor": 4000}


def test_the_share_kit_has_posts_links_and_a_qr_code(client, login_as, db, world):
    login_as(world["owner"])
    response = client.get("/p/camille-runs/share")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    links = {link.channel: link for link in db.session.scalars(select(ShareLink))}
    assert set(links) == {"x", "facebook", "email", "copy", "qr"}
    x_url = share_url(links["x"])
    # The built-in English posts (no template yet), with each channel's own link.
    assert "€10" in html
    assert "https://twitter.com/intent/tweet?text=" in html
    assert quote(x_url, safe="") in html
    facebook = "https://www.facebook.com/sharer/sharer.php?u=" + quote(
        share_url(links["facebook"]), safe=""
    )
    assert facebook in html
    assert "mailto:?subject=" in html and quote(share_url(links["email"]), safe="") in html
    assert share_url(links["copy"]) in html
    assert "<svg" in html and "QR code for" in html
    assert 'href="/p/camille-runs/share/qr.png"' in html
    assert "What your links brought" in html


def test_the_kit_uses_the_organisations_suggested_posts(client, login_as, db, world):
    org = world["org"]
    for locale, body in (("en", "Run with me! {{ page.share_url }}"), ("fr", "Courez ! x")):
        db.session.add(
            MessageTemplate(
                organisation_id=org.id,
                name=f"Run {locale}",
                trigger="suggested",
                channel="x",
                locale=locale,
                body=body,
            )
        )
    db.session.commit()
    login_as(world["owner"])  # her locale is English
    html = client.get("/p/camille-runs/share").get_data(as_text=True)
    link = db.session.scalar(select(ShareLink).where(ShareLink.channel == "x"))
    assert f"Run with me! {share_url(link)}" in html
    assert "Courez" not in html
    assert quote(f"Run with me! {share_url(link)}", safe="") in html


def test_qr_code_downloads(client, login_as, db, world):
    login_as(world["owner"])
    png = client.get("/p/camille-runs/share/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG")
    assert "attachment" in png.headers["Content-Disposition"]
    svg = client.get("/p/camille-runs/share/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert client.get("/p/camille-runs/share/qr.gif").status_code == 404


def test_only_the_owner_and_cohosts_open_the_kit(client, login_as, db, world):
    stranger = AgentFactory()
    cohost = AgentFactory()
    db.session.add(PageHost(page_id=world["page"].id, agent_id=cohost.id))
    db.session.commit()
    anonymous = client.get("/p/camille-runs/share")
    assert anonymous.status_code in (302, 401)
    login_as(stranger)
    assert client.get("/p/camille-runs/share").status_code == 403
    assert client.get("/p/camille-runs/share/qr.png").status_code == 403
    assert count(db, ShareLink) == 0
    login_as(cohost)
    assert client.get("/p/camille-runs/share").status_code == 200
    owners = {link.agent_id for link in db.session.scalars(select(ShareLink))}
    assert owners == {cohost.id}  # the co-host shares with their own links


def test_the_page_and_the_account_link_to_the_kit(client, login_as, db, world):
    login_as(world["owner"])
    assert 'href="/p/camille-runs/share"' in client.get("/p/camille-runs").get_data(as_text=True)
    assert 'href="/p/camille-runs/share"' in client.get("/me").get_data(as_text=True)
