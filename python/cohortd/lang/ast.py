"""Typed tree of the cohort language (see docs/cohort-language.md).

Every node is a frozen dataclass so trees compare by value and hash; the
parser produces them, the printer turns them back into canonical text, and
``parse(print(tree)) == tree`` holds for every tree.  Boolean nodes are
binary (left-associative when parsed) so printing never needs to guess how a
chain was grouped.  Long chains (``a or b or ... or z``, hundreds of terms) are
deep on the left, so the boolean nodes compare and hash by walking that spine
in a loop (:func:`chain`) instead of recursing once per operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MS_PER_UNIT: dict[str, int] = {
    "ms": 1,
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
}

CMP_OPS = ("==", "!=", "<", "<=", ">", ">=")

Value = str | int | float | bool


# --------------------------------------------------------------------- time
@dataclass(frozen=True)
class Duration:
    """An integer and a unit (``30d``); kept as written so printing round-trips."""

    value: int
    unit: str  # one of MS_PER_UNIT

    @property
    def ms(self) -> int:
        return self.value * MS_PER_UNIT[self.unit]


@dataclass(frozen=True)
class Ever:
    """``(-inf, T)``: the default window."""


@dataclass(frozen=True)
class Last:
    """``in last D`` → ``[T - D, T)``."""

    duration: Duration


@dataclass(frozen=True)
class Ago:
    """``between A ago and B ago`` → ``[T - A, T - B)``."""

    start: Duration
    end: Duration


@dataclass(frozen=True)
class Dates:
    """``between X and Y`` with absolute instants (epoch ms, UTC) → ``[X, min(Y, T))``."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Since:
    """``since X`` → ``[X, T)``."""

    start_ms: int


CALENDAR_UNITS = ("day", "week", "month", "year")  # weeks start on Monday
SPAN_UNITS = ("month", "year")
MAX_CALENDAR_COUNT = 10_000  # the largest N of ``in last N calendar weeks`` / ``in last N months``


@dataclass(frozen=True)
class ThisPeriod:
    """``in this month``: ``[start of the calendar unit holding T, T)`` in the project time zone."""

    unit: str  # one of CALENDAR_UNITS


@dataclass(frozen=True)
class LastCalendar:
    """``in last calendar week``, ``in last 3 calendar months``: ``count`` whole units before the current."""

    count: int
    unit: str  # one of CALENDAR_UNITS


@dataclass(frozen=True)
class LastSpan:
    """``in last 2 months``: ``[T moved back count months/years (same local time, day clamped), T)``."""

    count: int
    unit: str  # one of SPAN_UNITS


Window = Ever | Last | Ago | Dates | Since | ThisPeriod | LastCalendar | LastSpan


# ------------------------------------------------------------ long chains
def chain(node: Any) -> list[Any]:
    """The operands of a left-nested chain of one operator (``((a or b) or c)`` → ``[a, b, c]``).

    Walks the left spine in a loop, so consumers of long chains (printer,
    wire, evaluation, limits) need no recursion per operator; a right operand
    of the same operator stays one operand, which keeps the tree's exact shape.
    """
    kind = type(node)
    rights: list[Any] = []
    while type(node) is kind:
        rights.append(node.right)
        node = node.left
    rights.append(node)
    rights.reverse()
    return rights


class _Chained:
    """Equality and hash over :func:`chain` (no recursion down a long left spine)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        a, b = chain(self), chain(other)
        return len(a) == len(b) and all(x == y for x, y in zip(a, b, strict=True))

    def __hash__(self) -> int:
        return hash((type(self).__name__, *chain(self)))


# ------------------------------------------------------------------ filters
@dataclass(frozen=True)
class PropCmp:
    """``prop OP value`` with OP in CMP_OPS."""

    prop: str
    op: str
    value: Value


@dataclass(frozen=True)
class PropIn:
    """``prop in (v1, ...)`` or, negated, ``prop not in (...)``."""

    prop: str
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class PropExists:
    """``prop exists`` or, negated, ``prop not exists``."""

    prop: str
    negated: bool = False


@dataclass(frozen=True)
class PropContains:
    """``prop contains "substr"`` (strings only)."""

    prop: str
    substr: str


@dataclass(frozen=True, eq=False)
class FAnd(_Chained):
    left: Filter
    right: Filter


@dataclass(frozen=True, eq=False)
class FOr(_Chained):
    left: Filter
    right: Filter


@dataclass(frozen=True)
class FNot:
    item: Filter


Predicate = PropCmp | PropIn | PropExists | PropContains
Filter = PropCmp | PropIn | PropExists | PropContains | FAnd | FOr | FNot


@dataclass(frozen=True)
class EventRef:
    """A quoted event type (``None`` means ``any``) with an optional filter."""

    event_type: str | None
    filter: Filter | None = None


# -------------------------------------------------------------- comparisons
@dataclass(frozen=True)
class Compare:
    """``OP number`` after a count or metric."""

    op: str
    value: int | float


@dataclass(frozen=True)
class Range:
    """``between lo and hi`` after a count or metric, inclusive at both ends."""

    lo: int | float
    hi: int | float


Comparison = Compare | Range


# --------------------------------------------------------------- conditions
@dataclass(frozen=True)
class Did:
    """``did(E)`` (cmp None: at least one) or ``did(E) OP n``."""

    event: EventRef
    cmp: Comparison | None = None
    window: Window = Ever()


AGGREGATES = ("sum", "avg", "min", "max", "distinct")


@dataclass(frozen=True)
class Aggregate:
    """``sum|avg|min|max|distinct(prop, E) OP x``."""

    func: str
    prop: str
    event: EventRef
    cmp: Comparison
    window: Window = Ever()


@dataclass(frozen=True)
class ActiveDays:
    event: EventRef
    cmp: Comparison
    window: Window = Ever()


@dataclass(frozen=True)
class ActivePeriods:
    event: EventRef
    period: Duration
    cmp: Comparison
    window: Window = Ever()


@dataclass(frozen=True)
class Sequence:
    """``sequence(E1, ..., En) [within D] [window]``."""

    steps: tuple[EventRef, ...]
    within: Duration | None = None
    window: Window = Ever()


@dataclass(frozen=True)
class FirstDid:
    """The user's first-ever matching event falls inside the window."""

    event: EventRef
    window: Window = Ever()


