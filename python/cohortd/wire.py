"""Conversions between cohortd's Python values and the wire messages (one place).

* Cohort definitions: the Python AST (:mod:`cohortd.lang.ast`) and the
  protobuf tree ``cohortd.v1.CohortExpr`` map node for node, so
  ``expr_from_proto(expr_to_proto(e)) == e`` for every tree.  ``and``/``or``
  travel binary while the tree is shallow (older readers know only that form)
  and as chains (``AndChain``...) otherwise, so a definition of hundreds of
  conditions stays far below protobuf's recursion limit; both are read.
* Times: epoch milliseconds (UTC) and ``google.protobuf.Timestamp``.
* Rows: ``cohortd.v1.Event`` / ``UserProperties`` messages and plain dicts on
  one side, pyarrow tables (the engine's ingest shape: ``user_id``,
  ``event_type``, ``time`` then one column per property) on the other, plus
  Arrow IPC bytes for the columnar ``arrow_ipc`` request field.

Row conversion never guesses silently: a property whose values disagree in
type across rows takes the type of the first row that sets it (ints widen to
float when the column is a float column), and every other row that disagrees
is rejected with ``(row, field, reason)`` rather than coerced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from google.protobuf.timestamp_pb2 import Timestamp

from cohortd.lang import ast as A
from cohortd.storage.validate import Rejection
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import expr_pb2 as epb

__all__ = [
    "definition_from_proto",
    "definition_to_proto",
    "events_to_table",
    "expr_from_proto",
    "expr_to_proto",
    "ipc_to_table",
    "ms_to_timestamp",
    "python_value",
    "rows_to_event_messages",
    "rows_to_user_messages",
    "table_to_ipc",
    "timestamp_to_datetime",
    "timestamp_to_ms",
    "to_epoch_ms",
    "users_to_table",
    "value_to_proto",
    "WireRejection",
]

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


class WireFormatError(ValueError):
    """A message that does not describe a valid tree or row (the server maps it to INVALID_ARGUMENT)."""


def _lookup(table: Mapping[int, str], key: int, what: str) -> str:
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
    stack: list[tuple[Any, int]] = [(expr, 8)]
    while stack and deepest <= BINARY_LEVELS:
        node, levels = stack.pop()
        deepest = max(deepest, levels)
        if isinstance(node, A.And | A.Or | A.FAnd | A.FOr):
            stack += [(node.left, levels + 2), (node.right, levels + 2)]
        elif isinstance(node, A.Not | A.FNot):
            stack.append((node.item, levels + 2))
        elif isinstance(node, A.EventRef) and node.filter is not None:
            stack.append((node.filter, levels))
        elif isinstance(node, A.Sequence):
            stack += [(step, levels) for step in node.steps]
        elif isinstance(node, A.Top) and node.metric is not None:
            stack.append((node.metric.event, levels))
        elif hasattr(node, "event"):
            stack.append((node.event, levels))
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
    elif isinstance(e, A.Top):
        msg.top.percent = float(e.percent)
        _metric_to_proto(e.metric, msg.top.metric, binary)
        _window_to_proto(e.window, msg.top.window)
    elif isinstance(e, A.UserProp):
        if not _predicate_to_proto(e.predicate, msg.user_prop.predicate):
            raise TypeError(f"not a user-property predicate: {e.predicate!r}")
    elif isinstance(e, A.InCohort):
        msg.in_cohort.name = e.name
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
    if kind == "top":
        t = msg.top
        return A.Top(t.percent, _metric(t.metric), _window(t.window))
    if kind == "user_prop":
        pred = msg.user_prop.predicate
        return A.UserProp(_predicate(pred, pred.WhichOneof("kind") or ""))
    if kind == "in_cohort":
        return A.InCohort(msg.in_cohort.name)
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
    return datetime.fromtimestamp(ts.ToMilliseconds() / 1000, tz=UTC)


def to_epoch_ms(t: int | float | datetime | str) -> int:
    """Epoch milliseconds from an int (already ms), a datetime (naive means UTC) or ISO-8601 text."""
    if isinstance(t, str):
        text = t.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            t = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"time {t!r} is not ISO-8601 (e.g. 2026-01-31T12:00Z)") from None
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return int(t.timestamp() * 1000)
    if isinstance(t, bool) or not isinstance(t, int | float):
        raise TypeError(f"expected epoch milliseconds or a datetime, got {t!r}")
    return int(t)


# --------------------------------------------------------------------- rows
WireRejection = Rejection
"""A row turned away before it reached the store: the same type as the store's rejections."""


