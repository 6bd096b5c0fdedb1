"""Staff-written message templates, rendered in a sandbox on plain data.

Templates are Jinja source typed by an organisation's staff. They render in an
``ImmutableSandboxedEnvironment`` on plain dicts (never ORM objects), with
``StrictUndefined`` so a misspelt variable is an error, and with every way to
make output explode bounded: ``range`` (100 items), string and list repetition,
concatenation, loops and calls (a per-render budget), and the output itself
(streamed and cut off at ``MAX_OUTPUT``). A template that fails any of this is
refused when it is saved (``validate_template``), with its line and the reason.
"""

from __future__ import annotations

import contextvars
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.filters import FILTERS
from jinja2.runtime import LoopContext, Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_eval_context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape
from sqlalchemy import select
from twitter_text import parse_tweet

from campaigns.money import format_money
from campaigns.organisations.models import Cause, Organisation
from campaigns.pages.models import Page, PageKind, PageStatus
from campaigns.standings import leaderboards
from campaigns.totals.models import TotalScope
from campaigns.totals.services import figures_one, page_scope
from campaigns.urls import absolute_url
from extensions import db
from messaging.sharing import services as sharing
from messaging.templating.models import MessageTemplate

MAX_OUTPUT = 10_000  # characters a text or HTML body may render to
MAX_SOURCE = 20_000  # characters of template source
MAX_RANGE = 100
MAX_STEPS = 1_000  # loop iterations plus calls in one render
MAX_POWER_BITS = 4_096
LIMITS = {"x": 280, "facebook": 5_000, "copy": 2_000}  # x: weighted, URLs count 23
MAX_SUBJECT = 200
CHANNELS = ("x", "facebook", "email", "copy")
LOCALES = ("fr", "en")
TEMPLATE_NAME = "<message>"

# Methods a template may call on plain data; anything else (str.format,
# str.center, …) could build unbounded text or reach further than the data.
SAFE_METHODS = frozenset(
    {
        "upper",
        "lower",
        "title",
        "capitalize",
        "strip",
        "lstrip",
        "rstrip",
        "startswith",
        "endswith",
        "items",
        "keys",
        "values",
        "get",
        "cycle",
        "changed",
    }
)
# Filters that cannot amplify their input beyond what the checks below allow.
# Not batch or slice: their count argument builds a list of any size before
# the output check could see it.
SAFE_FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "int",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
    "wordwrap",
)


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


class OutputTooLong(SecurityError):
    pass


# --- the sandbox ---------------------------------------------------------------


class _Budget:
    def __init__(self, steps: int = MAX_STEPS):
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise SecurityError(
                _("loops and calls run more than %(n)s times: simplify the template.", n=MAX_STEPS)
            )


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "relais_template_budget", default=None
)


def _spend() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend()


def _too_long() -> SecurityError:
    return OutputTooLong(
        _("the text would be longer than %(n)s characters: shorten it.", n=MAX_OUTPUT)
    )


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT:
        raise _too_long()
    return value


def _bounded_range(*args: int) -> range:
    try:
        numbers = range(*args)
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise SecurityError(_("range() is limited to %(n)s numbers in a message.", n=MAX_RANGE))
    return numbers


def _loop(iterable: Iterable) -> Iterator:
    """Every for loop's iterable passes through here (see ``_Bounds``)."""
    for item in iterable:
        _spend()
        yield item


@pass_eval_context
def _concat(eval_ctx, parts: list) -> str:
    """``a ~ b``: the concatenation, refused when it grows past the limit."""
    total = sum(len(str(p)) for p in parts)
    if total > MAX_OUTPUT:
        raise _too_long()
    if eval_ctx.autoescape:
        return Markup("").join(escape(p) for p in parts)
    return "".join(str(p) for p in parts)


def _guarded(name: str, function):
    def guarded(*args, **kwargs):
        return _check_size(function(*args, **kwargs))

    # Keep Jinja's pass_context / pass_eval_context markers on the wrapper.
    for attribute in ("jinja_pass_arg",):
        if hasattr(function, attribute):
            setattr(guarded, attribute, getattr(function, attribute))
    guarded.__name__ = name
    return guarded


def _replace(eval_ctx, s, old, new, count=None):
    text, old, new = str(s), str(old), str(new)
    if not old or len(text) + text.count(old) * max(0, len(new) - len(old)) > MAX_OUTPUT:
        raise _too_long()
    return FILTERS["replace"](eval_ctx, s, old, new, count)


_replace = pass_eval_context(_replace)


class _Bounds(NodeTransformer):
    """Rewrites a parsed template so loops spend the budget and ``~`` is bounded.

    The filter names contain a colon, which the template syntax cannot write.
    """

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "relais:loop", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        items = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(items, "relais:concat", [], [], None, None, lineno=node.lineno)


class MessageSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, autoescape: bool):
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined,
            # Staff write {% if %}…{% endif %} inside sentences: keep newlines as
            # typed; the blank lines left by block-only lines are tidied after.
            trim_blocks=False,
            lstrip_blocks=False,
            keep_trailing_newline=False,
        )
        self.globals = {"range": _bounded_range}
        self.filters = {name: _guarded(name, FILTERS[name]) for name in SAFE_FILTERS}
        self.filters["replace"] = _replace
        self.filters["relais:loop"] = _loop
        self.filters["relais:concat"] = _concat

    def _parse(self, source, name, filename):
        return _Bounds().visit(super()._parse(source, name, filename))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or attr in ("config", "environment", "globals", "mro"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        sequences = str | list | tuple
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, sequences)
                    and isinstance(times, int)
                    and len(seq) * max(times, 0) > MAX_OUTPUT
                ):
                    raise _too_long()
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and max(abs(left), 2).bit_length() * right > MAX_POWER_BITS:
                raise SecurityError(_("this number is too large for a message."))
        elif operator == "+" and isinstance(left, sequences) and isinstance(right, sequences):
            if len(left) + len(right) > MAX_OUTPUT:
                raise _too_long()
        elif operator == "%" and isinstance(left, str):
            raise SecurityError(_("Percent formatting is not available in messages; use filters."))
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Undefined):
            obj._fail_with_undefined_error()  # "'cycler' is undefined", not "unsafe"
        return super().getattr(obj, attribute)

    def call(__self, __context, __obj, *args, **kwargs):
        _spend()
        if isinstance(__obj, Undefined):
            __obj._fail_with_undefined_error()
        bound_to = getattr(__obj, "__self__", None)
        is_method = (
            getattr(__obj, "__name__", None) in SAFE_METHODS
            and bound_to is not None
            and not isinstance(bound_to, type)
        )
        if not (__obj is _bounded_range or isinstance(__obj, Macro | LoopContext) or is_method):
            name = getattr(__obj, "__name__", type(__obj).__name__)
            raise SecurityError(_("“%(name)s” cannot be called in a message.", name=name))
        return super().call(__context, __obj, *args, **kwargs)


_text_env = MessageSandbox(autoescape=False)
_html_env = MessageSandbox(autoescape=True)


@lru_cache(maxsize=256)
def _compile(source: str, html: bool):
    return (_html_env if html else _text_env).from_string(source)


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
    if isinstance(exc, OutputTooLong):
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
    token = _budget.set(_Budget())
    try:
        template = _compile(source, html)
        out: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise _too_long()
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
        _budget.reset(token)


def tidy(text: str) -> str:
    """Trailing spaces and runs of blank lines (left by block-only lines) removed."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def text_to_html(text: str) -> str:
    """A plain-text body as simple HTML: escaped paragraphs, clickable links."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    out = []
    for paragraph in paragraphs:
        escaped = str(escape(paragraph))
        linked = re.sub(r"(https?://[^\s<>&\"']+)", r'<a href="\1">\1</a>', escaped)
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


# --- what templates can use ----------------------------------------------------


def _first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


def _agent_dict(agent, page: Page | None) -> dict:
    who = agent if agent is not None else (page.owner if page is not None else None)
    name = "" if who is None or getattr(who, "is_deleted", False) else who.display_name
    return {"name": name, "first_name": _first_name(name)}


def _raised(page: Page):
    return figures_one(page_scope(page.kind), page.id)


