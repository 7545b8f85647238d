"""A fluent Python way to write the same trees the parser produces.

Every builder object is immutable (each method returns a new one), exposes the
finished tree as ``.expr`` and prints as canonical text, so code-built and
text-written cohorts are interchangeable::

    did("Feature Used").where(feature_area="dashboard").at_least(5).in_last(days=30)
        & ~did("Subscription Cancelled").in_last(days=90)

``.expr`` checks the tree by printing and re-parsing it, so a builder can
never produce a tree the parser would reject (negative counts, empty windows,
zero durations, percentages outside (0, 100]).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Protocol, TypeGuard

from cohortd.errors import DefinitionError, ParseError
from cohortd.lang import ast as A
from cohortd.lang.limits import check_tree
from cohortd.lang.parser import parse, parse_duration, parse_instant
from cohortd.lang.printer import _filter, to_text

__all__ = [
    "Cohort",
    "Condition",
    "account",
    "accounts",
    "count_of_users",
    "EventBuilder",
    "FilterBuilder",
    "active_days",
    "active_periods",
    "as_expr",
    "avg_of",
    "did",
    "distinct_of",
    "event",
    "first_did",
    "nth_did",
    "regularly",
    "restarted",
    "stopped",
    "in_cohort",
    "max_of",
    "min_of",
    "prop",
    "sequence",
    "sum_of",
    "top",
    "user",
]

_UNITS = {"weeks": "w", "days": "d", "hours": "h", "minutes": "m", "seconds": "s", "milliseconds": "ms"}


def _duration(spec: str | A.Duration | None = None, **units: int) -> A.Duration:
    """``"30d"``, a Duration, or exactly one keyword such as ``days=30``."""
    if spec is not None and not units:
        return spec if isinstance(spec, A.Duration) else parse_duration(spec)
    if spec is None and len(units) == 1:
        ((name, value),) = units.items()
        if name not in _UNITS:
            raise TypeError(f"unknown duration unit {name!r}; use one of {', '.join(_UNITS)}")
        return A.Duration(int(value), _UNITS[name])
    raise TypeError("give a duration as '30d' or as exactly one keyword such as days=30")


def _instant(x: str | date | datetime | int) -> int:
    """Epoch ms from a date/instant string, a ``date`` (midnight UTC), an aware ``datetime`` or ms."""
    if isinstance(x, datetime):
        if x.tzinfo is None:
            raise ValueError("naive datetime: give a time zone (cohort times are UTC instants)")
        delta = x - datetime(1970, 1, 1, tzinfo=UTC)
        return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
    if isinstance(x, date):
        return (x.toordinal() - date(1970, 1, 1).toordinal()) * 86_400_000
    if isinstance(x, bool):
        raise TypeError("not an instant: bool")
    if isinstance(x, int):
        return x
    return parse_instant(x)


# ------------------------------------------------------------------ filters
class FilterBuilder:
    """A property filter; combine with ``&``, ``|`` and ``~``."""

    __slots__ = ("filter",)

    def __init__(self, f: A.Filter) -> None:
        self.filter = f

    def __and__(self, other: FilterBuilder) -> FilterBuilder:
        return FilterBuilder(A.FAnd(self.filter, other.filter))

    def __or__(self, other: FilterBuilder) -> FilterBuilder:
        return FilterBuilder(A.FOr(self.filter, other.filter))

    def __invert__(self) -> FilterBuilder:
        return FilterBuilder(A.FNot(self.filter))

    def __str__(self) -> str:
        return _filter(self.filter)

    def __repr__(self) -> str:
        return f"FilterBuilder({str(self)!r})"


class _PropRef:
    """A property name whose comparisons build predicates; ``wrap`` decides what they become."""

    __slots__ = ("name", "_wrap")

    def __init__(self, name: str, wrap) -> None:
        self.name = name
        self._wrap = wrap

    def _cmp(self, op: str, value: A.Value):
        return self._wrap(A.PropCmp(self.name, op, value))

    def __eq__(self, value):  # type: ignore[override]
        return self._cmp("==", value)

    def __ne__(self, value):  # type: ignore[override]
        return self._cmp("!=", value)

    def __lt__(self, value):
        return self._cmp("<", value)

    def __le__(self, value):
        return self._cmp("<=", value)

    def __gt__(self, value):
        return self._cmp(">", value)

    def __ge__(self, value):
        return self._cmp(">=", value)

    __hash__ = None  # type: ignore[assignment]

    def isin(self, *values: A.Value):
        return self._wrap(A.PropIn(self.name, tuple(values)))

    def not_in(self, *values: A.Value):
        return self._wrap(A.PropIn(self.name, tuple(values), negated=True))

    def exists(self):
        return self._wrap(A.PropExists(self.name))

    def not_exists(self):
        return self._wrap(A.PropExists(self.name, negated=True))

    def contains(self, substr: str):
        return self._wrap(A.PropContains(self.name, substr))


def prop(name: str) -> _PropRef:
    """An event property, for ``.where(prop("amount") > 3)``."""
    return _PropRef(name, FilterBuilder)


class _User:
    """``user("plan") == "free"`` or ``user.plan == "free"``: a user-property condition.

    ``had_user.plan == "trial"`` is ``had user.plan == "trial"`` (add a window with ``.in_last``).
    """

    def __init__(self, node: type = A.UserProp) -> None:
        self._node = node

    def __call__(self, name: str) -> _PropRef:
        return _PropRef(name, lambda p: Condition(self._node(p)))

    def __getattr__(self, name: str) -> _PropRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return self(name)


user = _User()
had_user = _User(A.HadUserProp)


# ------------------------------------------------------------------- events
def _and_filters(current: A.Filter | None, filters: tuple, equals: dict) -> A.Filter | None:
    parts = [f.filter if isinstance(f, FilterBuilder) else f for f in filters]
    parts += [A.PropCmp(k, "==", v) for k, v in equals.items()]
    for part in parts:
        current = part if current is None else A.FAnd(current, part)
    return current


class EventBuilder:
    """An event reference (``None`` means ``any``) for use inside conditions and sequences."""

    __slots__ = ("ref",)

    def __init__(self, ref: A.EventRef) -> None:
        self.ref = ref

    def where(self, *filters: FilterBuilder | A.Filter, **equals: A.Value) -> EventBuilder:
        """AND filters (and ``prop=value`` equalities) onto the event."""
        return EventBuilder(
            dataclasses.replace(self.ref, filter=_and_filters(self.ref.filter, filters, equals))
        )


def event(event_type: str | None = None) -> EventBuilder:
    """``event("Signup")``; ``event()`` is ``any``."""
    return EventBuilder(A.EventRef(event_type))


def _ref(e: str | None | EventBuilder | A.EventRef) -> A.EventRef:
    if isinstance(e, EventBuilder):
        return e.ref
    if isinstance(e, A.EventRef):
        return e
    if e is None or isinstance(e, str):
        return A.EventRef(e)
    raise TypeError(f"not an event: {e!r}")


# ------------------------------------------------------------------ cohorts
class _Counted(Protocol):
    """A condition with a ``cmp`` field (did, aggregates, active_days, count of users, ...)."""

    @property
    def cmp(self) -> A.Comparison | None: ...


class _OneEvent(Protocol):
    """A condition about a single event (did, aggregates, first/nth did, shorthands, ...)."""

    @property
    def event(self) -> A.EventRef: ...


def _has_cmp(node: A.Expr) -> TypeGuard[_Counted]:
    return "cmp" in {f.name for f in dataclasses.fields(node)}


def _has_event(node: A.Expr) -> TypeGuard[_OneEvent]:
    return "event" in {f.name for f in dataclasses.fields(node)}


class Cohort:
    """A whole cohort expression; combine with ``&``, ``|`` and ``~``."""

    __slots__ = ("_node",)

    def __init__(self, node: A.Expr) -> None:
        self._node = node

    @property
    def expr(self) -> A.Expr:
        return self._node

    def __and__(self, other: Cohort | A.Expr | str) -> Cohort:
        return Cohort(A.And(self.expr, as_expr(other)))

    def __rand__(self, other: A.Expr | str) -> Cohort:
        return Cohort(A.And(as_expr(other), self.expr))

    def __or__(self, other: Cohort | A.Expr | str) -> Cohort:
        return Cohort(A.Or(self.expr, as_expr(other)))

    def __ror__(self, other: A.Expr | str) -> Cohort:
        return Cohort(A.Or(as_expr(other), self.expr))

    def __invert__(self) -> Cohort:
        return Cohort(A.Not(self.expr))

    def __str__(self) -> str:
        return to_text(self.expr)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class Condition(Cohort):
    """One condition being built; methods return a new Condition with one field changed."""

    __slots__ = ()

    def _fields(self) -> set[str]:
        return {f.name for f in dataclasses.fields(self._node)}

    def _with(self, field: str, value, what: str) -> Condition:
        if field not in self._fields():
            raise TypeError(f"{type(self._node).__name__} has no {what}")
        return type(self)(dataclasses.replace(self._node, **{field: value}))

    @property
    def expr(self) -> A.Expr:
        node = self._node
        optional_cmp = A.Did | A.DidOnPeriods | A.DidWithinOfFirst
        if _has_cmp(node) and not isinstance(node, optional_cmp) and node.cmp is None:
            raise ValueError(f"{type(node).__name__} needs a comparison, e.g. .at_least(3)")
        if isinstance(node, A.Top) and node.metric is None:
            raise ValueError("top(...) needs a metric: .by_count(E), .by_sum(prop, E) or .by_active_days(E)")
        text = to_text(node)
        try:
            parsed = parse(text)
        except ParseError as err:
            raise ValueError(f"invalid condition {text!r}: {err.message}") from None
        if parsed != node:  # e.g. a bool where a number belongs
            raise ValueError(f"condition does not round-trip: {text!r}")
        return node

    # events
    def where(self, *filters: FilterBuilder | A.Filter, **equals: A.Value) -> Condition:
        """AND filters onto the condition's event (for ``top``, the metric's event)."""
        node = self._node
        if isinstance(node, A.Top):
            if node.metric is None:
                raise TypeError("call .by_count/.by_sum/.by_active_days before .where")
            ev = node.metric.event
            new = dataclasses.replace(ev, filter=_and_filters(ev.filter, filters, equals))
            return Condition(dataclasses.replace(node, metric=dataclasses.replace(node.metric, event=new)))
        if not _has_event(node):
            raise TypeError(f"{type(node).__name__} has no single event; filter each step with event(...)")
        ev = node.event
        return self._with(
            "event", dataclasses.replace(ev, filter=_and_filters(ev.filter, filters, equals)), "event"
        )

    # comparisons
    def compare(self, op: str, value: int | float | Condition, times: int = 1) -> Condition:
        """``OP n``; with another ``did(...)`` as the value, ``did(A) OP times * did(B)``."""
        if op not in A.CMP_OPS:
            raise ValueError(f"unknown comparison {op!r}")
        if isinstance(value, Condition):
            left, right = self._node, value._node
            if not (isinstance(left, A.Did) and isinstance(right, A.Did)):
                raise TypeError("only did(...) counts compare with each other")
            if left.cmp is not None or right.cmp is not None or not isinstance(right.window, A.Ever):
                raise TypeError("compare bare did(...) counts; the window goes after the comparison")
            return Condition(A.CountCompare(left.event, op, times, right.event, left.window))
        if times != 1:
            raise TypeError("times= goes with another did(...) count")
        return self._with("cmp", A.Compare(op, value), "comparison")

    def at_least(self, n: int | float | Condition, times: int = 1) -> Condition:
        return self.compare(">=", n, times)

    def at_most(self, n: int | float | Condition, times: int = 1) -> Condition:
        return self.compare("<=", n, times)

    def more_than(self, n: int | float | Condition, times: int = 1) -> Condition:
        return self.compare(">", n, times)

    def fewer_than(self, n: int | float | Condition, times: int = 1) -> Condition:
        return self.compare("<", n, times)

    less_than = fewer_than

    def exactly(self, n: int | float | Condition, times: int = 1) -> Condition:
        return self.compare("==", n, times)

    def not_exactly(self, n: int | float | Condition, times: int = 1) -> Condition:
        return self.compare("!=", n, times)

    def between(self, lo, hi) -> Condition:
        """Numbers: an inclusive count/value range; dates or instants: an absolute window."""
        numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (lo, hi))
        if numbers:
            return self._with("cmp", A.Range(lo, hi), "comparison")
        return self._with("window", A.Dates(_instant(lo), _instant(hi)), "window")

    # windows
    def in_last(self, spec: str | A.Duration | None = None, **units: int) -> Condition:
        return self._with("window", A.Last(_duration(spec, **units)), "window")

    def in_this(self, unit: str) -> Condition:
        """``in this day|week|month|year`` (the project's time zone)."""
        return self._with("window", A.ThisPeriod(unit), "window")

    def in_last_calendar(self, unit: str, count: int = 1) -> Condition:
        """``in last calendar week`` / ``in last 3 calendar days``: whole units before the current one."""
        return self._with("window", A.LastCalendar(count, unit), "window")

    def in_last_months(self, count: int) -> Condition:
        """``in last 2 months``: back ``count`` calendar months from the as-of time."""
        return self._with("window", A.LastSpan(count, "month"), "window")

    def in_last_years(self, count: int) -> Condition:
        return self._with("window", A.LastSpan(count, "year"), "window")

    def ago(self, start: str | A.Duration, end: str | A.Duration) -> Condition:
        """``between START ago and END ago``, e.g. ``.ago("90d", "60d")``."""
        return self._with("window", A.Ago(_duration(start), _duration(end)), "window")

    def since(self, instant: str | date | datetime | int) -> Condition:
        return self._with("window", A.Since(_instant(instant)), "window")

    def ever(self) -> Condition:
        return self._with("window", A.Ever(), "window")

    # per-period counts / anchored at a first event (after did(...) and its comparison)
    def on_days(self, n: int) -> Condition:
        """``did(E) >= 3 on N days``: at least N days on which the count holds."""
        head = self._did_head("on_days")
        return Condition(A.DidOnPeriods(head.event, head.cmp, n, None, head.window))

    def on_periods(self, n: int, spec: str | A.Duration | None = None, **units: int) -> Condition:
        """``did(E) >= 3 on N periods of D`` (periods aligned back from ``T``)."""
        head = self._did_head("on_periods")
        return Condition(A.DidOnPeriods(head.event, head.cmp, n, _duration(spec, **units), head.window))

    def within_of_first(
        self, anchor: str | None | EventBuilder, spec: str | A.Duration | None = None, **units: int
    ) -> Condition:
        """``did(E) >= 3 within D of first did(anchor)``; a later window applies to the anchor."""
        head = self._did_head("within_of_first")
        within = _duration(spec, **units)
        return Condition(A.DidWithinOfFirst(head.event, head.cmp, within, _ref(anchor), head.window))

    def _did_head(self, what: str) -> A.Did:
        node = self._node
        if not isinstance(node, A.Did):
            raise TypeError(f".{what}(...) goes after did(...) and its comparison")
        return node

    # sequence / top
    def within(self, spec: str | A.Duration | None = None, **units: int) -> Condition:
        return self._with("within", _duration(spec, **units), "'within' (only sequence has one)")

    def by_count(self, e: str | None | EventBuilder = None) -> Condition:
        return self._with("metric", A.MetricCount(_ref(e)), "metric (only top has one)")

    def by_sum(self, prop_name: str, e: str | None | EventBuilder = None) -> Condition:
        return self._with("metric", A.MetricSum(prop_name, _ref(e)), "metric (only top has one)")

    def by_active_days(self, e: str | None | EventBuilder = None) -> Condition:
        return self._with("metric", A.MetricActiveDays(_ref(e)), "metric (only top has one)")


# --------------------------------------------------------------- entry points
def did(e: str | None | EventBuilder = None) -> Condition:
    """``did(E)``; ``did()`` is ``did(any)``."""
    return Condition(A.Did(_ref(e)))


def first_did(e: str | None | EventBuilder = None) -> Condition:
    return Condition(A.FirstDid(_ref(e)))


def nth_did(e: str | None | EventBuilder, n: int) -> Condition:
    """``nth did(E, n)``: the user's n-th-ever matching event (1-based) falls in the window."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"nth_did position must be an int, got {n!r}")
    return Condition(A.NthDid(_ref(e), n))


def stopped(e: str | None | EventBuilder, spec: str | A.Duration | None = None, **units: int) -> Condition:
    """``stopped(E, D)``: did E between 2D ago and D ago, not in the last D."""
    return Condition(A.Stopped(_ref(e), _duration(spec, **units)))


def restarted(e: str | None | EventBuilder, spec: str | A.Duration | None = None, **units: int) -> Condition:
    """``restarted(E, D)``: did E in the last D, not between 2D ago and D ago, and before that."""
    return Condition(A.Restarted(_ref(e), _duration(spec, **units)))


def regularly(e: str | None | EventBuilder, period: str | A.Duration, times: int, of: int) -> Condition:
    """``regularly(E, P, times of N)``: did E in at least ``times`` of the last ``of`` periods P."""
    return Condition(A.Regularly(_ref(e), _duration(period), times, of))


def _aggregate(func: str):
    def build(prop_name: str, e: str | None | EventBuilder = None) -> Condition:
        return Condition(A.Aggregate(func, prop_name, _ref(e), None))  # type: ignore[arg-type]

    build.__name__ = f"{func}_of"
    build.__doc__ = f"``{func}(prop, E)``; needs a comparison such as ``.more_than(x)``."
    return build


sum_of = _aggregate("sum")
avg_of = _aggregate("avg")
min_of = _aggregate("min")
max_of = _aggregate("max")
distinct_of = _aggregate("distinct")


def active_days(e: str | None | EventBuilder = None) -> Condition:
    return Condition(A.ActiveDays(_ref(e), None))  # type: ignore[arg-type]


def active_periods(
    e: str | None | EventBuilder, period: str | A.Duration | None = None, **units: int
) -> Condition:
    return Condition(A.ActivePeriods(_ref(e), _duration(period, **units), None))  # type: ignore[arg-type]


def sequence(*steps: str | None | EventBuilder) -> Condition:
    return Condition(A.Sequence(tuple(_ref(s) for s in steps)))


def top(percent: float) -> Condition:
    """``top(20).by_count(E)`` is ``top 20% by count(E)``."""
    return Condition(A.Top(float(percent), None))  # type: ignore[arg-type]


def in_cohort(name: str) -> Cohort:
    return Cohort(A.InCohort(name))


# ----------------------------------------------------------------- accounts
class AccountCondition(Condition):
    """``count_of_users(...)`` or ``account.x ...``: only valid inside ``accounts(group, ...)``."""

    __slots__ = ()

    @property
    def expr(self) -> A.Expr:
        node = self._node
        if isinstance(node, A.UserCount) and node.cmp is None:
            raise ValueError("count_of_users(...) needs a comparison, e.g. .at_least(5)")
        try:
            check_tree(A.Accounts("group", node))
        except DefinitionError as err:
            raise ValueError(f"invalid account condition: {err}") from None
        return node

    def __and__(self, other: Cohort | A.Expr | str) -> Cohort:
        return _AccountCohort(A.And(self.expr, as_account_expr(other)))

    def __or__(self, other: Cohort | A.Expr | str) -> Cohort:
        return _AccountCohort(A.Or(self.expr, as_account_expr(other)))

    def __invert__(self) -> Cohort:
        return _AccountCohort(A.Not(self.expr))


class _AccountCohort(Cohort):
    """Account conditions combined with ``&``, ``|``, ``~`` (still inside ``accounts(...)``)."""

    __slots__ = ()

    def __and__(self, other: Cohort | A.Expr | str) -> Cohort:
        return _AccountCohort(A.And(self.expr, as_account_expr(other)))

    def __or__(self, other: Cohort | A.Expr | str) -> Cohort:
        return _AccountCohort(A.Or(self.expr, as_account_expr(other)))

    def __invert__(self) -> Cohort:
        return _AccountCohort(A.Not(self.expr))

    def __str__(self) -> str:
        return to_text(A.Accounts("group", self.expr)).split(": ", 1)[1]


def as_account_expr(x: Cohort | A.Expr | str) -> A.Expr:
    if isinstance(x, Cohort):
        return x.expr
    if isinstance(x, A.UserCount | A.AccountProp | A.And | A.Or | A.Not):
        return x
    raise TypeError(f"not an account condition: {x!r}")


def count_of_users(cohort: str | A.Expr | Cohort) -> AccountCondition:
    """``count_of_users(did("A").in_last(days=30)).at_least(5)`` is
    ``count of users who did("A") in last 30d >= 5`` (inside ``accounts(...)``)."""
    return AccountCondition(A.UserCount(as_expr(cohort), None))  # type: ignore[arg-type]


class _Account:
    """``account.plan == "enterprise"`` or ``account("plan type") == "x"``: an account-property condition."""

    def __call__(self, name: str) -> _PropRef:
        return _PropRef(name, lambda p: AccountCondition(A.AccountProp(p)))

    def __getattr__(self, name: str) -> _PropRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return self(name)


account = _Account()


def accounts(group: str, condition: Cohort | A.Expr) -> Cohort:
    """``accounts("company", count_of_users(did("A")).at_least(5))``: a cohort of accounts."""
    return Cohort(check_tree(A.Accounts(group, as_account_expr(condition))))


_EXPR_TYPES = (
    A.Did, A.Aggregate, A.ActiveDays, A.ActivePeriods, A.Sequence, A.FirstDid, A.NthDid,
    A.CountCompare, A.DidOnPeriods, A.DidWithinOfFirst, A.Stopped, A.Restarted, A.Regularly, A.Top,
    A.UserProp, A.HadUserProp, A.InCohort, A.And, A.Or, A.Not, A.Accounts,
)  # fmt: skip


def as_expr(x: str | A.Expr | Cohort) -> A.Expr:
    """Any accepted cohort form (text, tree, builder) as a tree that passed the parser's checks.

    A tree built elsewhere (protobuf, hand-made) goes through ``check_tree``:
    the same limits and rules as text, so no path saves what text could not.
    """
    if isinstance(x, Cohort):
        return x.expr
    if isinstance(x, str):
        return parse(x)
    if isinstance(x, _EXPR_TYPES):
        return check_tree(x)
    raise TypeError(f"not a cohort expression: {x!r}")
