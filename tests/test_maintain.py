"""Incremental maintenance equals full re-evaluation, step after step.

Random interleavings of ingests, clock advances (an injected clock, never
sleeps) and cohort edits; after every step each materialised cohort must equal
a full evaluation at that time.  Covers every condition type the strategies
generate, including sequences, negation, percentiles and in_cohort.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

import numpy as np
import pytest
from cohortd import Engine
from cohortd.engine.maintain import Maintainer, ResyncRequired, TimeRun, _sorted_run
from cohortd.lang import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.maintenance import DAY, START, plan_cohorts, run_plan, steps

EXAMPLES = int(os.environ.get("COHORTD_EXAMPLES", "60"))  # raise for a longer search


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    c0=plan_cohorts([]),
    c1=plan_cohorts(["c0"]),
    c2=plan_cohorts(["c0", "c1"]),
    plan=st.lists(steps, max_size=12),
    lanes=st.booleans(),  # one step, or the background loop's two lanes (incremental, then full passes)
    runs=st.sampled_from(["inline", "scan", "mixed"]),  # edge times: sorted in the step, scanned, both
)
def test_materialised_membership_equals_full_evaluation(c0, c1, c2, plan, lanes, runs) -> None:  # type: ignore[no-untyped-def]
    now = [START]
    with tempfile.TemporaryDirectory() as d, Engine.open(d, clock=lambda: now[0]) as engine:
        run_plan(engine, now, {"c0": c0, "c1": c1, "c2": c2}, plan, lanes, runs)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(-(2**40), 2**40), st.integers(0, 2**32 - 1)), max_size=60),
    span=st.sampled_from([2**31, 2**32 - 1, 2**32, 2**41]),  # packed in a uint64 below 2**32, else argsort
)
def test_sorted_run_orders_rows_by_time(rows, span) -> None:  # type: ignore[no-untyped-def]
    times = np.array([t % span + 1_790_000_000_000 for t, _ in rows], np.int64)
    users = np.array([u for _, u in rows], np.uint32)
    got = _sorted_run(TimeRun(times, users, False))
    want = sorted(zip(times.tolist(), users.tolist(), strict=True))
    assert got.sorted and got.times.dtype == np.int64 and got.users.dtype == np.uint32
    pairs = list(zip(got.times.tolist(), got.users.tolist(), strict=True))
    assert sorted(pairs) == want and [t for t, _ in pairs] == [t for t, _ in want]  # the same rows, by time


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    times=st.lists(st.integers(0, 50), max_size=30),
    start=st.integers(-5, 55),
    length=st.integers(0, 60),
    sort=st.booleans(),
)
def test_time_run_answers_from_its_bounds_like_a_scan(times, start, length, sort) -> None:  # type: ignore[no-untyped-def]
    """``between``/``first_from`` decide from a run's bounds first: the same rows as a plain scan."""
    t = np.array(times, np.int64)
    users = np.arange(len(times), dtype=np.uint32)
    bounds = (int(t.min()), int(t.max())) if len(t) else ()
    run = TimeRun(t, users, False, *bounds)
    if sort:
        run = _sorted_run(run)
    end = start + length
    want = sorted(u for u, x in enumerate(times) if start <= x < end)
    assert sorted(run.between(start, end).tolist()) == want
    ahead = [x for x in times if x >= start]
    assert run.first_from(start) == (min(ahead) if ahead else None)  # exact bounds: an exact answer


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


