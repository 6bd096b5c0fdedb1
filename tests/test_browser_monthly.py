"""A donor in the demo gives monthly with the fees covered (the exact amount
shown before paying, following the amount chosen), pays with the test
payment, gets the mail with the stop link; staff see the net on the
dashboard and the donor among the monthly donors (headless Chromium, real
commits, CSRF on, axe and the CSP watched on every screen)."""

from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import select

from tests.test_browser import (  # noqa: F401 - fixtures
    assert_accessible,
    browser,
    live_app,
    live_server,
    log_in,
    new_context,
)

pytestmark = pytest.mark.browser


def demo_page_slug(app) -> str:
    from campaigns.demo import seed as demo
    from campaigns.organisations.models import Cause
    from campaigns.pages.models import Page, PageKind, PageStatus
    from extensions import db

    with app.app_context():
        return db.session.scalar(
            select(Page.slug)
            .join(Cause)
            .where(
                Cause.slug == demo.DEMO_CAUSE_SLUG,
                Page.kind == PageKind.PERSONAL,
                Page.status == PageStatus.PUBLISHED,
            )
            .order_by(Page.id)
            .limit(1)
        )


def cause_net(app) -> tuple[int, int, str]:
    """The demo cause's (net, covers) as the ledger's totals hold them, and its currency."""
    from campaigns.demo import seed as demo
    from campaigns.organisations.models import Cause
    from campaigns.totals import services as totals
    from campaigns.totals.models import TotalScope
    from extensions import db

    with app.app_context():
        cause = db.session.scalar(select(Cause).where(Cause.slug == demo.DEMO_CAUSE_SLUG))
        figures = totals.figures_one(TotalScope.CAUSE, cause.id)
        currency = cause.organisation.currency
        db.session.remove()
        return figures.net_minor, figures.covers_minor, currency


def test_a_donor_gives_monthly_with_the_fees_covered_and_staff_see_the_net(
    live_app,  # noqa: F811
    live_server,  # noqa: F811
    browser,  # noqa: F811
):
    if os.environ.get("STRIPE_SECRET_KEY"):
        pytest.skip("the test payment only exists in the demo (no Stripe key)")
    from campaigns.demo import seed as demo
    from campaigns.giving import covers
    from campaigns.money import format_money

    base = live_server
    net_before, covers_before, currency = cause_net(live_app)
    context = new_context(browser, locale="en-GB", extra_http_headers={"Accept-Language": "en"})
    donor = context.new_page()
    donor.goto(f"{base}/p/{demo_page_slug(live_app)}")
    label = "[data-fee-cover-label]"
    # The browser follows the donor's amount with the server's formula.
    donor.check("input[name=amount][value=other]")
    donor.fill("input[name=other_amount]", "40")
    cover_40 = covers.cover_for(4000, currency)
    assert format_money(cover_40, currency, "en") in donor.inner_text(label)
    donor.check("input[name=amount][value='10']")
    cover = covers.cover_for(1000, currency)
    assert format_money(cover, currency, "en") in donor.inner_text(label)
    donor.check("input[name=frequency][value=monthly]")
    donor.check("input[name=cover_fees]")
    donor.fill("input[name=donor_name]", "Mona Mensuelle")
    donor.fill("input[name=donor_email]", "mona@exemple.fr")
    assert_accessible(donor)
    donor.click("form.give-form [type=submit]")
    donor.wait_for_load_state()
    assert "/test-payment" in donor.url
    # Before paying: the cover and the total, every month.
    summary = donor.inner_text(".gift-summary")
    assert format_money(cover, currency, "en") in donor.inner_text("[data-figure=cover]")
    total = format_money(1000 + cover, currency, "en")
    assert total in donor.inner_text("[data-figure=total]") and "every month" in summary
    assert_accessible(donor)
    donor.click("form[action$='/test-payment'] [type=submit]")
    donor.wait_for_load_state()
    assert donor.url.endswith("/thanks"), donor.inner_text("main")
    assert "Your gift is confirmed" in donor.inner_text("main")
    assert_accessible(donor)
    context.close()

    net_after, covers_after, _currency = cause_net(live_app)
    assert covers_after == covers_before + cover
    assert net_after > net_before  # the month's gift and cover, less the demo's fee

    staff_context = new_context(
        browser, locale="en-GB", extra_http_headers={"Accept-Language": "en"}
    )
    staff = staff_context.new_page()
    log_in(staff, base, demo.STAFF_EMAIL, demo.DEMO_PASSWORD)
    staff.goto(f"{base}/staff/{demo.DEMO_ORG_SLUG}/dashboard/")
    lang = staff.locator("html").get_attribute("lang")
    assert staff.inner_text("#cause-net") == format_money(net_after, currency, lang)
    assert staff.inner_text("#cause-covers") == format_money(covers_after, currency, lang)
    assert_accessible(staff)
    staff.goto(f"{base}/staff/{demo.DEMO_ORG_SLUG}/monthly/")
    row = staff.locator("#monthly-donors tr", has_text="mona@exemple.fr")
    assert row.count() == 1
    assert re.search(r"\b1\b", row.inner_text())  # one month paid
    assert_accessible(staff)
    staff_context.close()
