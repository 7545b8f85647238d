"""Hypothesis strategies that build valid cohort-language trees.

One module serves two kinds of test: round-trip tests want arbitrary names
(keywords, quotes, backslashes, non-ASCII) to stress the printer and parser;
evaluation tests want a small fixed vocabulary so generated cohorts actually
select someone.  Every argument left as ``None`` means "arbitrary"; giving a
vocabulary makes the generated filters type-correct for it:

* prop types are ``"string" | "int" | "float" | "bool"``;
* string props compare with values from ``string_values`` and use only
  ``== != in / not in / exists / not exists / contains``;
* int props use small ints, float props multiples of 0.25 in [-10, 10]
  (exact in binary, so sums do not depend on addition order); both allow
  every comparison operator;
* bool props use ``true``/``false`` with ``== != in / not in / exists``;
* ``sum/avg/min/max`` and ``top ... by sum`` only over int/float props.

``cohort_names=()`` (the default) generates no ``in_cohort``; ``None``
generates arbitrary cohort names.  Import as ``from support.strategies import exprs``
(``tests/conftest.py`` puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import string

from cohortd.lang import ast as A
from hypothesis import strategies as st

DATE_MIN_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
DATE_MAX_MS = 1_798_761_600_000  # 2027-01-01T00:00:00Z
DAY_MS = 86_400_000

PROP_TYPES = ("string", "int", "float", "bool")
NUMERIC_TYPES = ("int", "float")

# Words that cannot be bare identifiers; the printer must quote them.
_KEYWORDS = (
    "and", "or", "not", "in", "where", "any", "did", "first", "nth", "top", "by", "count", "sum", "avg",
    "min", "max", "distinct", "active_days", "active_periods", "sequence", "within", "user",
    "in_cohort", "last", "between", "ago", "since", "ever", "exists", "contains", "true", "false",
)  # fmt: skip


# ------------------------------------------------------------------ names
def _any_text(min_size: int = 0) -> st.SearchStrategy[str]:
    """Text with quotes, backslashes, newlines and non-ASCII: everything a string literal must escape."""
    tricky = st.sampled_from(['"', "\\", "\n", "\r", "\t", "#", " ", "é", "\u2028", "\x00", "%", ")"])
    chars = st.one_of(st.characters(exclude_categories=("Cs",)), tricky)
    return st.text(chars, min_size=min_size, max_size=12)


def _identifiers() -> st.SearchStrategy[str]:
    first = string.ascii_letters + "_"
    rest = first + string.digits
    return st.builds(lambda a, b: a + b, st.sampled_from(first), st.text(rest, max_size=8))


def names() -> st.SearchStrategy[str]:
    """Property / user-property names: bare identifiers, keywords in any case, or arbitrary text."""
    keyword = st.sampled_from(_KEYWORDS).flatmap(lambda k: st.sampled_from([k, k.upper(), k.capitalize()]))
    return st.one_of(_identifiers(), keyword, _any_text(min_size=1))


# ----------------------------------------------------------------- values
def _quarter_floats() -> st.SearchStrategy[float]:
    return st.integers(-40, 40).map(lambda q: q / 4)


def _finite_floats() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False, allow_infinity=False)


def _values_of(prop_type: str | None, string_values: list[str] | None) -> st.SearchStrategy[A.Value]:
    """Literal values for a prop of the given type (``None``: any type, arbitrary values)."""
    if prop_type is None:
        return st.one_of(st.booleans(), st.integers(-(10**12), 10**12), _finite_floats(), _any_text())
    if prop_type == "string":
        return st.sampled_from(string_values) if string_values else _any_text()
    if prop_type == "int":
        return st.integers(-5, 20)
    if prop_type == "float":
        return _quarter_floats()
    if prop_type == "bool":
        return st.booleans()
    raise ValueError(f"unknown prop type {prop_type!r}")


def _props(props: dict[str, str] | None, types: tuple[str, ...] = PROP_TYPES):
    """(name, type-or-None) pairs; ``None`` type means any value type goes."""
    if props is None:
        return st.tuples(names(), st.none())
    pairs = sorted((n, t) for n, t in props.items() if t in types)
    if not pairs:
        return st.nothing()
    return st.sampled_from(pairs)


def _predicates(
    props: dict[str, str] | None, string_values: list[str] | None
) -> st.SearchStrategy[A.Predicate]:
    """One leaf predicate, type-correct for the vocabulary when there is one."""

    def build(pair: tuple[str, str | None]) -> st.SearchStrategy[A.Predicate]:
        name, ptype = pair
        values = _values_of(ptype, string_values)
        if ptype is None or ptype in NUMERIC_TYPES:
            ops = A.CMP_OPS
        else:
            ops = ("==", "!=")
        options = [
            st.builds(A.PropCmp, st.just(name), st.sampled_from(ops), values),
            st.builds(
                A.PropIn,
                st.just(name),
                st.lists(values, min_size=1, max_size=4).map(tuple),
                st.booleans(),
            ),
            st.builds(A.PropExists, st.just(name), st.booleans()),
        ]
        if ptype in (None, "string"):
            substr = st.sampled_from(string_values) if (ptype and string_values) else _any_text()
            options.append(st.builds(A.PropContains, st.just(name), substr))
        return st.one_of(options)

    return _props(props).flatmap(build)


def filters(
    props: dict[str, str] | None = None,
    string_values: list[str] | None = None,
    max_depth: int = 2,
) -> st.SearchStrategy[A.Filter]:
    """Filter trees of and/or/not over predicates, at most ``max_depth`` operators deep."""
    leaf = _predicates(props, string_values)
    if max_depth <= 0:
        return leaf
    sub = filters(props, string_values, max_depth - 1)
    return st.one_of(
        leaf,
        leaf,
        st.builds(A.FAnd, sub, sub),
        st.builds(A.FOr, sub, sub),
        st.builds(A.FNot, sub),
    )


def event_refs(
    event_types: list[str] | None = None,
    props: dict[str, str] | None = None,
    string_values: list[str] | None = None,
) -> st.SearchStrategy[A.EventRef]:
    """``"Type"`` or ``any``, with or without a ``where`` filter."""
    if event_types is None:
        types = st.one_of(st.none(), _any_text())
    elif event_types:
        types = st.one_of(st.none(), st.sampled_from(list(event_types)))
    else:
        types = st.none()
    if props is not None and not props:
        filt = st.none()
    else:
        filt = st.one_of(st.none(), filters(props, string_values))
    return st.builds(A.EventRef, types, filt)


# ----------------------------------------------------------------- windows
def durations(max_value: int = 1000) -> st.SearchStrategy[A.Duration]:
    """Nonzero integer durations in every unit."""
    return st.builds(A.Duration, st.integers(1, max_value), st.sampled_from(tuple(A.MS_PER_UNIT)))


def instants() -> st.SearchStrategy[int]:
    """Epoch ms in [2024-01-01, 2027-01-01]: half midnight dates, half arbitrary ms."""
    midnight = st.integers(0, (DATE_MAX_MS - DATE_MIN_MS) // DAY_MS).map(lambda d: DATE_MIN_MS + d * DAY_MS)
    return st.one_of(midnight, st.integers(DATE_MIN_MS, DATE_MAX_MS))


def _ago() -> st.SearchStrategy[A.Ago]:
    def order(pair: tuple[A.Duration, A.Duration]) -> A.Ago:
        a, b = sorted(pair, key=lambda d: d.ms, reverse=True)
        return A.Ago(a, b)

    return st.tuples(durations(), durations()).filter(lambda p: p[0].ms != p[1].ms).map(order)


def _dates() -> st.SearchStrategy[A.Dates]:
    return (
        st.tuples(instants(), instants())
        .filter(lambda p: p[0] != p[1])
        .map(lambda p: A.Dates(min(p), max(p)))
    )


def windows() -> st.SearchStrategy[A.Window]:
    """Every window form: ever, in last, between ... ago, between dates, since."""
    return st.one_of(
        st.just(A.Ever()),
        st.builds(A.Last, durations()),
        _ago(),
        _dates(),
        st.builds(A.Since, instants()),
    )


st_windows = windows


# ------------------------------------------------------------- comparisons
def _count_cmps() -> st.SearchStrategy[A.Comparison]:
    n = st.integers(0, 20)
    return st.one_of(
        st.builds(A.Compare, st.sampled_from(A.CMP_OPS), n),
        st.tuples(n, n).map(lambda p: A.Range(min(p), max(p))),
    )


def _number_cmps(arbitrary: bool) -> st.SearchStrategy[A.Comparison]:
    if arbitrary:
        x = st.one_of(st.integers(-(10**15), 10**15), _finite_floats())
    else:
        x = st.one_of(st.integers(-10, 40), _quarter_floats())
    return st.one_of(
        st.builds(A.Compare, st.sampled_from(A.CMP_OPS), x),
        st.tuples(x, x).map(lambda p: A.Range(*sorted(p))),
    )


def period_counts() -> st.SearchStrategy[A.Comparison | None]:
    """Per-period count comparisons of ``did(E) CMP on N days``: every one rejects 0."""
    return st.one_of(
        st.none(),
        st.builds(A.Compare, st.just(">="), st.integers(1, 4)),
        st.builds(A.Compare, st.just(">"), st.integers(0, 3)),
        st.builds(A.Compare, st.just("=="), st.integers(1, 3)),
        st.just(A.Compare("!=", 0)),
        st.integers(1, 3).flatmap(lambda lo: st.builds(A.Range, st.just(lo), st.integers(lo, lo + 3))),
    )


# -------------------------------------------------------------- conditions
def conditions(
    event_types: list[str] | None = None,
    props: dict[str, str] | None = None,
    string_values: list[str] | None = None,
    user_props: dict[str, str] | None = None,
    cohort_names: list[str] | None = (),
    windows: st.SearchStrategy[A.Window] | None = None,
) -> st.SearchStrategy[A.Condition]:
    """One leaf condition of any kind the vocabulary allows."""
    win = windows if windows is not None else st_windows()
    ev = event_refs(event_types, props, string_values)
    arbitrary = props is None
    counts = _count_cmps()
    numbers = _number_cmps(arbitrary)
    numeric_prop = _props(props, NUMERIC_TYPES).map(lambda p: p[0])
    any_prop = _props(props).map(lambda p: p[0])
    percent = st.one_of(
        st.integers(1, 100).map(float),
        st.floats(min_value=0, max_value=100, exclude_min=True, allow_nan=False),
    )
    metric = st.one_of(
        st.builds(A.MetricCount, ev),
        st.builds(A.MetricSum, numeric_prop, ev),
        st.builds(A.MetricActiveDays, ev),
    )
    options = [
        st.builds(A.Did, ev, st.one_of(st.none(), counts), win),
        st.builds(A.Aggregate, st.sampled_from(("sum", "avg", "min", "max")), numeric_prop, ev, numbers, win),
        st.builds(A.Aggregate, st.just("distinct"), any_prop, ev, counts, win),
        st.builds(A.ActiveDays, ev, counts, win),
        st.builds(A.ActivePeriods, ev, durations(), counts, win),
        st.builds(
            A.Sequence,
            st.lists(ev, min_size=2, max_size=4).map(tuple),
            st.one_of(st.none(), durations()),
            win,
        ),
        st.builds(A.FirstDid, ev, win),
        st.builds(A.NthDid, ev, st.integers(1, 4), win),
        st.builds(A.CountCompare, ev, st.sampled_from(A.CMP_OPS), st.sampled_from([1, 1, 2, 3]), ev, win),
        st.builds(
            A.DidOnPeriods, ev, period_counts(), st.integers(1, 3), st.one_of(st.none(), durations()), win
        ),
        st.builds(A.DidWithinOfFirst, ev, st.one_of(st.none(), counts), durations(), ev, win),
        st.builds(A.Stopped, ev, durations()),
        st.builds(A.Restarted, ev, durations()),
        st.integers(1, 4).flatmap(
            lambda n: st.builds(A.Regularly, ev, durations(), st.integers(1, n), st.just(n))
        ),
        st.builds(A.Top, percent, metric, win),
    ]
    if user_props is None or user_props:
        options.append(st.builds(A.UserProp, _predicates(user_props, string_values)))
        options.append(st.builds(A.HadUserProp, _predicates(user_props, string_values), win))
    if cohort_names is None:
        options.append(st.builds(A.InCohort, _any_text()))
    elif cohort_names:
        options.append(st.builds(A.InCohort, st.sampled_from(list(cohort_names))))
    return st.one_of(options)


def exprs(
    event_types: list[str] | None = None,
    props: dict[str, str] | None = None,
    string_values: list[str] | None = None,
    user_props: dict[str, str] | None = None,
    cohort_names: list[str] | None = (),
    max_depth: int = 3,
    windows: st.SearchStrategy[A.Window] | None = None,
) -> st.SearchStrategy[A.Expr]:
    """Whole cohort trees: conditions combined by and/or/not, at most ``max_depth`` operators deep."""
    leaf = conditions(event_types, props, string_values, user_props, cohort_names, windows)
    if max_depth <= 0:
        return leaf
    sub = exprs(event_types, props, string_values, user_props, cohort_names, max_depth - 1, windows)
    return st.one_of(
        leaf,
        leaf,
        st.builds(A.And, sub, sub),
        st.builds(A.Or, sub, sub),
        st.builds(A.Not, sub),
    )


def account_exprs(
    group_types: list[str],
    event_types: list[str] | None = None,
    props: dict[str, str] | None = None,
    string_values: list[str] | None = None,
    user_props: dict[str, str] | None = None,
    account_props: dict[str, str] | None = None,
    max_depth: int = 2,
    windows: st.SearchStrategy[A.Window] | None = None,
) -> st.SearchStrategy[A.Accounts]:
    """``accounts(type): ...`` trees: user counts over user-level trees and account-property predicates."""
    users = exprs(event_types, props, string_values, user_props, (), 1, windows)
    inner = st.deferred(lambda: users)  # a short repr: hypothesis prints strategies it builds from
    leaf = st.one_of(
        st.builds(A.UserCount, inner, _count_cmps()),
        st.builds(A.AccountProp, _predicates(account_props, string_values)),
    )

    def combine(sub: st.SearchStrategy[A.Expr]) -> st.SearchStrategy[A.Expr]:
        return st.one_of(st.builds(A.And, sub, sub), st.builds(A.Or, sub, sub), st.builds(A.Not, sub))

    tree = st.recursive(leaf, combine, max_leaves=max(1, 2 * max_depth))
    return st.builds(A.Accounts, st.sampled_from(group_types), tree)
