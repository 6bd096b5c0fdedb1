"""Rendering, validating and previewing staff-written message templates.

Templates render in the sandbox (``messaging.templating.sandbox``) on plain
data (``messaging.templating.context``). A template that fails any of the
sandbox's bounds is refused when it is saved (``validate_template``), with its
line and the reason; one stored before a bound existed fails alone at send time
(``RenderError``), never the page or the batch around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from jinja2 import TemplateSyntaxError
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from markupsafe import escape
from twitter_text import parse_tweet

from campaigns.organisations.models import Organisation
from campaigns.pages.models import Page
from messaging.templating.context import sample_context
from messaging.templating.models import MessageTemplate
from messaging.templating.sandbox import (
    MAX_OUTPUT,
    OutputTooLong,
    TooSlow,
    compile_source,
    end_budget,
    start_budget,
    tick,
    too_long,
)

MAX_SOURCE = 20_000  # characters of template source
LIMITS = {"x": 280, "facebook": 5_000, "copy": 2_000}  # x: weighted, URLs count 23
MAX_SUBJECT = 200
CHANNELS = ("x", "facebook", "email", "copy")
LOCALES = ("fr", "en")
TEMPLATE_NAME = "<message>"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class RenderError(Exception):
    """A template that cannot be rendered; ``errors`` maps a field to a sentence."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _line_of(exc: BaseException) -> int | None:
    """The template line an error happened on (Jinja rewrites the traceback so
    template frames carry template line numbers)."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in ("<template>", TEMPLATE_NAME):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OutputTooLong | TooSlow):
        return str(exc)
    if isinstance(exc, TemplateSyntaxError):
        return _("syntax error: %(detail)s", detail=exc.message or "")
    if isinstance(exc, SecurityError):
        return _("not allowed in a message: %(detail)s", detail=str(exc))
    if isinstance(exc, UndefinedError):
        return str(exc.message or exc)
    if isinstance(exc, RecursionError):
        return _("a macro calls itself without end.")
    return str(exc) or type(exc).__name__


def _error(exc: BaseException) -> str:
    line = _line_of(exc)
    reason = _reason(exc)
    return _("line %(line)s: %(reason)s", line=line, reason=reason) if line else reason


def render_source(source: str, context: dict, *, html: bool = False) -> str:
    """Render one template source; raise ``RenderError({"source": …})`` on failure."""
    if len(source) > MAX_SOURCE:
        raise RenderError(
            {"source": _("The template is longer than %(n)s characters.", n=MAX_SOURCE)}
        )
    token = start_budget()
    try:
        template = compile_source(source, html)
        out: list[str] = []
        size = 0
        for chunk in template.generate(context):
            tick()
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise too_long()
            out.append(chunk)
        return "".join(out)
    except (
        TemplateError,
        TypeError,
        ValueError,
        ArithmeticError,
        RecursionError,
        MemoryError,
    ) as exc:
        raise RenderError({"source": _error(exc)}) from exc
    finally:
        end_budget(token)


_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUN = re.compile(r"\n{3,}")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_LINK = re.compile(r"(https?://[^\s<>&\"']+)")


def tidy(text: str) -> str:
    """Trailing spaces and runs of blank lines (left by block-only lines) removed."""
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_RUN.sub("\n\n", text)
    return text.strip()


def text_to_html(text: str) -> str:
    """A plain-text body as simple HTML: escaped paragraphs, clickable links."""
    out = []
    for paragraph in _PARAGRAPH_BREAK.split(text.strip()):
        if not paragraph:
            continue
        linked = str(escape(paragraph))
        if "://" in linked:
            linked = _LINK.sub(r'<a href="\1">\1</a>', linked)
        out.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


def _render_fields(
    channel: str, subject: str, body: str, body_html: str, context: dict
) -> tuple[Rendered, dict[str, str]]:
    errors: dict[str, str] = {}
    rendered = {"subject": "", "text": "", "html": ""}
    parts = [("body", "text", body, False)]
    if channel == "email":
        parts += [("subject", "subject", subject, False), ("body_html", "html", body_html, True)]
    for field, key, source, html in parts:
        if not source:
            continue
        try:
            rendered[key] = render_source(source, context, html=html)
        except RenderError as exc:
            errors[field] = exc.errors["source"]
    rendered["subject"] = " ".join(rendered["subject"].split())
    rendered["text"] = tidy(rendered["text"])
    if channel == "email" and not body_html and rendered["text"]:
        rendered["html"] = text_to_html(rendered["text"])
    return Rendered(**rendered), errors


def render_message(template: MessageTemplate, context: dict) -> Rendered:
    """Render a saved template on a context from ``context_for``.

    Raises ``RenderError`` when it fails (a template is validated when saved,
    so this means the context lacks a variable the template needs).
    """
    rendered, errors = _render_fields(
        str(template.channel),
        template.subject or "",
        template.body or "",
        template.body_html or "",
        context,
    )
    if errors:
        raise RenderError(errors)
    return rendered


# --- validation ------------------------------------------------------------------


def x_length(text: str) -> int:
    """A post's length as X counts it (weighted; every URL counts 23)."""
    return parse_tweet(text).weightedLength


