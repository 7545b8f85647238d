"""A slow, obviously-correct reference evaluator of the cohort language.

It reads ``/work/shared/COHORT_LANGUAGE.md`` literally over plain Python data:

* ``events``: a list of dicts ``{"user_id": str, "event_type": str, "time": int ms, <prop>: value}``;
  a property that is absent (or ``None``) is missing on that event;
* ``user_props``: external user id → ``{property: current value}``;
* ``history`` (optional): every user-property change in write order,
  ``(user_id, time, {prop: value}, dated)``; with it, ``user.`` conditions read
  the value as of ``T`` and ``had user.`` conditions the values of the window
  (the rule of docs/cohort-language.md, "User properties as they were").

No indexes, no bitmaps, no vectorisation: every condition is a loop over the
known users and, per user, over every event.  Everything numeric that is
compared is converted to ``Fraction`` first, so sums and averages are exact.

Readings chosen where the spec leaves room (see also the test modules):

* a filter comparison between values of different kinds (bool vs number vs
  string) is false, like a missing property (the engine rejects it at
  definition time when the schema knows the type, so generated trees avoid it);
* ``not in (...)`` on a missing property is false (it is a comparison);
* ``distinct`` counts distinct non-missing values, ``0.0 == -0.0`` being one value;
* accounts (``accounts(type): ...``): ``memberships`` lists ``(user, group type, key,
  time)`` links in any order (a user belongs to the group from the earliest one on),
  ``account_props`` maps ``(group type, key)`` to current account properties; an
  account is known at ``T`` when a member known at ``T`` joined it before ``T``;
* current user properties are given: ``current_user_properties`` turns a list
  of updates into them, latest update time winning, ties going to the update
  written later (the engine's documented rule: "user properties are not
  time-travelled", an old update arriving late does not overwrite a newer one).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from cohortd.lang import ast as A

DAY_MS = 86_400_000
NEG_INF = -math.inf
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Event = Mapping[str, Any]
Resolver = Callable[[str], "A.Expr | None"]


class OracleCycle(Exception):
    """``in_cohort`` reference cycle met during evaluation."""


class OracleUnknownCohort(Exception):
    """``in_cohort`` of a name the resolver does not know."""


# ------------------------------------------------------------------ values
def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    raise TypeError(f"unsupported value {v!r}")


def _same_kind(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b)


def _get(row: Mapping[str, Any], prop: str) -> Any:
    """The value of ``prop`` or None when missing."""
    return row.get(prop)


def compare_op(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    raise ValueError(op)


def predicate_holds(pred: A.Predicate, row: Mapping[str, Any]) -> bool:
    """One leaf predicate over one event (or one user's property dict)."""
    value = _get(row, pred.prop)
    if isinstance(pred, A.PropExists):
        present = value is not None
        return not present if pred.negated else present
    if value is None:
        return False  # comparing a missing property is false
    if isinstance(pred, A.PropCmp):
        if not _same_kind(value, pred.value):
            return False
        return compare_op(pred.op, value, pred.value)
    if isinstance(pred, A.PropIn):
        member = any(_same_kind(value, v) and value == v for v in pred.values)
        return not member if pred.negated else member
    if isinstance(pred, A.PropContains):
        return isinstance(value, str) and pred.substr in value
    raise TypeError(f"not a predicate: {pred!r}")


def filter_holds(flt: A.Filter, row: Mapping[str, Any]) -> bool:
    if isinstance(flt, A.FAnd):
        return filter_holds(flt.left, row) and filter_holds(flt.right, row)
    if isinstance(flt, A.FOr):
        return filter_holds(flt.left, row) or filter_holds(flt.right, row)
    if isinstance(flt, A.FNot):
        return not filter_holds(flt.item, row)
    return predicate_holds(flt, row)


def event_matches(ref: A.EventRef, e: Event) -> bool:
    if ref.event_type is not None and e["event_type"] != ref.event_type:
        return False
    return ref.filter is None or filter_holds(ref.filter, e)


# ------------------------------------------------------------------ windows
def window_bounds(window: A.Window, T: int, zone: str = "UTC") -> tuple[float, int]:
    """``[start, end)`` of a window at as-of ``T`` (end never past ``T``; calendar windows in ``zone``)."""
    if isinstance(window, A.ThisPeriod | A.LastCalendar | A.LastSpan):
        return calendar_bounds(window, T, zone)
    if isinstance(window, A.Ever):
        return NEG_INF, T
    if isinstance(window, A.Last):
        return T - window.duration.ms, T
    if isinstance(window, A.Ago):
        return T - window.start.ms, T - window.end.ms
    if isinstance(window, A.Dates):
        return window.start_ms, min(window.end_ms, T)
    if isinstance(window, A.Since):
        return window.start_ms, T
    raise TypeError(f"not a window: {window!r}")


# ---------------------------------------------------------------- calendar
def _tz(zone: str) -> Any:
    return dt.UTC if zone == "UTC" else ZoneInfo(zone)


def local_date(t: int, zone: str) -> dt.date:
    """The calendar date of instant ``t`` (epoch ms) in ``zone``."""
    return (_EPOCH + dt.timedelta(milliseconds=t)).astimezone(_tz(zone)).date()


def first_instant(day: dt.date, zone: str) -> int:
    """The first instant (epoch ms) whose local date is ``day`` or later: a search, no offsets."""
    lo = (dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(milliseconds=1)
    lo, hi = lo - 2 * DAY_MS, lo + 2 * DAY_MS
    while lo < hi:
        mid = (lo + hi) // 2
        if local_date(mid, zone) >= day:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _unit_start(day: dt.date, unit: str) -> dt.date:
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())  # Monday
    if unit == "month":
        return day.replace(day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


def _units_before(day: dt.date, unit: str, n: int) -> dt.date:
    if unit == "day":
        return day - dt.timedelta(days=n)
    if unit == "week":
        return day - dt.timedelta(weeks=n)
    if unit == "month":
        for _ in range(n):
            day = (day - dt.timedelta(days=1)).replace(day=1)
        return day
    return day.replace(year=day.year - n)


def calendar_bounds(window: A.Window, T: int, zone: str) -> tuple[int, int]:
    """``[start, end)`` of a calendar window at ``T`` in ``zone``, read literally from the rules."""
    today = local_date(T, zone)
    if isinstance(window, A.ThisPeriod):
        return first_instant(_unit_start(today, window.unit), zone), T
    if isinstance(window, A.LastCalendar):
        current = _unit_start(today, window.unit)
        return first_instant(_units_before(current, window.unit, window.count), zone), first_instant(
            current, zone
        )
    if isinstance(window, A.LastSpan):
        wall = (_EPOCH + dt.timedelta(milliseconds=T)).astimezone(_tz(zone))
        months = window.count * (12 if window.unit == "year" else 1)
        year, month = wall.year, wall.month
        for _ in range(months):
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        day = min(wall.day, calendar.monthrange(year, month)[1])
        moved = wall.replace(tzinfo=None).replace(year=year, month=month, day=day)
        # a wall time skipped or repeated by a DST change: the standard library's reading (fold=0)
        start = moved.replace(tzinfo=_tz(zone), fold=0).astimezone(dt.UTC)
        return (start - _EPOCH) // dt.timedelta(milliseconds=1), T
    raise TypeError(f"not a calendar window: {window!r}")


def compare(x: Any, cmp: A.Comparison | None) -> bool:
    """``x`` against a count/metric comparison; None means "at least one"."""
    x = Fraction(x)
    if cmp is None:
        return x >= 1
    if isinstance(cmp, A.Range):
        return Fraction(cmp.lo) <= x <= Fraction(cmp.hi)
    return compare_op(cmp.op, x, Fraction(cmp.value))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ---------------------------------------------------------------- evaluator
class Oracle:
    """Evaluates cohort trees over raw events and current user properties."""

    def __init__(
        self,
        events: Iterable[Event],
        user_props: Mapping[str, Mapping[str, Any]],
        memberships: Iterable[tuple[str, str, str, int]] = (),
        account_props: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
        history: Iterable[tuple[str, int, Mapping[str, Any], bool]] | None = None,
    ) -> None:
        self.events = [dict(e) for e in events]
        self.user_props = {u: dict(p) for u, p in user_props.items()}
        self.zone = "UTC"  # the project time zone: calendar windows and active_days
        self.memberships = list(memberships)
        self.account_props = {k: dict(v) for k, v in (account_props or {}).items()}
        # (user, prop) -> [(time, write order, value, dated)]
        self.changes: dict[tuple[str, str], list[tuple[int, int, Any, bool]]] = {}
        for order, (user, time, props, dated) in enumerate(history or ()):
            for prop, value in props.items():
                if value is not None:
                    self.changes.setdefault((user, prop), []).append((time, order, value, dated))

    def _time_travelled(self, u: str, prop: str) -> bool:
        """A property is time-travelled for a user once one of its changes is dated."""
        return any(dated for *_, dated in self.changes.get((u, prop), ()))

    def value_at(self, u: str, prop: str, t: float) -> Any:
        """The value at instant ``t``: the last change at or before ``t`` (None: no value yet)."""
        best = None
        for time, order, value, _ in self.changes.get((u, prop), ()):
            if time <= t and (best is None or (time, order) >= best[:2]):
                best = (time, order, value)
        return None if best is None else best[2]

    def user_prop_holds(self, pred: A.Predicate, u: str, T: int) -> bool:
        if not self._time_travelled(u, pred.prop):
            return predicate_holds(pred, self.user_props.get(u, {}))
        return predicate_holds(pred, {pred.prop: self.value_at(u, pred.prop, T - 1)})

    def had_holds(self, cond: A.HadUserProp, u: str, T: int) -> bool:
        start, end = window_bounds(cond.window, T, self.zone)
        if start >= end:
            return False
        prop = cond.predicate.prop
        if not self._time_travelled(u, prop):
            return predicate_holds(cond.predicate, self.user_props.get(u, {}))
        instants = [start] + [c[0] for c in self.changes[(u, prop)] if start < c[0] < end]
        return any(predicate_holds(cond.predicate, {prop: self.value_at(u, prop, t)}) for t in instants)

    # -- basics
    def existing(self, T: int) -> list[dict[str, Any]]:
        """Nothing at or after ``T`` exists."""
        return [e for e in self.events if e["time"] < T]

    def known(self, T: int) -> set[str]:
        """Users with at least one event before ``T``."""
        return {e["user_id"] for e in self.existing(T)}

    def in_window(self, user: str, ref: A.EventRef, window: A.Window, T: int) -> list[dict[str, Any]]:
        """Events of ``user`` matching ``ref`` inside the window, all before ``T``."""
        start, end = window_bounds(window, T, self.zone)
        return [
            e
            for e in self.existing(T)
            if e["user_id"] == user and start <= e["time"] < end and event_matches(ref, e)
        ]

    # -- entry point
    def evaluate(self, expr: A.Expr, T: int, resolve: Resolver | None = None) -> set[str]:
        return self._eval(expr, T, resolve, ())

    def members(self, expr: A.Expr, T: int, resolve: Resolver | None = None) -> list[str]:
        return sorted(self.evaluate(expr, T, resolve))

    def _eval(self, expr: A.Expr, T: int, resolve: Resolver | None, stack: tuple[str, ...]) -> set[str]:
        if isinstance(expr, A.Accounts):
            return self._accounts(expr, T, resolve, stack)
        known = self.known(T)
        if isinstance(expr, A.And):
            return self._eval(expr.left, T, resolve, stack) & self._eval(expr.right, T, resolve, stack)
        if isinstance(expr, A.Or):
            return self._eval(expr.left, T, resolve, stack) | self._eval(expr.right, T, resolve, stack)
        if isinstance(expr, A.Not):
            return known - self._eval(expr.item, T, resolve, stack)
        if isinstance(expr, A.InCohort):
            if expr.name in stack:
                raise OracleCycle(" -> ".join([*stack, expr.name]))
            target = resolve(expr.name) if resolve is not None else None
            if target is None:
                raise OracleUnknownCohort(expr.name)
            return self._eval(target, T, resolve, (*stack, expr.name)) & known
        if isinstance(expr, A.Top):
            return self._top(expr, T)
        return {u for u in known if self._user_in(expr, u, T)}

    # -- accounts
    def account_members(self, group_type: str, T: int) -> dict[str, set[str]]:
        """Known accounts of one type at ``T`` -> their member users known at ``T``."""
        known = self.known(T)
        out: dict[str, set[str]] = {}
        for user, gtype, key, t in self.memberships:
            if gtype == group_type and t < T and user in known:
                out.setdefault(key, set()).add(user)
        return out

    def _accounts(
        self, expr: A.Accounts, T: int, resolve: Resolver | None, stack: tuple[str, ...]
    ) -> set[str]:
        members = self.account_members(expr.group, T)

        def holds(node: A.Expr, key: str) -> bool:
            if isinstance(node, A.And):
                return holds(node.left, key) and holds(node.right, key)
            if isinstance(node, A.Or):
                return holds(node.left, key) or holds(node.right, key)
            if isinstance(node, A.Not):
                return not holds(node.item, key)
            if isinstance(node, A.UserCount):
                inside = self._eval(node.cohort, T, resolve, stack)
                return compare(len(members[key] & inside), node.cmp)
            if isinstance(node, A.AccountProp):
                return predicate_holds(node.predicate, self.account_props.get((expr.group, key), {}))
            raise TypeError(f"not an account condition: {node!r}")

        return {key for key in members if holds(expr.expr, key)}

    # -- one user, one leaf condition
    def _user_in(self, cond: A.Expr, u: str, T: int) -> bool:
        if isinstance(cond, A.Did):
            return compare(len(self.in_window(u, cond.event, cond.window, T)), cond.cmp)
        if isinstance(cond, A.Aggregate):
            evs = self.in_window(u, cond.event, cond.window, T)
            values = [e[cond.prop] for e in evs if _get(e, cond.prop) is not None]
            if cond.func == "distinct":
                return compare(len(set(values)), cond.cmp)
            numbers = [Fraction(v) for v in values if _is_number(v)]
            if not numbers:
                return False  # no value: not selected
            if cond.func == "sum":
                metric = sum(numbers, Fraction(0))
            elif cond.func == "avg":
                metric = sum(numbers, Fraction(0)) / len(numbers)
            elif cond.func == "min":
                metric = min(numbers)
            elif cond.func == "max":
                metric = max(numbers)
            else:
                raise ValueError(cond.func)
            return compare(metric, cond.cmp)
        if isinstance(cond, A.ActiveDays):
            evs = self.in_window(u, cond.event, cond.window, T)
            return compare(len({local_date(e["time"], self.zone) for e in evs}), cond.cmp)
        if isinstance(cond, A.ActivePeriods):
            evs = self.in_window(u, cond.event, cond.window, T)
            P = cond.period.ms
            return compare(len({period_back_from(T, P, e["time"]) for e in evs}), cond.cmp)
        if isinstance(cond, A.Sequence):
            return self._sequence(cond, u, T)
        if isinstance(cond, A.FirstDid):
            ever = self.in_window(u, cond.event, A.Ever(), T)
            if not ever:
                return False
            first = min(e["time"] for e in ever)
            start, end = window_bounds(cond.window, T, self.zone)
            return start <= first < end
        if isinstance(cond, A.CountCompare):
            a = len(self.in_window(u, cond.left, cond.window, T))
            b = len(self.in_window(u, cond.right, cond.window, T))
            return compare_op(cond.op, Fraction(a), Fraction(cond.factor * b))
        if isinstance(cond, A.NthDid):
            ever = sorted(e["time"] for e in self.in_window(u, cond.event, A.Ever(), T))
            if len(ever) < cond.n:
                return False
            start, end = window_bounds(cond.window, T, self.zone)
            return start <= ever[cond.n - 1] < end
        if isinstance(cond, A.DidOnPeriods):
            per: dict[int, int] = {}
            for e in self.in_window(u, cond.event, cond.window, T):
                t = e["time"]
                p = (
                    local_date(t, self.zone)
                    if cond.period is None
                    else period_back_from(T, cond.period.ms, t)
                )
                per[p] = per.get(p, 0) + 1
            return sum(1 for n in per.values() if compare(n, cond.cmp)) >= cond.periods
        if isinstance(cond, A.DidWithinOfFirst):
            anchors = [e["time"] for e in self.in_window(u, cond.anchor, A.Ever(), T)]
            if not anchors:
                return False
            a = min(anchors)
            start, end = window_bounds(cond.window, T, self.zone)
            if not start <= a < end:
                return False
            evs = self.in_window(u, cond.event, A.Ever(), T)
            n = sum(1 for e in evs if a <= e["time"] < a + cond.within.ms)
            return compare(n, cond.cmp)
        if isinstance(cond, A.Stopped | A.Restarted | A.Regularly):
            return self._lifecycle(cond, u, T)
        if isinstance(cond, A.UserProp):
            return self.user_prop_holds(cond.predicate, u, T)
        if isinstance(cond, A.HadUserProp):
            return self.had_holds(cond, u, T)
        raise TypeError(f"not a condition: {cond!r}")

    def _lifecycle(self, cond: A.Stopped | A.Restarted | A.Regularly, u: str, T: int) -> bool:
        """The shorthands read from their definitions, not from the engine's expansion."""
        times = [e["time"] for e in self.in_window(u, cond.event, A.Ever(), T)]
        D = cond.period.ms
        recent = any(T - D <= t for t in times)
        before = any(T - 2 * D <= t < T - D for t in times)
        if isinstance(cond, A.Stopped):
            return before and not recent
        if isinstance(cond, A.Restarted):
            return recent and not before and any(t < T - 2 * D for t in times)
        active = {period_back_from(T, D, t) for t in times if T - cond.periods * D <= t}
        return len(active) >= cond.times

    def _sequence(self, cond: A.Sequence, u: str, T: int) -> bool:
        candidates = [sorted(e["time"] for e in self.in_window(u, s, cond.window, T)) for s in cond.steps]
        limit = math.inf if cond.within is None else cond.within.ms

        def extend(step: int, first: int, prev: int) -> bool:
            if step == len(candidates):
                return True
            for t in candidates[step]:
                if t > prev and t - first <= limit and extend(step + 1, first, t):
                    return True
            return False

        return any(extend(1, t1, t1) for t1 in candidates[0])

    def _top(self, cond: A.Top, T: int) -> set[str]:
        known = sorted(self.known(T))
        N = len(known)
        if N == 0:
            return set()
        metric = {u: self._metric(cond.metric, cond.window, u, T) for u in known}
        ranked = sorted(metric.values(), reverse=True)
        rank = math.ceil(Fraction(repr(float(cond.percent))) / 100 * N)  # exact on the decimal value of P
        q = ranked[rank - 1]
        return {u for u, m in metric.items() if m > 0 and m >= q}

    def _metric(self, m: A.Metric, window: A.Window, u: str, T: int) -> Fraction:
        evs = self.in_window(u, m.event, window, T)
        if isinstance(m, A.MetricCount):
            return Fraction(len(evs))
        if isinstance(m, A.MetricActiveDays):
            return Fraction(len({local_date(e["time"], self.zone) for e in evs}))
        if isinstance(m, A.MetricSum):
            return sum((Fraction(e[m.prop]) for e in evs if _is_number(_get(e, m.prop))), Fraction(0))
        raise TypeError(f"not a metric: {m!r}")


def utc_day(t: int) -> int:
    """Index of the UTC calendar day holding instant ``t`` (days start at midnight UTC)."""
    return t // DAY_MS


def period_back_from(T: int, P: int, t: int) -> int:
    """k such that ``T - (k+1)P <= t < T - kP`` (periods aligned back from ``T``)."""
    k = (T - 1 - t) // P
    assert T - (k + 1) * P <= t < T - k * P, (T, P, t, k)
    return k


def current_user_properties(
    updates: Iterable[tuple[str, int, Mapping[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """Current values from ``(user_id, time, {prop: value})`` updates in write order.

    Per (user, prop): the update with the latest time wins; ties go to the one
    written later; ``None`` values set nothing.
    """
    best: dict[tuple[str, str], tuple[int, int, Any]] = {}
    for order, (user, time, props) in enumerate(updates):
        for prop, value in props.items():
            if value is None:
                continue
            key = (user, prop)
            if key not in best or (time, order) >= best[key][:2]:
                best[key] = (time, order, value)
    out: dict[str, dict[str, Any]] = {}
    for (user, prop), (_, _, value) in best.items():
        out.setdefault(user, {})[prop] = value
    return out
