"""Cohort trees, scalars and times <-> protobuf messages, shared by the server and the SDK.

The Python AST (:mod:`cohortd.lang.ast`) and the protobuf tree
``cohortd.v1.CohortExpr`` map node for node, so
``expr_from_proto(expr_to_proto(e)) == e`` for every tree.  ``and``/``or``
travel binary while the tree is shallow (older readers know only that form)
and as chains (``AndChain``...) otherwise, so a definition of hundreds of
conditions stays far below protobuf's recursion limit; both are read.  Times
are epoch milliseconds (UTC) and ``google.protobuf.Timestamp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from cohortd import times
from cohortd.errors import WireFormatError
from cohortd.lang import ast as A
from cohortd.lang import walk
from cohortd.v1 import expr_pb2 as epb

__all__ = [
    "EVENT_COLUMNS",
    "definition_from_proto",
    "definition_to_proto",
    "expr_from_proto",
    "expr_to_proto",
    "ms_to_timestamp",
    "python_value",
    "timestamp_to_datetime",
    "timestamp_to_ms",
    "to_epoch_ms",
    "value_to_proto",
]

EVENT_COLUMNS = frozenset({"user_id", "event_type", "time", "anonymous_id", "previous_id"})
"""The columns of an event row that are not properties."""

# ------------------------------------------------------------------ enums
_UNITS = {
    "ms": epb.DURATION_UNIT_MS,
    "s": epb.DURATION_UNIT_S,
    "m": epb.DURATION_UNIT_M,
    "h": epb.DURATION_UNIT_H,
    "d": epb.DURATION_UNIT_D,
    "w": epb.DURATION_UNIT_W,
}
_UNIT_NAMES = {v: k for k, v in _UNITS.items()}

_OPS = {
    "==": epb.CMP_OP_EQ,
    "!=": epb.CMP_OP_NE,
    "<": epb.CMP_OP_LT,
    "<=": epb.CMP_OP_LE,
    ">": epb.CMP_OP_GT,
    ">=": epb.CMP_OP_GE,
}
_OP_NAMES = {v: k for k, v in _OPS.items()}

_FUNCS = {
    "sum": epb.AGGREGATE_FUNC_SUM,
    "avg": epb.AGGREGATE_FUNC_AVG,
    "min": epb.AGGREGATE_FUNC_MIN,
    "max": epb.AGGREGATE_FUNC_MAX,
    "distinct": epb.AGGREGATE_FUNC_DISTINCT,
}
_FUNC_NAMES = {v: k for k, v in _FUNCS.items()}

_CALENDAR = {
    "day": epb.CALENDAR_UNIT_DAY,
    "week": epb.CALENDAR_UNIT_WEEK,
    "month": epb.CALENDAR_UNIT_MONTH,
    "year": epb.CALENDAR_UNIT_YEAR,
}
_CALENDAR_NAMES = {v: k for k, v in _CALENDAR.items()}


def _lookup(table: Mapping[Any, str], key: int, what: str) -> str:
    try:
        return table[key]
    except KeyError:
        raise WireFormatError(f"{what}: unknown or unspecified enum value {key}") from None


# ----------------------------------------------------------------- scalars
def value_to_proto(v: A.Value, out: epb.Value | None = None) -> epb.Value:
    """A Python scalar (str, int, float, bool) as a ``Value`` (bool checked before int)."""
    msg = epb.Value() if out is None else out
    if isinstance(v, bool):
        msg.bool_value = v
    elif isinstance(v, int):
        msg.int_value = v
    elif isinstance(v, float):
        msg.double_value = v
    elif isinstance(v, str):
        msg.string_value = v
    else:
        raise TypeError(f"not a property value (str, int, float, bool): {v!r}")
    return msg


def python_value(msg: epb.Value) -> A.Value:
    """The Python scalar held by a ``Value``."""
    kind = msg.WhichOneof("kind")
    if kind is None:
        raise WireFormatError("property value with no kind set")
    return getattr(msg, kind)


def _number_to_proto(x: int | float, out: epb.Number) -> None:
    if isinstance(x, bool):
        raise TypeError(f"expected a number, got {x!r}")
    if isinstance(x, int):
        out.int_value = x
    else:
        out.double_value = float(x)


def _number(msg: epb.Number) -> int | float:
    kind = msg.WhichOneof("kind")
    if kind is None:
        raise WireFormatError("number with no kind set")
    return getattr(msg, kind)


def _duration_to_proto(d: A.Duration, out: epb.Duration) -> None:
    out.value = d.value
    out.unit = _UNITS[d.unit]


def _duration(msg: epb.Duration) -> A.Duration:
    return A.Duration(msg.value, _lookup(_UNIT_NAMES, msg.unit, "duration unit"))


# ------------------------------------------------------------------ windows
def _window_to_proto(w: A.Window, out: epb.Window) -> None:
    if isinstance(w, A.Ever):
        out.ever.SetInParent()
    elif isinstance(w, A.Last):
        _duration_to_proto(w.duration, out.last.duration)
    elif isinstance(w, A.Ago):
        _duration_to_proto(w.start, out.ago.start)
        _duration_to_proto(w.end, out.ago.end)
    elif isinstance(w, A.Dates):
        out.dates.start_ms = w.start_ms
        out.dates.end_ms = w.end_ms
    elif isinstance(w, A.Since):
        out.since.start_ms = w.start_ms
    elif isinstance(w, A.ThisPeriod):
        out.this_period.unit = _CALENDAR[w.unit]
    elif isinstance(w, A.LastCalendar):
        out.last_calendar.count = w.count
        out.last_calendar.unit = _CALENDAR[w.unit]
    elif isinstance(w, A.LastSpan):
        out.last_span.count = w.count
        out.last_span.unit = _CALENDAR[w.unit]
    else:
        raise TypeError(f"not a window: {w!r}")


def _window(msg: epb.Window) -> A.Window:
    kind = msg.WhichOneof("kind")
    if kind is None or kind == "ever":
        return A.Ever()
    if kind == "last":
        return A.Last(_duration(msg.last.duration))
    if kind == "ago":
        return A.Ago(_duration(msg.ago.start), _duration(msg.ago.end))
    if kind == "dates":
        return A.Dates(msg.dates.start_ms, msg.dates.end_ms)
    if kind == "this_period":
        return A.ThisPeriod(_lookup(_CALENDAR_NAMES, msg.this_period.unit, "calendar unit"))
    if kind == "last_calendar":
        c = msg.last_calendar
        return A.LastCalendar(c.count, _lookup(_CALENDAR_NAMES, c.unit, "calendar unit"))
    if kind == "last_span":
        c = msg.last_span
        return A.LastSpan(c.count, _lookup(_CALENDAR_NAMES, c.unit, "calendar unit"))
    return A.Since(msg.since.start_ms)


# ------------------------------------------------------------------ filters
def _predicate_to_proto(p: A.Filter, out: epb.Filter | epb.Predicate) -> bool:
    """Fill a leaf predicate; False when ``p`` is not a leaf."""
    if isinstance(p, A.PropCmp):
        out.prop_cmp.prop = p.prop
        out.prop_cmp.op = _OPS[p.op]
        value_to_proto(p.value, out.prop_cmp.value)
    elif isinstance(p, A.PropIn):
        out.prop_in.prop = p.prop
        out.prop_in.negated = p.negated
        for v in p.values:
            value_to_proto(v, out.prop_in.values.add())
    elif isinstance(p, A.PropExists):
        out.prop_exists.prop = p.prop
        out.prop_exists.negated = p.negated
    elif isinstance(p, A.PropContains):
        out.prop_contains.prop = p.prop
        out.prop_contains.substr = p.substr
    else:
        return False
    return True


def _predicate(msg: epb.Filter | epb.Predicate, kind: str) -> A.Predicate:
    if kind == "prop_cmp":
        m = msg.prop_cmp
        return A.PropCmp(m.prop, _lookup(_OP_NAMES, m.op, "comparison operator"), python_value(m.value))
    if kind == "prop_in":
        m = msg.prop_in
        return A.PropIn(m.prop, tuple(python_value(v) for v in m.values), m.negated)
    if kind == "prop_exists":
        return A.PropExists(msg.prop_exists.prop, msg.prop_exists.negated)
    if kind == "prop_contains":
        return A.PropContains(msg.prop_contains.prop, msg.prop_contains.substr)
    raise WireFormatError(f"predicate with no kind set ({kind!r})")


BINARY_LEVELS = 48
"""Message nesting up to which and/or are written binary (protobuf refuses past 100)."""


def _binary_levels(expr: A.Expr) -> int:
    """Message nesting of the binary form (2 per and/or/not, plus a leaf's own ~8), capped."""
    deepest = 0
    stack: list[tuple[A.Expr, int]] = [(expr, 8)]
    while stack and deepest <= BINARY_LEVELS:
        node, levels = stack.pop()
        deepest = max(deepest, levels)
        below = walk.children(node)
        stack += [(child, levels + 2) for child in below]
        if not below:  # a leaf: its events' filters nest inside it
            for ref in walk.event_refs(node):
                if ref.filter is not None:
                    deepest = max(deepest, _filter_levels(ref.filter, levels))
    return deepest


def _filter_levels(flt: A.Filter, levels: int) -> int:
    """Message nesting of a property filter's binary form below ``levels`` (2 per and/or/not)."""
    deepest = levels
    stack = [(flt, levels)]
    while stack and deepest <= BINARY_LEVELS:
        node, at = stack.pop()
        deepest = max(deepest, at)
        if isinstance(node, A.FAnd | A.FOr):
            stack += [(node.left, at + 2), (node.right, at + 2)]
        elif isinstance(node, A.FNot):
            stack.append((node.item, at + 2))
    return deepest


def _fold(cls: type, items: list[Any], what: str) -> Any:
    """A chain message's items back as the left-nested tree they came from."""
    if len(items) < 2:
        raise WireFormatError(f"{what} needs at least two items, got {len(items)}")
    node = items[0]
    for item in items[1:]:
        node = cls(node, item)
    return node


def _filter_to_proto(f: A.Filter, out: epb.Filter, binary: bool) -> None:
    if _predicate_to_proto(f, out):
        return
    if isinstance(f, A.FAnd | A.FOr) and not binary:
        target = out.f_and_chain if isinstance(f, A.FAnd) else out.f_or_chain
        for item in A.chain(f):
            _filter_to_proto(item, target.items.add(), binary)
    elif isinstance(f, A.FAnd):
        _filter_to_proto(f.left, out.f_and.left, binary)
        _filter_to_proto(f.right, out.f_and.right, binary)
    elif isinstance(f, A.FOr):
        _filter_to_proto(f.left, out.f_or.left, binary)
        _filter_to_proto(f.right, out.f_or.right, binary)
    elif isinstance(f, A.FNot):
        _filter_to_proto(f.item, out.f_not.item, binary)
    else:
        raise TypeError(f"not a filter: {f!r}")


def _filter(msg: epb.Filter) -> A.Filter:
    kind = msg.WhichOneof("kind")
    if kind == "f_and":
        return A.FAnd(_filter(msg.f_and.left), _filter(msg.f_and.right))
    if kind == "f_or":
        return A.FOr(_filter(msg.f_or.left), _filter(msg.f_or.right))
    if kind == "f_not":
        return A.FNot(_filter(msg.f_not.item))
    if kind == "f_and_chain":
        return _fold(A.FAnd, [_filter(i) for i in msg.f_and_chain.items], "f_and_chain")
    if kind == "f_or_chain":
        return _fold(A.FOr, [_filter(i) for i in msg.f_or_chain.items], "f_or_chain")
    return _predicate(msg, kind or "")


def _event_to_proto(e: A.EventRef, out: epb.EventRef, binary: bool) -> None:
    out.SetInParent()
    if e.event_type is not None:
        out.event_type = e.event_type
    if e.filter is not None:
        _filter_to_proto(e.filter, out.filter, binary)


def _event(msg: epb.EventRef) -> A.EventRef:
    event_type = msg.event_type if msg.HasField("event_type") else None
    flt = _filter(msg.filter) if msg.HasField("filter") else None
    return A.EventRef(event_type, flt)


# -------------------------------------------------------------- comparisons
def _comparison_to_proto(c: A.Comparison, out: epb.Comparison) -> None:
    if isinstance(c, A.Compare):
        out.compare.op = _OPS[c.op]
        _number_to_proto(c.value, out.compare.value)
    elif isinstance(c, A.Range):
        _number_to_proto(c.lo, out.range.lo)
        _number_to_proto(c.hi, out.range.hi)
    else:
        raise TypeError(f"not a comparison: {c!r}")


def _comparison(msg: epb.Comparison) -> A.Comparison:
    kind = msg.WhichOneof("kind")
    if kind == "compare":
        op = _lookup(_OP_NAMES, msg.compare.op, "comparison operator")
        return A.Compare(op, _number(msg.compare.value))
    if kind == "range":
        return A.Range(_number(msg.range.lo), _number(msg.range.hi))
    raise WireFormatError("comparison with no kind set")


def _required_comparison(msg: Any, what: str) -> A.Comparison:
    if not msg.HasField("cmp"):
        raise WireFormatError(f"{what} needs a comparison")
    return _comparison(msg.cmp)


def _metric_to_proto(m: A.Metric, out: epb.Metric, binary: bool) -> None:
    if isinstance(m, A.MetricCount):
        _event_to_proto(m.event, out.count.event, binary)
    elif isinstance(m, A.MetricSum):
        out.sum.prop = m.prop
        _event_to_proto(m.event, out.sum.event, binary)
    elif isinstance(m, A.MetricActiveDays):
        _event_to_proto(m.event, out.active_days.event, binary)
    else:
        raise TypeError(f"not a metric: {m!r}")


def _metric(msg: epb.Metric) -> A.Metric:
    kind = msg.WhichOneof("kind")
    if kind == "count":
        return A.MetricCount(_event(msg.count.event))
    if kind == "sum":
        return A.MetricSum(msg.sum.prop, _event(msg.sum.event))
    if kind == "active_days":
        return A.MetricActiveDays(_event(msg.active_days.event))
    raise WireFormatError("metric with no kind set")


# ------------------------------------------------------------------- trees
def expr_to_proto(expr: A.Expr, out: epb.CohortExpr | None = None) -> epb.CohortExpr:
    """The ``CohortExpr`` message for an AST (one oneof field per node class).

    ``and``/``or`` are binary messages when the whole tree nests at most
    ``BINARY_LEVELS`` messages that way, chain messages otherwise.
    """
    msg = epb.CohortExpr() if out is None else out
    _expr_to_proto(expr, msg, _binary_levels(expr) <= BINARY_LEVELS)
    return msg


def _expr_to_proto(expr: A.Expr, msg: epb.CohortExpr, binary: bool) -> None:
    e = expr
    if isinstance(e, A.Did):
        _event_to_proto(e.event, msg.did.event, binary)
        if e.cmp is not None:
            _comparison_to_proto(e.cmp, msg.did.cmp)
        _window_to_proto(e.window, msg.did.window)
    elif isinstance(e, A.Aggregate):
        a = msg.aggregate
        a.func = _FUNCS[e.func]
        a.prop = e.prop
        _event_to_proto(e.event, a.event, binary)
        _comparison_to_proto(e.cmp, a.cmp)
        _window_to_proto(e.window, a.window)
    elif isinstance(e, A.ActiveDays):
        _event_to_proto(e.event, msg.active_days.event, binary)
        _comparison_to_proto(e.cmp, msg.active_days.cmp)
        _window_to_proto(e.window, msg.active_days.window)
    elif isinstance(e, A.ActivePeriods):
        p = msg.active_periods
        _event_to_proto(e.event, p.event, binary)
        _duration_to_proto(e.period, p.period)
        _comparison_to_proto(e.cmp, p.cmp)
        _window_to_proto(e.window, p.window)
    elif isinstance(e, A.Sequence):
        s = msg.sequence
        for step in e.steps:
            _event_to_proto(step, s.steps.add(), binary)
        if e.within is not None:
            _duration_to_proto(e.within, s.within)
        _window_to_proto(e.window, s.window)
    elif isinstance(e, A.FirstDid):
        _event_to_proto(e.event, msg.first_did.event, binary)
        _window_to_proto(e.window, msg.first_did.window)
    elif isinstance(e, A.CountCompare):
        cc = msg.count_compare
        _event_to_proto(e.left, cc.left, binary)
        cc.op = _OPS[e.op]
        cc.factor = e.factor
        _event_to_proto(e.right, cc.right, binary)
        _window_to_proto(e.window, cc.window)
    elif isinstance(e, A.NthDid):
        _event_to_proto(e.event, msg.nth_did.event, binary)
        msg.nth_did.n = e.n
        _window_to_proto(e.window, msg.nth_did.window)
    elif isinstance(e, A.DidOnPeriods):
        o = msg.did_on_periods
        _event_to_proto(e.event, o.event, binary)
        if e.cmp is not None:
            _comparison_to_proto(e.cmp, o.cmp)
        o.periods = e.periods
        if e.period is not None:
            _duration_to_proto(e.period, o.period)
        _window_to_proto(e.window, o.window)
    elif isinstance(e, A.DidWithinOfFirst):
        w = msg.did_within_of_first
        _event_to_proto(e.event, w.event, binary)
        if e.cmp is not None:
            _comparison_to_proto(e.cmp, w.cmp)
        _duration_to_proto(e.within, w.within)
        _event_to_proto(e.anchor, w.anchor, binary)
        _window_to_proto(e.window, w.window)
    elif isinstance(e, A.Stopped | A.Restarted):
        lc = msg.stopped if isinstance(e, A.Stopped) else msg.restarted
        _event_to_proto(e.event, lc.event, binary)
        _duration_to_proto(e.period, lc.period)
    elif isinstance(e, A.Regularly):
        r = msg.regularly
        _event_to_proto(e.event, r.event, binary)
        _duration_to_proto(e.period, r.period)
        r.times, r.periods = e.times, e.periods
    elif isinstance(e, A.Top):
        msg.top.percent = float(e.percent)
        _metric_to_proto(e.metric, msg.top.metric, binary)
        _window_to_proto(e.window, msg.top.window)
    elif isinstance(e, A.UserProp):
        if not _predicate_to_proto(e.predicate, msg.user_prop.predicate):
            raise TypeError(f"not a user-property predicate: {e.predicate!r}")
    elif isinstance(e, A.HadUserProp):
        if not _predicate_to_proto(e.predicate, msg.had_user_prop.predicate):
            raise TypeError(f"not a user-property predicate: {e.predicate!r}")
        _window_to_proto(e.window, msg.had_user_prop.window)
    elif isinstance(e, A.InCohort):
        msg.in_cohort.name = e.name
    elif isinstance(e, A.Accounts):
        msg.accounts.group = e.group
        _expr_to_proto(e.expr, msg.accounts.expr, binary)
    elif isinstance(e, A.UserCount):
        _expr_to_proto(e.cohort, msg.user_count.cohort, binary)
        _comparison_to_proto(e.cmp, msg.user_count.cmp)
    elif isinstance(e, A.AccountProp):
        if not _predicate_to_proto(e.predicate, msg.account_prop.predicate):
            raise TypeError(f"not an account-property predicate: {e.predicate!r}")
    elif isinstance(e, A.And | A.Or) and not binary:
        target = msg.and_chain if isinstance(e, A.And) else msg.or_chain
        for item in A.chain(e):
            _expr_to_proto(item, target.items.add(), binary)
    elif isinstance(e, A.And):
        _expr_to_proto(e.left, msg.and_expr.left, binary)
        _expr_to_proto(e.right, msg.and_expr.right, binary)
    elif isinstance(e, A.Or):
        _expr_to_proto(e.left, msg.or_expr.left, binary)
        _expr_to_proto(e.right, msg.or_expr.right, binary)
    elif isinstance(e, A.Not):
        _expr_to_proto(e.item, msg.not_expr.item, binary)
    else:
        raise TypeError(f"not a cohort expression: {type(expr).__name__}")


def expr_from_proto(msg: epb.CohortExpr) -> A.Expr:
    """The AST of a ``CohortExpr``; raises :class:`WireFormatError` for an incomplete tree."""
    kind = msg.WhichOneof("node")
    if kind == "did":
        d = msg.did
        return A.Did(_event(d.event), _comparison(d.cmp) if d.HasField("cmp") else None, _window(d.window))
    if kind == "aggregate":
        a = msg.aggregate
        func = _lookup(_FUNC_NAMES, a.func, "aggregate function")
        return A.Aggregate(func, a.prop, _event(a.event), _required_comparison(a, func), _window(a.window))
    if kind == "active_days":
        a = msg.active_days
        return A.ActiveDays(_event(a.event), _required_comparison(a, "active_days"), _window(a.window))
    if kind == "active_periods":
        p = msg.active_periods
        return A.ActivePeriods(
            _event(p.event), _duration(p.period), _required_comparison(p, "active_periods"), _window(p.window)
        )
    if kind == "sequence":
        s = msg.sequence
        within = _duration(s.within) if s.HasField("within") else None
        return A.Sequence(tuple(_event(step) for step in s.steps), within, _window(s.window))
    if kind == "first_did":
        return A.FirstDid(_event(msg.first_did.event), _window(msg.first_did.window))
    if kind == "count_compare":
        cc = msg.count_compare
        op = _lookup(_OP_NAMES, cc.op, "comparison operator")
        return A.CountCompare(_event(cc.left), op, cc.factor, _event(cc.right), _window(cc.window))
    if kind == "nth_did":
        return A.NthDid(_event(msg.nth_did.event), msg.nth_did.n, _window(msg.nth_did.window))
    if kind == "did_on_periods":
        o = msg.did_on_periods
        cmp = _comparison(o.cmp) if o.HasField("cmp") else None
        period = _duration(o.period) if o.HasField("period") else None
        return A.DidOnPeriods(_event(o.event), cmp, o.periods, period, _window(o.window))
    if kind == "did_within_of_first":
        w = msg.did_within_of_first
        cmp = _comparison(w.cmp) if w.HasField("cmp") else None
        if not w.HasField("within"):
            raise WireFormatError("did_within_of_first needs a within duration")
        return A.DidWithinOfFirst(
            _event(w.event), cmp, _duration(w.within), _event(w.anchor), _window(w.window)
        )
    if kind in ("stopped", "restarted"):
        lc = getattr(msg, kind)
        if not lc.HasField("period"):
            raise WireFormatError(f"{kind} needs a period")
        return (A.Stopped if kind == "stopped" else A.Restarted)(_event(lc.event), _duration(lc.period))
    if kind == "regularly":
        r = msg.regularly
        if not r.HasField("period"):
            raise WireFormatError("regularly needs a period")
        return A.Regularly(_event(r.event), _duration(r.period), r.times, r.periods)
    if kind == "top":
        t = msg.top
        return A.Top(t.percent, _metric(t.metric), _window(t.window))
    if kind == "user_prop":
        pred = msg.user_prop.predicate
        return A.UserProp(_predicate(pred, pred.WhichOneof("kind") or ""))
    if kind == "had_user_prop":
        pred = msg.had_user_prop.predicate
        return A.HadUserProp(
            _predicate(pred, pred.WhichOneof("kind") or ""), _window(msg.had_user_prop.window)
        )
    if kind == "in_cohort":
        return A.InCohort(msg.in_cohort.name)
    if kind == "accounts":
        return A.Accounts(msg.accounts.group, expr_from_proto(msg.accounts.expr))
    if kind == "user_count":
        uc = msg.user_count
        return A.UserCount(expr_from_proto(uc.cohort), _required_comparison(uc, "count of users"))
    if kind == "account_prop":
        pred = msg.account_prop.predicate
        return A.AccountProp(_predicate(pred, pred.WhichOneof("kind") or ""))
    if kind == "and_expr":
        return A.And(expr_from_proto(msg.and_expr.left), expr_from_proto(msg.and_expr.right))
    if kind == "or_expr":
        return A.Or(expr_from_proto(msg.or_expr.left), expr_from_proto(msg.or_expr.right))
    if kind == "not_expr":
        return A.Not(expr_from_proto(msg.not_expr.item))
    if kind == "and_chain":
        return _fold(A.And, [expr_from_proto(i) for i in msg.and_chain.items], "and_chain")
    if kind == "or_chain":
        return _fold(A.Or, [expr_from_proto(i) for i in msg.or_chain.items], "or_chain")
    raise WireFormatError("cohort expression with no node set")


def definition_to_proto(definition: str | A.Expr | Any, out: epb.Definition | None = None) -> epb.Definition:
    """A ``Definition`` from cohort text, an AST, or a builder object.

    Text travels as text (the server parses it and reports line/column); a
    tree (or anything :func:`cohortd.lang.as_expr` turns into one) travels as a
    ``CohortExpr``.
    """
    msg = epb.Definition() if out is None else out
    if isinstance(definition, str):
        msg.text = definition
        return msg
    if isinstance(definition, epb.CohortExpr):
        msg.expr.CopyFrom(definition)
        return msg
    try:
        expr_to_proto(definition, msg.expr)
    except TypeError:
        from cohortd.lang import as_expr  # builder objects

        msg.Clear()
        expr_to_proto(as_expr(definition), msg.expr)
    return msg


def definition_from_proto(msg: epb.Definition) -> str | A.Expr:
    """Text or AST from a ``Definition`` (the workspace accepts either)."""
    kind = msg.WhichOneof("kind")
    if kind == "text":
        return msg.text
    if kind == "expr":
        return expr_from_proto(msg.expr)
    raise WireFormatError("definition: neither text nor expr is set")


# -------------------------------------------------------------------- times
def ms_to_timestamp(ms: int, out: Timestamp | None = None) -> Timestamp:
    ts = Timestamp() if out is None else out
    ts.FromMilliseconds(int(ms))
    return ts


def timestamp_to_ms(ts: Timestamp) -> int:
    return ts.ToMilliseconds()


def timestamp_to_datetime(ts: Timestamp) -> datetime:
    """A UTC datetime with millisecond precision."""
    return times.from_ms(ts.ToMilliseconds())


def to_epoch_ms(t: times.Instant) -> int:
    """Epoch milliseconds from an int (already ms), a datetime (naive means UTC) or ISO-8601 text."""
    return times.to_ms(t)