def validate_template(
    channel: str,
    locale: str,
    subject: str,
    body: str,
    body_html: str,
    *,
    organisation: Organisation | None = None,
    context: dict | None = None,
) -> dict[str, str]:
    """What is wrong with a template, field by field (empty when it can be saved).

    It is compiled and rendered on ``context`` (default: ``sample_context``),
    then the result is checked against the channel's limits.
    """
    errors: dict[str, str] = {}
    if channel not in CHANNELS:
        errors["channel"] = _("Choose X, Facebook, email or copy.")
        return errors
    if locale not in LOCALES:
        errors["locale"] = _("Choose French or English.")
        return errors
    subject, body, body_html = subject or "", body or "", body_html or ""
    if not body.strip():
        errors["body"] = _("Write the message.")
    if channel == "email" and not subject.strip():
        errors["subject"] = _("An email needs a subject.")
    for field, source in (("subject", subject), ("body", body), ("body_html", body_html)):
        if len(source) > MAX_SOURCE and field not in errors:
            errors[field] = _("Keep this under %(n)s characters.", n=MAX_SOURCE)
    if errors:
        return errors
    context = context if context is not None else sample_context(organisation, locale=locale)
    rendered, errors = _render_fields(channel, subject, body, body_html, context)
    if "body" not in errors:
        text = rendered.text
        if not text:
            errors["body"] = _("With the sample page, this message comes out empty.")
        elif channel == "x" and x_length(text) > LIMITS["x"]:
            errors["body"] = _(
                "An X post has at most 280 characters (links count 23); with the sample "
                "page this one has %(n)s. Shorten it.",
                n=x_length(text),
            )
        elif channel in ("facebook", "copy") and len(text) > LIMITS[channel]:
            errors["body"] = _(
                "This message has at most %(limit)s characters; with the sample page it "
                "has %(n)s. Shorten it.",
                limit=LIMITS[channel],
                n=len(text),
            )
    if channel == "email" and "subject" not in errors:
        if not rendered.subject:
            errors["subject"] = _("With the sample page, the subject comes out empty.")
        elif len(rendered.subject) > MAX_SUBJECT:
            errors["subject"] = _(
                "Keep the subject under %(limit)s characters; with the sample page it has %(n)s.",
                limit=MAX_SUBJECT,
                n=len(rendered.subject),
            )
    return errors


def preview(
    channel: str,
    locale: str,
    subject: str,
    body: str,
    body_html: str,
    *,
    organisation: Organisation | None,
    page: Page | None = None,
) -> dict:
    """Errors and the rendered message on a real page, for the staff preview."""
    if locale not in LOCALES:
        # Refused before any formatting: Babel knows no such locale.
        errors = {"locale": _("Choose French or English.")}
        return {"ok": False, "errors": errors, "subject": "", "text": "", "html": "", "page": ""}
    context = sample_context(organisation, locale=locale, page=page)
    errors = validate_template(channel, locale, subject, body, body_html, context=context)
    rendered, _errors = _render_fields(channel, subject or "", body or "", body_html or "", context)
    result = {
        "ok": not errors,
        "errors": errors,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "page": context["page"]["title"],
    }
    if channel == "x":
        result["length"] = x_length(rendered.text)
        result["limit"] = LIMITS["x"]
    elif channel in LIMITS:
        result["length"] = len(rendered.text)
        result["limit"] = LIMITS[channel]
    return result