_KINDS_TO_ARROW = {
    "string_value": pa.string(),
    "int_value": pa.int64(),
    "double_value": pa.float64(),
    "bool_value": pa.bool_(),
}
_KIND_NAMES = {"string_value": "string", "int_value": "int", "double_value": "float", "bool_value": "bool"}


@dataclass
class _Columns:
    """Accumulates typed property columns row by row, rejecting type conflicts."""

    reserved: frozenset[str]
    kinds: dict[str, str] = field(default_factory=dict)
    values: dict[str, list[Any]] = field(default_factory=dict)
    n: int = 0

    def check(self, props: Mapping[str, epb.Value]) -> tuple[str, str] | None:
        """(field, reason) when this row's properties cannot join the columns."""
        for key, val in props.items():
            if key in self.reserved:
                return key, f"property name {key!r} is reserved"
            kind = val.WhichOneof("kind")
            if kind is None:
                return key, "property value with no type set"
            have = self.kinds.get(key)
            if have is None or have == kind:
                continue
            if {have, kind} == {"int_value", "double_value"}:
                continue
            return key, f"type {_KIND_NAMES[kind]} conflicts with {_KIND_NAMES[have]} in earlier rows"
        return None

    def add(self, props: Mapping[str, epb.Value]) -> None:
        for key, val in props.items():
            kind = val.WhichOneof("kind")
            col = self.values.get(key)
            if col is None:
                col = self.values[key] = [None] * self.n
                self.kinds[key] = kind
            elif kind == "double_value" and self.kinds[key] == "int_value":
                self.kinds[key] = "double_value"
            col.append(getattr(val, kind))
        self.n += 1
        for col in self.values.values():
            if len(col) < self.n:
                col.append(None)

    def arrays(self) -> dict[str, pa.Array]:
        return {k: pa.array(v, type=_KINDS_TO_ARROW[self.kinds[k]]) for k, v in self.values.items()}


_EVENT_COLUMNS = frozenset({"user_id", "event_type", "time"})


@dataclass
class RowBatch:
    """Typed rows converted for the engine.

    ``table`` holds the rows that passed wire validation and ``rows[i]`` is the
    request row number of ``table`` row ``i`` (to renumber the engine's
    rejections).
    """

    table: pa.Table
    rows: list[int]
    rejections: list[WireRejection]

    def renumber(self, rejections: Iterable[Any]) -> list[WireRejection]:
        """The engine's rejections (rows of ``table``) in request row numbers, merged with ours."""
        out = list(self.rejections)
        out.extend(WireRejection(self.rows[r.row], r.field, r.reason) for r in rejections)
        out.sort(key=lambda r: r.row)
        return out


USER_PREFIX = "$user."
"""Column prefix of user properties carried by events (the engine's convention)."""


