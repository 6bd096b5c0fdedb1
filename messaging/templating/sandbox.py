"""The sandbox staff-written templates render in.

An ``ImmutableSandboxedEnvironment`` on plain dicts (never ORM objects), with
``StrictUndefined`` so a misspelt variable is an error, and with every way to
make a render explode bounded: ``range`` (100 items); integers (no result past
``MAX_INT_BITS``, checked before ``*`` and ``**`` compute it); strings, lists
and dicts by the size their text would have (operators, literals, filters,
``~`` and every ``{{ }}`` are refused past ``MAX_OUTPUT`` before the text is
built); loops and calls (a step budget); and the whole render (a wall-clock
budget, checked at every loop step, call, operator, filter and output).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.runtime import LoopContext, Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_environment, pass_eval_context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape

MAX_OUTPUT = 10_000  # characters a text or HTML body may render to
MAX_RANGE = 100
MAX_STEPS = 1_000  # loop iterations plus calls in one render
MAX_INT_BITS = 1_024  # about 300 digits: far past any amount, rank or count
MAX_SECONDS = 1.0  # wall-clock time one render may take

# Methods a template may call on plain data; anything else (str.format,
# str.center, …) could build unbounded text or reach further than the data.
# fmt: off
SAFE_METHODS = frozenset({
    "upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
    "endswith", "items", "keys", "values", "get", "cycle", "changed",
})
# Filters that cannot amplify their input beyond what the checks below allow.
# Not batch or slice: their count argument builds a list of any size before
# the output check could see it; not center, format, indent, pprint…: nobody
# needs them in a post, and each would need its own bound.
SAFE_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "int", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
    "rejectattr", "replace", "reverse", "round", "select", "selectattr", "sort", "string",
    "striptags", "sum", "title", "trim", "truncate", "unique", "upper", "urlencode",
    "wordcount", "wordwrap",
)
# Filters that turn their input into text: the input is measured first.
TEXT_FILTERS = frozenset({
    "capitalize", "e", "escape", "float", "int", "lower", "string", "striptags", "title",
    "trim", "truncate", "upper", "urlencode", "wordcount",
})
# fmt: on


class OutputTooLong(SecurityError):
    pass


class TooSlow(SecurityError):
    pass


# --- the budget ------------------------------------------------------------------


class Budget:
    """What one render may still spend: loop steps and calls, and time."""

    def __init__(self, steps: int = MAX_STEPS, seconds: float | None = None):
        self.left = steps
        self.seconds = MAX_SECONDS if seconds is None else seconds
        self.deadline = time.monotonic() + self.seconds

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            seconds = f"{self.seconds:g}"
            raise TooSlow(
                _("the template takes more than %(n)s s to render: simplify it.", n=seconds)
            )

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise SecurityError(
                _("loops and calls run more than %(n)s times: simplify the template.", n=MAX_STEPS)
            )
        self.tick()


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "relais_template_budget", default=None
)


def start_budget() -> contextvars.Token:
    """A fresh budget for the render that starts (give the token to ``end_budget``)."""
    return _budget.set(Budget())


def end_budget(token: contextvars.Token) -> None:
    _budget.reset(token)


def tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


def _spend() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend()


# --- sizes -----------------------------------------------------------------------


def too_long() -> SecurityError:
    return OutputTooLong(
        _("the text would be longer than %(n)s characters: shorten it.", n=MAX_OUTPUT)
    )


def _too_large() -> SecurityError:
    return SecurityError(_("this number is too large for a message."))


def text_size(value: Any, limit: int = MAX_OUTPUT) -> int:
    """About how many characters ``str(value)`` has, counted without building
    it and given up just past ``limit``: a list holding the same list ten times,
    ten levels deep, is small in memory and astronomically long as text."""
    size = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, list | tuple):
            size += 2 + 2 * len(item)
            if size <= limit:
                stack.extend(item)
        elif isinstance(item, dict):
            size += 2 + 4 * len(item)
            if size <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, int):
            size += item.bit_length() * 3 // 10 + 1
        else:
            size += len(str(item))
        if size > limit:
            return size
    return size


def check_size(value: Any) -> Any:
    if type(value) is str:  # most values a message prints: measured at once
        if len(value) > MAX_OUTPUT:
            raise too_long()
        return value
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _too_large()
    if text_size(value) > MAX_OUTPUT:
        raise too_long()
    return value


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` passes here before it becomes text."""
    tick()
    return check_size(value)


def _int_bits(operator: str, left: int, right: int) -> int:
    """The bits the result of ``left operator right`` may need, before computing it."""
    if operator == "*":
        return left.bit_length() + right.bit_length()
    if operator == "**":
        return max(abs(left), 2).bit_length() * right if right > 0 else 0
    return max(left.bit_length(), right.bit_length()) + 1


# --- filters and globals ---------------------------------------------------------


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
    tick()
    if text_size(parts) > MAX_OUTPUT + 2 * len(parts) + 2:
        raise too_long()
    if eval_ctx.autoescape:
        return Markup("").join(escape(p) for p in parts)
    return "".join(str(p) for p in parts)


