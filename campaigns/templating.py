"""Jinja filters and globals: money per locale, Markdown stories made safe."""

from __future__ import annotations

import nh3
from babel.numbers import get_currency_precision
from flask import Flask, current_app, request, url_for
from flask_babel import format_date, format_time, get_locale
from markdown_it import MarkdownIt
from markupsafe import Markup

from campaigns.money import format_cost_per_unit, format_money, minor_factor
from campaigns.urls import absolute_url

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h2",
    "h3",
    "h4",
    "code",
    "pre",
    "hr",
}


def render_story(text: str) -> Markup:
    """Markdown to HTML, then sanitised: no script, no inline HTML, safe links only."""
    html = _markdown.render(text or "")
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener ugc",
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above


def money(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return "—"  # a total not shown: it would tell a hidden gift (giving/discretion.py)
    return format_money(int(amount_minor), currency, str(get_locale() or "fr"))


def cost_per_unit(fees_minor: int, raised_minor: int, currency: str) -> str:
    """Stripe's fees per unit of currency raised (per euro), in the reader's language."""
    return format_cost_per_unit(
        int(fees_minor), int(raised_minor), currency, str(get_locale() or "fr")
    )


def one_unit(currency: str) -> str:
    """One unit of ``currency`` ('1 €'), for "per euro raised"."""
    return money(minor_factor(currency), currency)


def percent(part: int, whole: int) -> int:
    if not whole:
        return 0
    return max(0, min(100, int(part * 100 // whole)))


def when(value, width: str = "medium") -> str:
    """A date and time in the reader's language and time zone, without seconds."""
    if not value:
        return ""
    return f"{format_date(value, width)}, {format_time(value, 'short')}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["markdown"] = render_story
    app.jinja_env.filters["datetime"] = when
    app.jinja_env.globals["percent"] = percent
    app.jinja_env.globals["cost_per_unit"] = cost_per_unit
    app.jinja_env.globals["one_unit"] = one_unit
    app.jinja_env.globals["currency_exponent"] = get_currency_precision
    app.jinja_env.globals["absolute_url"] = absolute_url

    @app.context_processor
    def inject() -> dict:
        def lang_url(code: str) -> str:
            return url_for("agents.set_locale", code=code, next=request.full_path.rstrip("?"))

        return {
            "current_locale": str(get_locale() or "fr"),
            "lang_url": lang_url,
            "show_sent_mail": current_app.config.get("SHOW_SENT_MAIL"),
        }
