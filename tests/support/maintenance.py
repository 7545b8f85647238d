"""Maintenance plans: random ingests, clock advances and cohort edits, checked step by step.

``run_plan`` tracks cohorts ``c0``..``c2`` in a Maintainer and, after every
step, compares each materialised cohort with a full evaluation at that time.
Shared by ``test_maintain`` and the tests of each language construct.
"""

from __future__ import annotations

import tempfile

from cohortd import Engine
from cohortd.engine.maintain import Maintainer
from cohortd.lang import ast as A
from hypothesis import strategies as st

from support.strategies import exprs

HOUR = 3_600_000
DAY = 24 * HOUR
START = 1_780_000_000_000
TYPES = ["A", "B", "C"]
PROPS = {"area": "string", "n": "int"}
USER_PROPS = {"plan": "string"}
VALUES = ["x", "y"]
NAMES = ["c0", "c1", "c2"]


def plan_windows() -> st.SearchStrategy[A.Window]:
    hours = st.builds(A.Duration, st.integers(1, 96), st.just("h"))
    days = st.builds(A.Duration, st.integers(1, 5), st.just("d"))
    dur = st.one_of(hours, days)
    ago = (
        st.tuples(dur, dur)
        .filter(lambda p: p[0].ms != p[1].ms)
        .map(lambda p: A.Ago(*sorted(p, key=lambda d: d.ms, reverse=True)))
    )
    return st.one_of(
        st.just(A.Ever()), st.builds(A.Last, dur), ago, st.builds(A.Since, st.just(START - 2 * DAY))
    )


def plan_cohorts(refs: list[str]) -> st.SearchStrategy[A.Expr]:
    return exprs(TYPES, PROPS, VALUES, USER_PROPS, cohort_names=refs, max_depth=2, windows=plan_windows())


events = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from([f"u{i}" for i in range(6)]),
        "event_type": st.sampled_from(TYPES),
        "dt": st.integers(-5 * DAY, HOUR),  # relative to the clock: past, now, slightly future
        "area": st.sampled_from([None, *VALUES]),
        "n": st.integers(0, 3),
    }
)
steps = st.one_of(
    st.tuples(st.just("ingest"), st.lists(events, min_size=1, max_size=6)),
    st.tuples(
        st.just("plan"), st.tuples(st.sampled_from([f"u{i}" for i in range(6)]), st.sampled_from(VALUES))
    ),
    st.tuples(st.just("advance"), st.sampled_from([0, 1, HOUR - 1, HOUR, DAY, 3 * DAY + 7])),
    st.tuples(st.just("edit"), st.tuples(st.sampled_from(NAMES), st.data())),
    st.tuples(st.just("seal"), st.none()),  # sealed segments' edge times are sorted, the tail's scanned
)


def run_plan(  # type: ignore[no-untyped-def]
    engine: Engine, now: list[int], catalog: dict[str, A.Expr], plan: list, lanes=False, runs="inline"
) -> None:
    """Apply ``plan``; after every step each cohort equals a full evaluation.

    ``lanes``: the background loop's two lanes (``step(full=False)``, then ``refresh_full``)
    instead of one step; ``runs``: edge times sorted in the step ("inline"), scanned as after
    ``start()`` ("scan"), or those of sealed segments sorted after every step as the full-pass thread
    does ("mixed").
    """
    m = Maintainer(engine, catalog.get, percentile_interval_ms=0)
    m._sort_inline = runs == "inline"
    for name in NAMES:
        m.track(name, catalog[name])
    for kind, arg in plan:
        if kind == "ingest":
            rows = [
                {
                    "user_id": e["user_id"],
                    "event_type": e["event_type"],
                    "time": now[0] + e["dt"],
                    "area": e["area"],
                    "n": e["n"],
                }
                for e in arg
            ]
            engine.ingest(rows)
        elif kind == "plan":
            engine.upsert_user_properties([{"user_id": arg[0], "plan": arg[1]}])
        elif kind == "advance":
            now[0] += arg
        elif kind == "seal":
            engine.seal()
        else:
            name, data = arg
            catalog[name] = data.draw(plan_cohorts(NAMES[: NAMES.index(name)]))
            m.track(name, catalog[name])
        before = m.as_of
        if lanes:
            m.step(full=False)  # percentile cohorts untouched here ...
            m.refresh_full()  # ... and brought to the same time by their own pass
        else:
            m.step()
        if runs == "mixed":
            m.sort_new_runs()  # the next step mixes sorted and scanned runs
        for name in NAMES:
            full = engine.evaluate(catalog[name], as_of=now[0], resolve=catalog.get).bitmap
            got = m.membership(name)
            assert got is not None
            assert got.members == full, (name, catalog[name])
            assert got.as_of_ms == now[0]
        midnight = now[0] // DAY * DAY
        if before < midnight <= now[0]:  # the step stopped at midnight: sizes there, exact
            sizes = m.day_sizes(midnight)
            for name, (expr, size) in sizes.items():
                assert expr == catalog[name]
                at_midnight = engine.evaluate(catalog[name], as_of=midnight, resolve=catalog.get).bitmap
                assert size == len(at_midnight), (name, catalog[name], midnight)
            assert set(sizes) == {n for n in NAMES if not m.cohorts[n].full_only}


def run_plan_on_a_fresh_engine(catalog: dict[str, A.Expr], plan: list) -> None:  # type: ignore[type-arg]
    """``run_plan`` on a new engine in a temporary directory, its clock starting at ``START``."""
    now = [START]
    with tempfile.TemporaryDirectory() as d, Engine.open(d, clock=lambda: now[0]) as engine:
        run_plan(engine, now, catalog, plan)


def cohorts_over(leaf: st.SearchStrategy[A.Expr], refs: list[str]) -> st.SearchStrategy[A.Expr]:
    """Small trees over ``leaf``: itself, negated, two anded, or with a reference to one of ``refs``."""
    names = st.sampled_from(refs).map(A.InCohort) if refs else leaf
    return st.one_of(leaf, st.builds(A.Not, leaf), st.builds(A.And, leaf, leaf), st.builds(A.Or, leaf, names))