def _guarded(name: str, function):
    measure_input = name in TEXT_FILTERS

    def guarded(*args, **kwargs):
        tick()
        if measure_input:
            # The first argument after Jinja's context markers is the value.
            value = args[1] if hasattr(function, "jinja_pass_arg") else args[0]
            check_size(value)
        return check_size(function(*args, **kwargs))

    # Keep Jinja's pass_context / pass_eval_context markers on the wrapper.
    for attribute in ("jinja_pass_arg",):
        if hasattr(function, attribute):
            setattr(guarded, attribute, getattr(function, attribute))
    guarded.__name__ = name
    return guarded


@pass_eval_context
def _replace(eval_ctx, s, old, new, count=None):
    tick()
    check_size(s)
    text, old, new = str(s), str(old), str(new)
    if not old or len(text) + text.count(old) * max(0, len(new) - len(old)) > MAX_OUTPUT:
        raise too_long()
    return FILTERS["replace"](eval_ctx, s, old, new, count)


@pass_eval_context
def _join(eval_ctx, value, d="", attribute=None):
    """``|join``: measured before the text is built (each item may be long)."""
    tick()
    items = list(value)
    if attribute is not None:
        items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
    separators = len(str(d)) * max(0, len(items) - 1)
    if separators > MAX_OUTPUT or text_size(items) - 2 - 2 * len(items) + separators > MAX_OUTPUT:
        raise too_long()
    return FILTERS["join"](eval_ctx, items, d)


@pass_environment
def _wordwrap(environment, s, width=79, break_long_words=True, wrapstring=None, **kwargs):
    """``|wordwrap``: the line breaks are counted before each becomes ``wrapstring``."""
    tick()
    check_size(s)
    wrap = FILTERS["wordwrap"]
    lines = wrap(environment, s, width, break_long_words, "\n", **kwargs)
    if wrapstring is None:
        return lines
    breaks = lines.count("\n")
    if len(lines) + breaks * (len(str(wrapstring)) - 1) > MAX_OUTPUT:
        raise too_long()
    return wrap(environment, s, width, break_long_words, wrapstring, **kwargs)


def _sized(value: Any) -> Any:
    """Every list, tuple and dict written in a template passes through here."""
    tick()
    return check_size(value)


class _Bounds(NodeTransformer):
    """Rewrites a parsed template so loops spend the budget, ``~`` is bounded and
    literals are measured.

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

    def _literal(self, node: nodes.Node) -> nodes.Node:
        node = self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node  # a {% for a, b in … %} or {% set a, b = … %} target
        return nodes.Filter(node, "relais:sized", [], [], None, None, lineno=node.lineno)

    visit_List = visit_Tuple = visit_Dict = _literal


class MessageSandbox(ImmutableSandboxedEnvironment):
    # Every arithmetic operator: also keeps Jinja from computing constant ones
    # at compile time, outside these checks.
    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})

    def __init__(self, autoescape: bool):
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined,
            finalize=_finalize,
            # Staff write {% if %}…{% endif %} inside sentences: keep newlines as
            # typed; the blank lines left by block-only lines are tidied after.
            trim_blocks=False,
            lstrip_blocks=False,
            keep_trailing_newline=False,
        )
        self.globals = {"range": _bounded_range}
        self.filters = {name: _guarded(name, FILTERS[name]) for name in SAFE_FILTERS}
        self.filters["replace"] = _replace
        self.filters["join"] = _join
        self.filters["wordwrap"] = _wordwrap
        self.filters["relais:loop"] = _loop
        self.filters["relais:concat"] = _concat
        self.filters["relais:sized"] = _sized

    def _parse(self, source, name, filename):
        return _Bounds().visit(super()._parse(source, name, filename))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or attr in ("config", "environment", "globals", "mro"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        tick()
        sequences = str | list | tuple
        if isinstance(left, int) and isinstance(right, int):
            if _int_bits(operator, left, right) > MAX_INT_BITS:
                raise _too_large()
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, sequences)
                    and isinstance(times, int)
                    and text_size(seq) * max(times, 0) > MAX_OUTPUT
                ):
                    raise too_long()
        elif operator == "+" and isinstance(left, sequences) and isinstance(right, sequences):
            if text_size(left) + text_size(right) > MAX_OUTPUT:
                raise too_long()
        elif operator == "%" and isinstance(left, str):
            raise SecurityError(_("Percent formatting is not available in messages; use filters."))
        return check_size(super().call_binop(context, operator, left, right))

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
        return check_size(super().call(__context, __obj, *args, **kwargs))


_text_env = MessageSandbox(autoescape=False)
_html_env = MessageSandbox(autoescape=True)


@lru_cache(maxsize=256)
def compile_source(source: str, html: bool):
    """The compiled template (parsing is not free: the last 256 are kept)."""
    return (_html_env if html else _text_env).from_string(source)