def _percent(part: int, whole: int) -> int:
    return max(0, int(part * 100 // whole)) if whole else 0


def _days_left(ends_at: datetime | None) -> int | None:
    if ends_at is None:
        return None
    return max(0, math.ceil((ends_at - datetime.now(UTC)).total_seconds() / 86400))


def _page_dict(page: Page, locale: str, share_url: str) -> dict:
    currency = page.cause.organisation.currency
    figures = _raised(page)
    entry = leaderboards.rank_of(page)
    above = leaderboards.neighbour_above(page) if entry else None
    gap = max(0, above.raised_minor - entry.raised_minor) if above and entry else None
    return {
        "title": page.title,
        "url": absolute_url("campaigns.page_detail", slug=page.slug),
        "share_url": share_url,
        "raised": format_money(figures.raised_minor, currency, locale),
        "raised_minor": figures.raised_minor,
        "goal": format_money(page.goal_minor, currency, locale),
        "goal_minor": page.goal_minor,
        "percent": _percent(figures.raised_minor, page.goal_minor),
        "rank": entry.rank if entry else None,
        "gap_to_next": format_money(gap, currency, locale) if gap is not None else "",
        "next_title": above.title if above else "",
        "donor_count": figures.donor_count,
        "city": page.city,
        "kind": str(page.kind),
    }


def _event_dict(page: Page, locale: str) -> dict | None:
    event = page if page.is_event else page.parent
    if event is None:
        return None
    currency = event.cause.organisation.currency
    figures = figures_one(TotalScope.EVENT, event.id)
    entry = leaderboards.rank_of(event)
    return {
        "title": event.title,
        "url": absolute_url("campaigns.page_detail", slug=event.slug),
        "city": event.city,
        "raised": format_money(figures.raised_minor, currency, locale),
        "rank": entry.rank if entry else None,
    }


def build_context(agent, page: Page, *, locale: str, share_url: str) -> dict:
    """The plain data a template sees, for one agent and page."""
    cause = page.cause
    org = cause.organisation
    cause_figures = figures_one(TotalScope.CAUSE, cause.id)
    return {
        "agent": _agent_dict(agent, page),
        "page": _page_dict(page, locale, share_url),
        "cause": {
            "title": cause.title,
            "url": absolute_url("campaigns.cause_detail", slug=cause.slug),
            "raised": format_money(cause_figures.raised_minor, org.currency, locale),
            "goal": format_money(cause.goal_minor, org.currency, locale),
            "days_left": _days_left(cause.ends_at),
        },
        "organisation": {"name": org.name},
        "event": _event_dict(page, locale),
        # Filled by the messages that have them (rank changes, batched gifts):
        # ``passed`` is the page a mover went past, ``passed_by`` the one that
        # went past a page.
        "old_rank": None,
        "passed": None,
        "passed_by": None,
        "gifts": None,
    }


def context_for(
    agent, page: Page, *, channel: str, extra: dict | None = None, locale: str | None = None
) -> dict:
    """What a template renders for ``agent`` on ``page`` and ``channel``: plain
    dicts only, with the agent's own share link for that channel (created on
    first use, flushed).

    ``extra`` adds or replaces keys, e.g. ``{"old_rank": 5, "passed": {"title":
    "Marseille…", "city": "Marseille"}, "passed_by": {"title": "Lyon…", "city":
    "Lyon"}, "gifts": {"count": 3, "amount": "45 €", "amount_minor": 4500,
    "donors": ["Léa", "Hugo"]}}``. Amounts are formatted
    in ``locale`` (default: the organisation's).
    """

    locale = locale or page.cause.organisation.locale or "fr"
    link = sharing.link_for(agent, page, channel)
    context = build_context(agent, page, locale=locale, share_url=sharing.share_url(link))
    context.update(extra or {})
    return context


def sample_page(organisation: Organisation | None) -> Page | None:
    """A real published page of the organisation for previews: a personal page
    in an event first (every variable then has a value), else any."""
    if organisation is None:
        return None
    base = (
        select(Page)
        .join(Cause, Cause.id == Page.cause_id)
        .where(Cause.organisation_id == organisation.id, Page.status == PageStatus.PUBLISHED)
        .order_by(Page.id)
        .limit(1)
    )
    return db.session.scalar(
        base.where(Page.kind == PageKind.PERSONAL, Page.parent_id.is_not(None))
    ) or db.session.scalar(base)


SAMPLE_CODE = "AbC123xY"


def sample_context(
    organisation: Organisation | None, *, locale: str | None = None, page: Page | None = None
) -> dict:
    """A realistic context for validation and previews: a real page of the
    organisation when one exists, else made-up values. Writes nothing."""
    locale = locale or (organisation.locale if organisation else "fr")
    page = page or sample_page(organisation)
    share = absolute_url("sharing.follow", code=SAMPLE_CODE)
    if page is not None:
        context = build_context(page.owner, page, locale=locale, share_url=share)
    else:
        context = _made_up_context(organisation, locale, share)
    currency = organisation.currency if organisation else "EUR"
    rank = context["page"]["rank"] or 3
    context["old_rank"] = rank + 1
    context["passed"] = {"title": "Marseille, une soirée pour les puits", "city": "Marseille"}
    context["passed_by"] = {"title": "Lyon se mobilise pour l'eau", "city": "Lyon"}
    context["gifts"] = {
        "count": 3,
        "amount": format_money(4500, currency, locale),
        "amount_minor": 4500,
        "donors": ["Léa", "Hugo", "Inès"],
    }
    if context["event"] is None:
        context["event"] = {
            "title": "Lyon se mobilise pour l'eau",
            "url": context["page"]["url"],
            "city": "Lyon",
            "raised": context["page"]["raised"],
            "rank": 2,
        }
    return context


def _made_up_context(organisation: Organisation | None, locale: str, share: str) -> dict:
    currency = organisation.currency if organisation else "EUR"
    name = organisation.name if organisation else "Eau Vive"

    def money(minor: int) -> str:
        return format_money(minor, currency, locale)

    return {
        "agent": {"name": "Camille Martin", "first_name": "Camille"},
        "page": {
            "title": "Camille relève le défi à Lyon",
            "url": share,
            "share_url": share,
            "raised": money(32_000),
            "raised_minor": 32_000,
            "goal": money(50_000),
            "goal_minor": 50_000,
            "percent": 64,
            "rank": 3,
            "gap_to_next": money(4_500),
            "next_title": "Léa relève le défi à Marseille",
            "donor_count": 17,
            "city": "Lyon",
            "kind": "personal",
        },
        "cause": {
            "title": "Twestival : de l'eau pour 20 villages",
            "url": share,
            "raised": money(2_400_000),
            "goal": money(6_000_000),
            "days_left": 12,
        },
        "organisation": {"name": name},
        "event": None,
        "old_rank": None,
        "passed": None,
        "passed_by": None,
        "gifts": None,
    }


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
