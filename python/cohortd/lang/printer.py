"""Tree → canonical text, the inverse of ``parse``.

Canonical means one spelling per tree: lowercase keywords, the fewest
parentheses that keep the binary-tree shape under ``not > and > or`` with
left-associative parsing, no ``ever``, durations as written, floats via
``repr``.  Stored definitions and ``str()`` of builder objects use it, so
two equal trees always print the same text.
"""

from __future__ import annotations

import re

from cohortd.lang import ast as A
from cohortd.times import format_instant

__all__ = ["to_text", "format_instant", "format_value", "format_name", "quote"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

# Every word the grammar gives a meaning to; property names spelled like one are quoted.
KEYWORDS = frozenset(
    "and or not in where any did first nth top by count sum avg min max distinct active_days "
    "active_periods sequence within user in_cohort last between ago since ever exists contains had this "
    "calendar true false".split()
)

_PREC_OR, _PREC_AND, _PREC_NOT, _PREC_ATOM = 1, 2, 3, 4
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(s: str) -> str:
    """A double-quoted string literal with the escapes the tokenizer understands."""
    return '"' + "".join(_ESCAPES.get(c, c) for c in s) + '"'


def format_name(name: str) -> str:
    """A property name: bare when it is a plain identifier and no keyword, else quoted."""
    if _IDENT.fullmatch(name) and name.lower() not in KEYWORDS:
        return name
    return quote(name)


def _number(x: int | float) -> str:
    if isinstance(x, bool):  # bool is an int subclass; never a valid number here
        raise TypeError(f"expected a number, got {x!r}")
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError(f"cannot print non-finite number {x!r}")
        return repr(x)
    return str(int(x))


def format_value(v: A.Value) -> str:
    """A filter value literal: string, true/false, int, or float (``repr`` so it round-trips)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return quote(v)
    return _number(v)


def _duration(d: A.Duration) -> str:
    return f"{d.value}{d.unit}"


def _window(w: A.Window) -> str:
    if isinstance(w, A.Ever):
        return ""
    if isinstance(w, A.Last):
        return f"in last {_duration(w.duration)}"
    if isinstance(w, A.Ago):
        return f"between {_duration(w.start)} ago and {_duration(w.end)} ago"
    if isinstance(w, A.Dates):
        return f"between {format_instant(w.start_ms)} and {format_instant(w.end_ms)}"
    if isinstance(w, A.Since):
        return f"since {format_instant(w.start_ms)}"
    if isinstance(w, A.ThisPeriod):
        return f"in this {w.unit}"
    if isinstance(w, A.LastCalendar):
        return f"in last calendar {w.unit}" if w.count == 1 else f"in last {w.count} calendar {w.unit}s"
    if isinstance(w, A.LastSpan):
        return f"in last {w.count} {w.unit}" + ("s" if w.count != 1 else "")
    raise TypeError(f"not a window: {w!r}")


def _comparison(c: A.Comparison | None) -> str:
    if c is None:
        return ""
    if isinstance(c, A.Compare):
        return f"{c.op} {_number(c.value)}"
    if isinstance(c, A.Range):
        return f"between {_number(c.lo)} and {_number(c.hi)}"
    raise TypeError(f"not a comparison: {c!r}")


# ------------------------------------------------------------------ filters
def _predicate(p: A.Predicate) -> str:
    name = format_name(p.prop)
    if isinstance(p, A.PropCmp):
        return f"{name} {p.op} {format_value(p.value)}"
    if isinstance(p, A.PropIn):
        values = ", ".join(format_value(v) for v in p.values)
        return f"{name} {'not in' if p.negated else 'in'} ({values})"
    if isinstance(p, A.PropExists):
        return f"{name} {'not exists' if p.negated else 'exists'}"
    if isinstance(p, A.PropContains):
        return f"{name} contains {quote(p.substr)}"
    raise TypeError(f"not a predicate: {p!r}")


def _filter_prec(f: A.Filter) -> int:
    if isinstance(f, A.FOr):
        return _PREC_OR
    if isinstance(f, A.FAnd):
        return _PREC_AND
    if isinstance(f, A.FNot):
        return _PREC_NOT
    return _PREC_ATOM


def _filter(f: A.Filter, min_prec: int = _PREC_OR) -> str:
    if isinstance(f, A.FOr):
        first, *rest = A.chain(f)  # a loop over the chain: long chains need no recursion
        text = " or ".join([_filter(first, _PREC_OR), *(_filter(r, _PREC_AND) for r in rest)])
    elif isinstance(f, A.FAnd):
        first, *rest = A.chain(f)
        text = " and ".join([_filter(first, _PREC_AND), *(_filter(r, _PREC_NOT) for r in rest)])
    elif isinstance(f, A.FNot):
        text = f"not {_filter(f.item, _PREC_NOT)}"
    else:
        text = _predicate(f)
    return f"({text})" if _filter_prec(f) < min_prec else text


def _event(e: A.EventRef) -> str:
    head = "any" if e.event_type is None else quote(e.event_type)
    return head if e.filter is None else f"{head} where {_filter(e.filter)}"


# --------------------------------------------------------------- conditions
def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _metric(m: A.Metric) -> str:
    if isinstance(m, A.MetricCount):
        return f"count({_event(m.event)})"
    if isinstance(m, A.MetricSum):
        return f"sum({format_name(m.prop)}, {_event(m.event)})"
    if isinstance(m, A.MetricActiveDays):
        return f"active_days({_event(m.event)})"
    raise TypeError(f"not a metric: {m!r}")


def _percent(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else _number(float(p))


def _condition(c: A.Expr) -> str:
    if isinstance(c, A.Did):
        return _join(f"did({_event(c.event)})", _comparison(c.cmp), _window(c.window))
    if isinstance(c, A.Aggregate):
        head = f"{c.func}({format_name(c.prop)}, {_event(c.event)})"
        return _join(head, _comparison(c.cmp), _window(c.window))
    if isinstance(c, A.ActiveDays):
        return _join(f"active_days({_event(c.event)})", _comparison(c.cmp), _window(c.window))
    if isinstance(c, A.ActivePeriods):
        head = f"active_periods({_event(c.event)}, {_duration(c.period)})"
        return _join(head, _comparison(c.cmp), _window(c.window))
    if isinstance(c, A.Sequence):
        within = f"within {_duration(c.within)}" if c.within is not None else ""
        steps = ", ".join(_event(s) for s in c.steps)
        return _join(f"sequence({steps})", within, _window(c.window))
    if isinstance(c, A.FirstDid):
        return _join(f"first did({_event(c.event)})", _window(c.window))
    if isinstance(c, A.CountCompare):
        factor = f"{c.factor} * " if c.factor != 1 else ""
        head = f"did({_event(c.left)}) {c.op} {factor}did({_event(c.right)})"
        return _join(head, _window(c.window))
    if isinstance(c, A.NthDid):
        return _join(f"nth did({_event(c.event)}, {c.n})", _window(c.window))
    if isinstance(c, A.DidOnPeriods):
        one = c.periods == 1
        unit = ("day" if one else "days") if c.period is None else f"{'period' if one else 'periods'} of"
        on = _join(f"on {c.periods} {unit}", _duration(c.period) if c.period is not None else "")
        return _join(f"did({_event(c.event)})", _comparison(c.cmp), on, _window(c.window))
    if isinstance(c, A.DidWithinOfFirst):
        of = f"within {_duration(c.within)} of first did({_event(c.anchor)})"
        return _join(f"did({_event(c.event)})", _comparison(c.cmp), of, _window(c.window))
    if isinstance(c, A.Stopped | A.Restarted):
        return f"{type(c).__name__.lower()}({_event(c.event)}, {_duration(c.period)})"
    if isinstance(c, A.Regularly):
        return f"regularly({_event(c.event)}, {_duration(c.period)}, {c.times} of {c.periods})"
    if isinstance(c, A.Top):
        return _join(f"top {_percent(c.percent)}% by {_metric(c.metric)}", _window(c.window))
    if isinstance(c, A.UserProp):
        return f"user.{_predicate(c.predicate)}"
    if isinstance(c, A.HadUserProp):
        return _join(f"had user.{_predicate(c.predicate)}", _window(c.window))
    if isinstance(c, A.InCohort):
        return f"in_cohort({quote(c.name)})"
    if isinstance(c, A.UserCount):
        return f"count of users who {_user_count_inner(c.cohort)} {_comparison(c.cmp)}"
    if isinstance(c, A.AccountProp):
        return f"account.{_predicate(c.predicate)}"
    raise TypeError(f"not a cohort expression: {c!r}")


def _user_count_inner(e: A.Expr) -> str:
    """The X of ``count of users who X OP n``: bare when it is one condition whose text ends in a
    window or cannot take a comparison, or a bare ``did(E)``; else parenthesised."""
    closed = isinstance(e, A.UserProp | A.InCohort) or (
        not isinstance(e, A.And | A.Or | A.Not) and not isinstance(getattr(e, "window", A.Ever()), A.Ever)
    )
    closed |= isinstance(e, A.Did) and e.cmp is None  # `did(E) >= 5`: the parser reads 5 as the users' count
    return _condition(e) if closed else f"({_expr(e, _PREC_OR)})"


def _prec(e: A.Expr) -> int:
    if isinstance(e, A.Or):
        return _PREC_OR
    if isinstance(e, A.And):
        return _PREC_AND
    if isinstance(e, A.Not):
        return _PREC_NOT
    return _PREC_ATOM


def _expr(e: A.Expr, min_prec: int) -> str:
    if isinstance(e, A.Or):
        first, *rest = A.chain(e)  # a loop over the chain: long chains need no recursion
        text = " or ".join([_expr(first, _PREC_OR), *(_expr(r, _PREC_AND) for r in rest)])
    elif isinstance(e, A.And):
        first, *rest = A.chain(e)
        text = " and ".join([_expr(first, _PREC_AND), *(_expr(r, _PREC_NOT) for r in rest)])
    elif isinstance(e, A.Not):
        text = f"not {_expr(e.item, _PREC_NOT)}"
    else:
        text = _condition(e)
    return f"({text})" if _prec(e) < min_prec else text


def to_text(expr: A.Expr) -> str:
    """Canonical one-line text for a tree; ``parse(to_text(t)) == t``."""
    if isinstance(expr, A.Accounts):
        return f"accounts({format_name(expr.group)}): {_expr(expr.expr, _PREC_OR)}"
    return _expr(expr, _PREC_OR)


def event_to_text(event: A.EventRef) -> str:
    """Canonical text of one event reference (``"Feature Used" where plan == "free"``)."""
    return _event(event)
