"""The engine against the plain-Python oracle: cramped random data and the check of one tree.

Shared by ``test_engine_oracle`` and the tests of each language construct
(``test_lang_*``, ``test_calendar``, ``test_user_history``): the scenarios
(2-8 users, a handful of instants on an hour grid around ``T0``, batches,
upserts and seals), the vocabularies and window strategies fitted to them,
``build`` (engine plus matching oracle) and ``check`` (both kernels, narrowed,
sparse and dense paths, equal to the oracle).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from typing import Any

from cohortd import Engine
from cohortd.engine.evaluate import Evaluation
from cohortd.lang import ast as A
from cohortd.lang import to_text
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from support.oracle import Oracle, current_user_properties
from support.strategies import exprs

H = 3_600_000
DAY = 86_400_000
T0 = int(dt.datetime(2026, 3, 10, 13, 0, tzinfo=dt.UTC).timestamp() * 1000)
CLOCK = T0 + 2 * DAY  # every generated event is well within a day of it
KERNELS = ("rust", "numba")

EVENT_TYPES = ["signup", "view", "buy", "cancel"]
UNKNOWN_TYPE = "ghost"  # in the expression vocabulary, never in the data
PROPS = {
    "s1": "string",
    "s2": "string",
    "i1": "int",
    "i2": "int",
    "f1": "float",
    "f2": "float",
    "b1": "bool",
    "b2": "bool",
    "nope": "int",  # in the vocabulary, never in the data
}
STRING_VALUES = ["free", "pro", "pro team", ""]
USER_PROPS = {"plan": "string", "projects": "int", "score": "float", "beta": "bool", "absent": "string"}
COHORTS = ["c1", "c2"]

SETTINGS = settings(
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ------------------------------------------------------------------ values
def quarter(lo: int, hi: int) -> st.SearchStrategy[float]:
    q = st.integers(lo * 4, hi * 4).map(lambda q: q / 4)
    return st.one_of(q, q, q, st.just(-0.0))


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.sampled_from([*STRING_VALUES, "enterprise"]),
    "int": st.integers(-2, 6),
    "float": quarter(-3, 5),
    "bool": st.booleans(),
}


def prop_dicts(schema: dict[str, str], skip: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with any subset of the properties; absent keys and ``None`` values are missing."""

    def value(kind: str) -> st.SearchStrategy[Any]:
        return st.one_of(VALUES[kind], VALUES[kind], VALUES[kind], st.none())

    return st.fixed_dictionaries({}, optional={p: value(k) for p, k in schema.items() if p not in skip})


# ----------------------------------------------------------- times, windows
# Hours (relative to T0 = 13:00 UTC) where things happen: around midnights
# (-14/-13, -38/-37), around one and two days back, and a few after T0.
HOURS = (-73, -72, -61, -48, -38, -37, -25, -24, -23, -14, -13, -12, -7, -6, -2, -1, 0, 1, 2, 6)
# Window, period and ``within`` lengths in hours: the differences of HOURS, mostly.
SPANS = (1, 2, 5, 6, 7, 11, 12, 13, 23, 24, 25, 48, 72)


def grid_times() -> st.SearchStrategy[int]:
    """Instants at HOURS around T0, sometimes 1 ms either side."""
    return st.builds(
        lambda k, j: T0 + k * H + j,
        st.sampled_from(HOURS),
        st.sampled_from([0, 0, 0, -1, 1]),
    )