MAX_FACTOR = 1_000_000  # the largest K of ``did(A) OP K * did(B)``


@dataclass(frozen=True)
class CountCompare:
    """``did(left) OP factor * did(right) [window]``: two per-user counts in one window compared."""

    left: EventRef
    op: str
    factor: int
    right: EventRef
    window: Window = Ever()


MAX_NTH = 2**31 - 1  # the largest position ``nth did(E, n)`` accepts


@dataclass(frozen=True)
class NthDid:
    """The user's ``n``-th-ever matching event (1-based, from the beginning of data) falls in the window."""

    event: EventRef
    n: int
    window: Window = Ever()


MAX_PERIODS = 2**31 - 1  # the largest N of ``on N days`` / ``on N periods of D``


@dataclass(frozen=True)
class DidOnPeriods:
    """``did(E) CMP on N days`` / ``on N periods of D``: at least N periods whose count satisfies CMP.

    ``period`` None means days (aligned like ``active_days``); a duration means
    periods aligned back from ``T`` (like ``active_periods``).  ``cmp`` None is
    "at least one"; a comparison that accepts 0 is rejected (empty periods are never counted).
    """

    event: EventRef
    cmp: Comparison | None
    periods: int
    period: Duration | None = None
    window: Window = Ever()


@dataclass(frozen=True)
class DidWithinOfFirst:
    """``did(E) [CMP] within D of first did(A) [window]``: E counted in ``[a, a + D)``, ``a`` the user's
    first-ever matching ``A`` event (which must fall in the window), cut at ``T``."""

    event: EventRef
    cmp: Comparison | None
    within: Duration
    anchor: EventRef
    window: Window = Ever()


@dataclass(frozen=True)
class Stopped:
    """``stopped(E, D)``: did E between 2D ago and D ago, and not in the last D."""

    event: EventRef
    period: Duration


@dataclass(frozen=True)
class Restarted:
    """``restarted(E, D)``: did E in the last D, not between 2D ago and D ago, and before 2D ago."""

    event: EventRef
    period: Duration


@dataclass(frozen=True)
class Regularly:
    """``regularly(E, P, K of N)``: did E in at least K of the last N periods P (aligned back from T)."""

    event: EventRef
    period: Duration
    times: int
    periods: int


Shorthand = Stopped | Restarted | Regularly


@dataclass(frozen=True)
class MetricCount:
    event: EventRef


@dataclass(frozen=True)
class MetricSum:
    prop: str
    event: EventRef


@dataclass(frozen=True)
class MetricActiveDays:
    event: EventRef


Metric = MetricCount | MetricSum | MetricActiveDays


@dataclass(frozen=True)
class Top:
    """``top P% by METRIC [window]``."""

    percent: float
    metric: Metric
    window: Window = Ever()


@dataclass(frozen=True)
class UserProp:
    """``user.<prop> ...``: a predicate over user properties as of ``T`` (their history)."""

    predicate: Predicate


@dataclass(frozen=True)
class HadUserProp:
    """``had user.<prop> ... [window]``: the predicate held at some instant of the window."""

    predicate: Predicate
    window: Window = Ever()


@dataclass(frozen=True)
class InCohort:
    name: str


# ----------------------------------------------------------------- accounts
@dataclass(frozen=True)
class UserCount:
    """``count of users who X OP n`` (inside ``accounts(...)``): an account's member users in X, counted."""

    cohort: Expr
    cmp: Comparison


@dataclass(frozen=True)
class AccountProp:
    """``account.<prop> ...`` (inside ``accounts(...)``): a predicate over current account properties."""

    predicate: Predicate


@dataclass(frozen=True)
class Accounts:
    """``accounts(group): E``: a cohort of accounts (the keys of one group type), E over
    ``UserCount`` / ``AccountProp`` with ``and`` / ``or`` / ``not``; only ever the whole definition."""

    group: str
    expr: Expr


# ------------------------------------------------------------------ algebra
@dataclass(frozen=True, eq=False)
class And(_Chained):
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False)
class Or(_Chained):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    item: Expr


Condition = (
    Did
    | Aggregate
    | ActiveDays
    | ActivePeriods
    | Sequence
    | FirstDid
    | NthDid
    | CountCompare
    | DidOnPeriods
    | DidWithinOfFirst
    | Stopped
    | Restarted
    | Regularly
    | Top
    | UserProp
    | HadUserProp
    | InCohort
    | UserCount
    | AccountProp
)
Expr = Condition | Accounts | And | Or | Not
