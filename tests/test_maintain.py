"""Incremental maintenance equals full re-evaluation, step after step.

Random interleavings of ingests, clock advances (an injected clock, never
sleeps) and cohort edits; after every step each materialised cohort must equal
a full evaluation at that time.  Covers every condition type the strategies
generate, including sequences, negation, percentiles and in_cohort.
"""

from __future__ import annotations

import os
import tempfile

import pytest
from cohortd import Engine
from cohortd.engine.evaluate import UserSubset
from cohortd.engine.maintain import Maintainer, ResyncRequired
from cohortd.lang import ast as A
from cohortd.lang import parse
from hypothesis import HealthCheck, given, settings
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
EXAMPLES = int(os.environ.get("COHORTD_EXAMPLES", "60"))  # raise for a longer search


def _windows() -> st.SearchStrategy[A.Window]:
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


def _cohort(refs: list[str]) -> st.SearchStrategy[A.Expr]:
    return exprs(TYPES, PROPS, VALUES, USER_PROPS, cohort_names=refs, max_depth=2, windows=_windows())


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
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    c0=_cohort([]),
    c1=_cohort(["c0"]),
    c2=_cohort(["c0", "c1"]),
    plan=st.lists(steps, max_size=12),
    lookup_ratio=st.sampled_from([0, 10**9]),  # the users' rows by binary search, or by lookup table
)
def test_materialised_membership_equals_full_evaluation(c0, c1, c2, plan, lookup_ratio) -> None:  # type: ignore[no-untyped-def]
    now = [START]
    saved = UserSubset.LOOKUP_RATIO
    UserSubset.LOOKUP_RATIO = lookup_ratio
    try:
        with tempfile.TemporaryDirectory() as d, Engine.open(d, clock=lambda: now[0]) as engine:
            _run_plan(engine, now, {"c0": c0, "c1": c1, "c2": c2}, plan)
    finally:
        UserSubset.LOOKUP_RATIO = saved


def _run_plan(engine: Engine, now: list[int], catalog: dict[str, A.Expr], plan: list) -> None:  # type: ignore[type-arg]
    m = Maintainer(engine, catalog.get, percentile_interval_ms=0)
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
        else:
            name, data = arg
            catalog[name] = data.draw(_cohort(NAMES[: NAMES.index(name)]))
            m.track(name, catalog[name])
        m.step()
        for name in NAMES:
            full = engine.evaluate(catalog[name], as_of=now[0], resolve=catalog.get).bitmap
            got = m.membership(name)
            assert got is not None
            assert got.members == full, (name, catalog[name])
            assert got.as_of_ms == now[0]


def _setup(tmp_path, limit: int = 1_000_000):  # type: ignore[no-untyped-def]
    now = [START]
    engine = Engine.open(tmp_path, clock=lambda: now[0])
    catalog = {"recent": parse('did("A") in last 1d')}
    m = Maintainer(engine, catalog.get, log_limit=limit)
    m.track("recent", catalog["recent"])
    return now, engine, m


def test_changes_resume_from_a_version_lose_nothing_and_repeat_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    now, engine, m = _setup(tmp_path)
    start = m.membership("recent").version  # type: ignore[union-attr]
    engine.ingest([{"user_id": "a", "event_type": "A", "time": now[0] - 1}])
    first = m.step()
    engine.ingest([{"user_id": "b", "event_type": "A", "time": now[0] - 1}])
    m.step()
    now[0] += DAY  # both age out
    m.step()
    seen = m.changes(["recent"], start)
    assert [
        (sorted(engine.external_ids(c.entered)), sorted(engine.external_ids(c.exited))) for c in seen
    ] == [
        (["a"], []),
        (["b"], []),
        ([], ["a", "b"]),
    ]
    # A client that got only the first change set resumes from its version.
    resumed = m.changes(["recent"], first[0].version)
    assert resumed == seen[1:]
    assert m.changes(["recent"], seen[-1].version) == []
    engine.close()


def test_time_driven_exit_is_scheduled_at_the_window_edge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    now, engine, m = _setup(tmp_path)
    t = now[0] - 10
    engine.ingest([{"user_id": "a", "event_type": "A", "time": t}])
    m.step()
    # In [T-1d, T) while T <= t + 1d; out from t + 1d + 1 ms: that is the next deadline.
    assert m.next_deadline() == t + DAY + 1
    now[0] = t + DAY
    m.step()
    assert engine.external_ids(m.membership("recent").members) == ["a"]  # type: ignore[union-attr]
    now[0] = t + DAY + 1
    m.step()
    assert len(m.membership("recent").members) == 0  # type: ignore[union-attr]
    engine.close()


def test_a_trimmed_log_asks_for_resync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    now, engine, m = _setup(tmp_path, limit=2)
    start = m.membership("recent").version  # type: ignore[union-attr]
    for i in range(4):
        engine.ingest([{"user_id": f"u{i}", "event_type": "A", "time": now[0] - 1}])
        m.step()
    with pytest.raises(ResyncRequired):
        m.changes(["recent"], start)
    latest = m.membership("recent").version  # type: ignore[union-attr]
    assert m.changes(["recent"], latest) == []
    engine.close()