def as_duration(ms: int) -> A.Duration:
    """``ms`` in the largest unit that divides it."""
    for unit in ("w", "d", "h", "m", "s"):
        if ms % A.MS_PER_UNIT[unit] == 0:
            return A.Duration(ms // A.MS_PER_UNIT[unit], unit)
    return A.Duration(ms, "ms")


def durations(pool: tuple[int, ...] = (), pairwise: bool = False) -> st.SearchStrategy[A.Duration]:
    """Lengths that matter for the data (+-1 ms), or generic ones.

    Window lengths reach from T0 back to the data's instants; ``pairwise``
    (periods, ``within``) are the gaps between the data's instants.
    """
    generic = st.one_of(
        st.builds(A.Duration, st.sampled_from(SPANS), st.just("h")),
        st.builds(A.Duration, st.integers(1, 3), st.just("d")),
        st.builds(A.Duration, st.sampled_from(SPANS).map(lambda h: 60 * h), st.just("m")),
        st.builds(A.Duration, st.integers(1, 2), st.just("ms")),
        st.just(A.Duration(1, "w")),
    )
    if pairwise:
        gaps = sorted({b - a for a in pool for b in pool if b > a})
    else:
        gaps = sorted({T0 - t for t in pool if t < T0})
    if not gaps:
        return generic
    exact = (
        st.sampled_from(gaps)
        .flatmap(lambda ms: st.sampled_from([ms, ms, ms + 1, max(1, ms - 1)]))
        .map(as_duration)
    )
    return st.one_of(exact, exact, generic)


def instants(pool: tuple[int, ...] = ()) -> st.SearchStrategy[int]:
    """The data's own instants (+-1 ms) or any grid instant."""
    if not pool:
        return grid_times()
    near = st.builds(lambda t, j: t + j, st.sampled_from(pool), st.sampled_from([0, 0, -1, 1]))
    return st.one_of(near, near, grid_times())


def windows(pool: tuple[int, ...] = ()) -> st.SearchStrategy[A.Window]:
    def ago(pair: tuple[A.Duration, A.Duration]) -> A.Ago:
        a, b = sorted(pair, key=lambda d: d.ms, reverse=True)
        return A.Ago(a, b)

    return st.one_of(
        st.just(A.Ever()),
        st.builds(A.Last, durations(pool)),
        st.tuples(durations(pool), durations(pool)).filter(lambda p: p[0].ms != p[1].ms).map(ago),
        st.tuples(instants(pool), instants(pool))
        .filter(lambda p: p[0] != p[1])
        .map(lambda p: A.Dates(min(p), max(p))),
        st.builds(A.Since, instants(pool)),
    )


def adapt(expr: A.Expr, draw: Any, pool: tuple[int, ...] = ()) -> A.Expr:
    """Fit a generated tree to the cramped data, so that conditions select someone.

    ``within`` and ``active_periods`` durations are redrawn from ``durations(pool)``;
    count thresholds (0..20 in the strategy) are taken modulo 5; half of the
    event filters are dropped.  Everything else is the strategy's own tree.
    """
    if isinstance(expr, (A.And, A.Or)):
        left, right = adapt(expr.left, draw, pool), adapt(expr.right, draw, pool)
        return dataclasses.replace(expr, left=left, right=right)
    if isinstance(expr, A.Not):
        return A.Not(adapt(expr.item, draw, pool))
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(expr):
        value = getattr(expr, f.name)
        if isinstance(value, A.EventRef):
            changes[f.name] = _event(value, draw)
        elif isinstance(value, tuple) and value and isinstance(value[0], A.EventRef):
            changes[f.name] = tuple(_event(v, draw) for v in value)
        elif isinstance(value, (A.MetricCount, A.MetricSum, A.MetricActiveDays)):
            changes[f.name] = dataclasses.replace(value, event=_event(value.event, draw))
    if isinstance(expr, A.ActivePeriods):
        changes["period"] = draw(durations(pool, pairwise=True))
    if isinstance(expr, A.Sequence | A.DidWithinOfFirst) and expr.within is not None:
        changes["within"] = draw(durations(pool, pairwise=True))
    if isinstance(expr, A.DidOnPeriods | A.Stopped | A.Restarted | A.Regularly) and expr.period is not None:
        changes["period"] = draw(durations(pool, pairwise=True))
    is_count = isinstance(expr, (A.Did, A.ActiveDays, A.ActivePeriods, A.DidWithinOfFirst)) or (
        isinstance(expr, A.Aggregate) and expr.func == "distinct"
    )
    if is_count and isinstance(expr.cmp, A.Compare):
        changes["cmp"] = A.Compare(expr.cmp.op, expr.cmp.value % 5)
    elif is_count and isinstance(expr.cmp, A.Range):
        lo, hi = sorted((expr.cmp.lo % 5, expr.cmp.hi % 5))
        changes["cmp"] = A.Range(lo, hi)
    return dataclasses.replace(expr, **changes) if changes else expr


def _event(ref: A.EventRef, draw: Any) -> A.EventRef:
    if ref.filter is not None and draw(st.booleans()):
        return A.EventRef(ref.event_type, None)
    return ref


# A lean vocabulary: fewer and simpler filters, so that thresholds and window
# edges decide more often than filters do.
LEAN_PROPS = {"i1": "int", "s1": "string"}
LEAN_USER_PROPS = {"plan": "string"}


# And a bare one: no filters, no aggregates, no user properties, two event types:
# only counting, days, periods, sequences, first-ever and percentiles.
VOCABULARIES: dict[str, tuple[list[str], dict[str, str], dict[str, str]]] = {
    "full": ([*EVENT_TYPES, UNKNOWN_TYPE], PROPS, USER_PROPS),
    "lean": (EVENT_TYPES, LEAN_PROPS, LEAN_USER_PROPS),
    "bare": (EVENT_TYPES[:2], {}, {}),
}


def cohort_exprs(
    cohort_names: list[str], max_depth: int, pool: tuple[int, ...] = (), vocabulary: str = "full"
) -> st.SearchStrategy[A.Expr]:
    event_types, props, user_props = VOCABULARIES[vocabulary]
    return exprs(
        event_types=event_types,
        props=props,
        string_values=STRING_VALUES,
        user_props=user_props,
        cohort_names=cohort_names,
        max_depth=max_depth,
        windows=windows(pool),
    )


# -------------------------------------------------------------------- data
@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    """Events split into batches, user-property upserts and seals, in write order."""
    n_users = draw(st.sampled_from([2, 2, 3, 3, 4, 5, 6, 8]))
    users = [f"u{i}" for i in range(n_users)]
    types = draw(st.lists(st.sampled_from(EVENT_TYPES), min_size=2, max_size=4, unique=True))
    if draw(st.booleans()):
        types = sorted({*types, *EVENT_TYPES[:2]})  # what the bare vocabulary talks about
    pool = draw(st.lists(grid_times(), min_size=2, max_size=7, unique=True))
    event_props = {p: k for p, k in PROPS.items() if p != "nope"}
    events = draw(
        st.lists(
            st.builds(
                lambda u, e, t, props: {"user_id": u, "event_type": e, "time": t, **props},
                st.sampled_from(users),
                st.sampled_from(types),
                st.sampled_from(pool),
                prop_dicts(event_props),
            ),
            min_size=10,
            max_size=40,
        )
    )
    for e in events:  # some events carry user properties
        if draw(st.integers(0, 4)) == 0:
            up = draw(prop_dicts(USER_PROPS, skip=("absent",)))
            if up:
                e["user_properties"] = up
    # ops: ingest batches (cut points), upserts and seals interleaved
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(events) - 1)), max_size=3))))
    bounds = [0, *cuts, len(events)]
    batches = [events[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    upsert_users = [*users, "p0", "p1"]  # p0/p1 never have events
    ops: list[tuple[str, Any]] = []
    for batch in batches:
        ops.append(("ingest", batch))
        if draw(st.booleans()):
            rows = draw(
                st.lists(
                    st.builds(
                        lambda u, t, props: {"user_id": u, **t, **props},
                        st.sampled_from(upsert_users),
                        st.one_of(st.just({}), grid_times().map(lambda t: {"time": t})),
                        prop_dicts(USER_PROPS, skip=("absent",)).filter(lambda p: any(p.values())),
                    ),
                    min_size=1,
                    max_size=3,
                )
            )
            ops.append(("upsert", rows))
        if draw(st.booleans()):
            ops.append(("seal", None))
    return {"ops": ops, "pool": tuple(sorted(pool))}


def build(scenario: dict[str, Any], path: str) -> tuple[Engine, Oracle]:
    """Apply the scenario to a fresh engine and build the matching oracle."""
    eng = Engine.open(path, clock=lambda: CLOCK)
    try:
        return eng, _apply(eng, scenario)
    except BaseException:
        eng.close()
        raise


def _apply(eng: Engine, scenario: dict[str, Any]) -> Oracle:
    events: list[dict[str, Any]] = []
    updates: list[tuple[str, int, dict[str, Any]]] = []
    history: list[tuple[str, int, dict[str, Any], bool]] = []  # dated: time given (time-travelled)
    for op, payload in scenario["ops"]:
        if op == "ingest":
            rep = eng.ingest(payload)
            assert rep.rejected == [] and rep.accepted == len(payload)
            for e in payload:
                events.append({k: v for k, v in e.items() if k != "user_properties"})
                if "user_properties" in e:
                    updates.append((e["user_id"], e["time"], e["user_properties"]))
                    history.append((e["user_id"], e["time"], e["user_properties"], True))
        elif op == "upsert":
            rep = eng.upsert_user_properties(payload)
            assert rep.rejected == []
            for r in payload:
                props = {k: v for k, v in r.items() if k not in ("user_id", "time")}
                updates.append((r["user_id"], r.get("time", CLOCK), props))
                history.append((r["user_id"], r.get("time", CLOCK), props, "time" in r))
        else:
            eng.seal()
    return Oracle(events, current_user_properties(updates), history=history)


def check(
    eng: Engine,
    oracle: Oracle,
    expr: A.Expr,
    as_ofs: list[int],
    resolve: Any = None,
) -> None:
    for T in as_ofs:
        want = oracle.members(expr, T, resolve)
        for kernel in KERNELS:
            got = eng.evaluate(expr, as_of=T, kernel=kernel, resolve=resolve).members()
            assert got == want, (kernel, T - T0, to_text(expr))
        # ``a and b`` evaluating b only for a's members: forced on, whatever a's size
        saved = Evaluation.NARROW_RATIO
        Evaluation.NARROW_RATIO = 0
        try:
            got = eng.evaluate(expr, as_of=T, resolve=resolve).members()
        finally:
            Evaluation.NARROW_RATIO = saved
        assert got == want, ("narrowed and", T - T0, to_text(expr))
        # did(E) from the index's user bitmaps of the ranges inside the window: off (scans only)
        Evaluation.RANGE_USERS = False
        try:
            got = eng.evaluate(expr, as_of=T, resolve=resolve).members()
        finally:
            Evaluation.RANGE_USERS = True
        assert got == want, ("scanned did", T - T0, to_text(expr))
        # sparse kernels (sorted ids of the users with rows) forced on, then forced off
        saved = Evaluation.SPARSE_RATIO
        try:
            for ratio, path in ((0, "sparse"), (1 << 62, "dense")):
                Evaluation.SPARSE_RATIO = ratio
                for kernel in KERNELS:
                    got = eng.evaluate(expr, as_of=T, kernel=kernel, resolve=resolve).members()
                    assert got == want, (path, kernel, T - T0, to_text(expr))
        finally:
            Evaluation.SPARSE_RATIO = saved
        # sparse conditions from gathered parts instead of the kept part lists (``part_list``)
        saved = Evaluation.SPARSE_RATIO
        Evaluation.SPARSE_RATIO, Evaluation.PART_LISTS = 0, False
        try:
            got = eng.evaluate(expr, as_of=T, resolve=resolve).members()
        finally:
            Evaluation.SPARSE_RATIO, Evaluation.PART_LISTS = saved, True
        assert got == want, ("gathered parts", T - T0, to_text(expr))


as_of_shifts = st.sampled_from([0, 0, -1, 1, -H, H, H // 2, -DAY, -13 * H])


def check_before_and_after_seal(
    scenario: dict[str, Any],
    exprs: list[A.Expr],
    before: list[int],
    after: list[int],
    zone: str | None = None,
) -> None:
    """Each of ``exprs`` equal to the oracle at the instants ``before`` a final seal and ``after`` it
    (in the project time zone ``zone`` when one is given)."""
    with tempfile.TemporaryDirectory() as d:
        eng, oracle = build(scenario, d)
        try:
            if zone is not None:
                eng.set_time_zone(zone)
                oracle.zone = zone
            for e in exprs:
                check(eng, oracle, e, before)
            eng.seal()
            for e in exprs:
                check(eng, oracle, e, after)
        finally:
            eng.close()


def check_alone_and_combined(scenario: dict[str, Any], new: list[A.Expr], other: A.Expr, shift: int) -> None:
    """``new`` conditions alone, negated and combined with ``other``, equal to the oracle at ``T0``
    and ``T0 + shift``, before and after a final seal."""
    combined = [*new, A.Not(new[0]), A.And(new[0], other), A.Or(other, A.Not(new[-1]))]
    check_before_and_after_seal(scenario, combined, [T0, T0 + shift], [T0 + shift])