def events_to_table(events: Sequence[pb.Event], first_row: int = 0) -> RowBatch:
    """``Event`` messages as an engine-shaped table.

    Columns: ``user_id``, ``event_type``, ``time`` (int64 epoch ms), one per
    event property, and ``$user.<name>`` for the user properties events carry.
    """
    cols = _Columns(_EVENT_COLUMNS)
    ucols = _Columns(frozenset())
    user_ids: list[str] = []
    types: list[str] = []
    times: list[int] = []
    rows: list[int] = []
    rejections: list[WireRejection] = []
    for i, ev in enumerate(events):
        row = first_row + i
        which = ev.WhichOneof("time")
        if which is None:
            rejections.append(WireRejection(row, "time", "no time given (time_ms or timestamp)"))
            continue
        props = ev.properties
        uprops = ev.user_properties
        bad = cols.check(props) if props else None
        if bad is None and uprops:
            bad = ucols.check(uprops)
        if bad is not None:
            rejections.append(WireRejection(row, bad[0], bad[1]))
            continue
        if which == "timestamp" and not _timestamp_in_range(ev.timestamp):
            rejections.append(WireRejection(row, "time", "timestamp out of range (years 0001 to 9999)"))
            continue
        user_ids.append(ev.user_id)
        types.append(ev.event_type)
        times.append(ev.time_ms if which == "time_ms" else ev.timestamp.ToMilliseconds())
        cols.add(props)
        ucols.add(uprops)
        rows.append(row)
    table = pa.table(
        {
            "user_id": pa.array(user_ids, type=pa.string()),
            "event_type": pa.array(types, type=pa.string()),
            "time": pa.array(times, type=pa.int64()),
            **cols.arrays(),
            **{USER_PREFIX + k: v for k, v in ucols.arrays().items()},
        }
    )
    return RowBatch(table, rows, rejections)


_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)  # 0001-01-01 .. 9999-12-31, protobuf's range


def _timestamp_in_range(ts: Timestamp) -> bool:
    return _TIMESTAMP_SECONDS[0] <= ts.seconds <= _TIMESTAMP_SECONDS[1] and 0 <= ts.nanos < 1_000_000_000


def users_to_table(users: Sequence[pb.UserProperties], first_row: int = 0) -> RowBatch:
    """``UserProperties`` messages as a ``user_id`` + property-columns table."""
    cols = _Columns(frozenset({"user_id"}))
    ids: list[str] = []
    rows: list[int] = []
    rejections: list[WireRejection] = []
    for i, u in enumerate(users):
        bad = cols.check(u.properties)
        if bad is not None:
            rejections.append(WireRejection(first_row + i, *bad))
            continue
        ids.append(u.user_id)
        cols.add(u.properties)
        rows.append(first_row + i)
    table = pa.table({"user_id": pa.array(ids, type=pa.string()), **cols.arrays()})
    return RowBatch(table, rows, rejections)


def _props_to_proto(props: Mapping[str, Any], out: Any) -> None:
    for key, val in props.items():
        if val is None:
            continue
        value_to_proto(val, out[key])


def rows_to_event_messages(rows: Iterable[Mapping[str, Any]]) -> list[pb.Event]:
    """Dicts (``user_id``, ``event_type``, ``time`` as epoch ms or datetime, other keys are
    properties; an optional ``user_properties`` dict) as ``Event`` messages."""
    out: list[pb.Event] = []
    for row in rows:
        ev = pb.Event(user_id=str(row["user_id"]), event_type=str(row["event_type"]))
        t = row.get("time")
        if t is not None:
            ev.time_ms = to_epoch_ms(t)
        props = {k: v for k, v in row.items() if k not in _EVENT_COLUMNS and k != "user_properties"}
        _props_to_proto(props, ev.properties)
        if row.get("user_properties"):
            _props_to_proto(row["user_properties"], ev.user_properties)
        out.append(ev)
    return out


def rows_to_user_messages(rows: Iterable[Mapping[str, Any]]) -> list[pb.UserProperties]:
    """Dicts (``user_id`` and property keys) as ``UserProperties`` messages."""
    out: list[pb.UserProperties] = []
    for row in rows:
        msg = pb.UserProperties(user_id=str(row["user_id"]))
        _props_to_proto({k: v for k, v in row.items() if k != "user_id"}, msg.properties)
        out.append(msg)
    return out


def table_to_ipc(table: pa.Table | pa.RecordBatch) -> bytes:
    """An Arrow IPC stream holding the table (for the ``arrow_ipc`` request fields)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write(table)
    return sink.getvalue().to_pybytes()


def ipc_to_table(data: bytes) -> pa.Table:
    """The table held by an Arrow IPC stream; raises :class:`WireFormatError` when unreadable."""
    try:
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise WireFormatError(f"arrow_ipc is not a readable Arrow IPC stream: {exc}") from None