def test_readers_see_each_commit_while_steps_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Changes and wait use the log's own lock: a reader polling during steps gets every
    change exactly once, in version order, and a version it saw is always in the log."""
    now, engine, m = _setup(tmp_path)
    start = m.membership("recent").version  # type: ignore[union-attr]
    got: list = []  # type: ignore[type-arg]
    done = threading.Event()

    def read() -> None:
        seen = start
        while not done.is_set() or m.version > seen:
            upto = m.version  # read first: the log holds every change up to it
            batch = m.changes(["recent"], seen, upto)
            assert all(c.version <= upto for c in batch)
            got.extend(batch)
            seen = upto
            m.wait(seen, 0.05)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(30):
        engine.ingest([{"user_id": f"w{i}", "event_type": "A", "time": now[0] - 1}])
        m.step()
    now[0] += DAY
    m.step()  # everyone ages out
    done.set()
    reader.join(30)
    assert not reader.is_alive()
    assert got == m.changes(["recent"], start)
    versions = [c.version for c in got]
    assert versions == sorted(set(versions)) and len(got) == 31
    assert {u for c in got for u in engine.external_ids(c.entered)} == {f"w{i}" for i in range(30)}
    assert len(got[-1].exited) == 30
    engine.close()


def test_background_loop_folds_batches_and_exits_at_the_window_edge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The started maintainer: a batch reaches the log without a reader asking, and an event
    leaves ``in last 1d`` once its edge passes, with no new event (bounded waits, wall clock)."""
    engine = Engine.open(tmp_path)
    catalog = {"recent": parse('did("A") in last 1d'), "top": parse('top 50% by count("A") in last 1d')}
    m = Maintainer(engine, catalog.get, percentile_interval_ms=50)
    for name, expr in catalog.items():
        m.track(name, expr)
    start = m.version
    m.start()
    try:
        t = engine.clock()
        edge = t - DAY + 400  # in the window until edge + 1d, out from edge + 1d + 1 ms
        engine.ingest([{"user_id": "old", "event_type": "A", "time": edge}])
        engine.ingest([{"user_id": "new", "event_type": "A", "time": t}])

        def changes(name: str) -> list:  # type: ignore[type-arg]
            return m.changes([name], start)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(c.exited for c in changes("recent")):
            m.wait(m.version, 0.1)
        entered = [u for c in changes("recent") for u in engine.external_ids(c.entered)]
        exits = [c for c in changes("recent") if c.exited]
        assert sorted(entered) == ["new", "old"]
        assert exits and engine.external_ids(exits[0].exited) == ["old"]
        assert exits[0].time_ms >= edge + DAY + 1  # never before the edge
        full = engine.evaluate(catalog["recent"], as_of=m.membership("recent").as_of_ms).bitmap  # type: ignore[union-attr]
        assert m.membership("recent").members == full  # type: ignore[union-attr]
        while time.monotonic() < deadline and not changes("top"):
            m.wait(m.version, 0.1)
        assert changes("top"), "the full-pass thread never recomputed the percentile cohort"
    finally:
        m.stop()
        engine.close()


def _step_while_a_writer_holds_the_store(engine: Engine, m: Maintainer) -> tuple[threading.Thread, list]:  # type: ignore[type-arg]
    """Hold the store's lock (as a seal does for seconds) and run a step in a thread."""
    held, release, out = threading.Event(), threading.Event(), []

    def writer() -> None:
        with engine.store.lock:
            held.set()
            release.wait(60)

    w = threading.Thread(target=writer)
    w.start()
    held.wait(30)
    stepper = threading.Thread(target=lambda: out.extend(m.step()))
    stepper.start()
    return stepper, [w, release, out]


def test_a_step_during_a_seal_uses_the_view_stored_with_the_last_batch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    now, engine, m = _setup(tmp_path)
    engine.ingest([{"user_id": "a", "event_type": "A", "time": now[0] - 1}])
    stepper, (w, release, out) = _step_while_a_writer_holds_the_store(engine, m)
    stepper.join(30)
    finished = not stepper.is_alive()
    release.set()
    w.join(30)
    stepper.join(30)
    assert finished, "the step waited for the store's writer"
    assert [engine.external_ids(c.entered) for c in out] == [["a"]]


def test_a_step_never_uses_a_view_older_than_a_deletion(tmp_path) -> None:  # type: ignore[no-untyped-def]
    now, engine, m = _setup(tmp_path)
    engine.ingest([{"user_id": "a", "event_type": "A", "time": now[0] - 1}])
    m.step()
    engine.delete_users(["a"])  # stored without publishing a view: the step must wait for a new one
    stepper, (w, release, out) = _step_while_a_writer_holds_the_store(engine, m)
    release.set()
    w.join(30)
    stepper.join(30)
    assert not stepper.is_alive()
    assert len(m.membership("recent").members) == 0  # type: ignore[union-attr]
    assert (
        m.membership("recent").members == engine.evaluate(parse('did("A") in last 1d'), as_of=now[0]).bitmap
    )  # type: ignore[union-attr]
