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
    lookup_ratio=st.sampled_from([0, 10**9]),  # the users' rows by binary search, or by lookup table
)
def test_materialised_membership_equals_full_evaluation(c0, c1, c2, plan, lookup_ratio) -> None:  # type: ignore[no-untyped-def]
    now = [START]
    saved = UserSubset.LOOKUP_RATIO
    UserSubset.LOOKUP_RATIO = lookup_ratio
    try:
        with tempfile.TemporaryDirectory() as d, Engine.open(d, clock=lambda: now[0]) as engine:
            run_plan(engine, now, {"c0": c0, "c1": c1, "c2": c2}, plan)
    finally:
        UserSubset.LOOKUP_RATIO = saved


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
