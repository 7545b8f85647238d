"""Backtest, retention, funnels and journeys through the embedded API (``Project``) on random
data, against the plain-Python references (``analysis_reference``) and the oracle evaluator.

Times sit on an hourly grid so starts, period ends, window edges, range edges
and the as-of time often coincide with events; users who never start, periods
that have not ended at the as-of time and empty populations all occur.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cohortd.analysis.results import END
from cohortd.analysis.stats import two_proportions
from cohortd.errors import CohortError, DefinitionError, ParseError
from cohortd.lang import parse
from cohortd.lang.parser import parse_event
from cohortd.service import Workspace
from hypothesis import given, settings
from hypothesis import strategies as st
from support import analysis_reference as ref
from support.oracle import Oracle

H = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
TYPES = ("Signup", "Visit", "Buy")
USERS = [f"u{i}" for i in range(6)]


def at(hour: int) -> int:
    return T0 + hour * H


@st.composite
def datasets(draw: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    n = draw(st.integers(1, 60))
    events = [
        {
            "user_id": draw(st.sampled_from(USERS)),
            "event_type": draw(st.sampled_from(TYPES)),
            "time": at(draw(st.integers(0, 30))),
            "plan": draw(st.sampled_from(["free", "paid"])),
        }
        for _ in range(n)
    ]
    plans = {u: draw(st.sampled_from(["free", "paid", None])) for u in USERS}
    return events, {u: p for u, p in plans.items() if p is not None}


def project(
    events: list[dict[str, Any]], plans: dict[str, str], where: Path, now: int | None = None
) -> tuple[Workspace, Any]:
    ws = Workspace(where, clock=None if now is None else lambda: now)
    p = ws.project()
    p.ingest(events)
    if plans:
        p.upsert_user_properties([{"user_id": u, "plan": v} for u, v in plans.items()])
    return ws, p


EVENTS = st.sampled_from(['"Signup"', '"Visit"', '"Buy"', '"Buy" where plan == "paid"', "any"])


@settings(deadline=None, max_examples=30)
@given(
    datasets(),
    EVENTS,
    EVENTS,
    st.lists(EVENTS, min_size=1, max_size=3),
    st.integers(0, 20),
    st.integers(1, 12),
    st.integers(0, 34),
    st.integers(1, 6),
    st.integers(0, 8),
    st.booleans(),
)
def test_analyses_match_the_references(
    data: tuple, first: str, second: str, steps: list[str], lo_h: int, span_h: int, as_of_h: int,
    period_h: int, window_h: int, flag: bool,
) -> None:  # fmt: skip
    events, plans = data
    lo, hi, T = at(lo_h), at(lo_h + span_h), at(as_of_h)
    oracle = Oracle(events, {u: {"plan": v} for u, v in plans.items()})
    with tempfile.TemporaryDirectory() as where:
        ws, p = project(events, plans, Path(where))
        try:
            # ---------------------------------------------------------- retention
            population = 'did("Visit") >= 1'
            members = oracle.evaluate(parse(population), T)
            r = p.retention(first, second, lo, hi, period=f"{period_h}h", periods=4, as_of=T,
                            definition=population, unbounded=flag)  # fmt: skip
            for curve, pop in ((r.population, members), (r.baseline, None)):
                started, counts = ref.retention(events, parse_event(first), parse_event(second), lo, hi, T,
                                                period_h * H, 4, pop, unbounded=flag)  # fmt: skip
                assert curve is not None and curve.users == started
                assert [(q.users, q.retained) for q in curve.curve] == counts
            # ------------------------------------------------------------- funnel
            window = window_h * H if window_h else -1
            f = p.funnel(steps, lo, hi, window=f"{window_h}h" if window_h else None, as_of=T,
                         split_property="plan")  # fmt: skip
            refs = [parse_event(s) for s in steps]
            times = ref.funnel_times(events, refs, lo, hi, T, window)
            assert [_step(s) for s in f.steps] == ref.funnel_steps(times, len(steps))
            assert f.split is not None and f.split.by == "user.plan"
            for g in f.split.groups:
                mine = {u: t for u, t in times.items() if plans.get(u, "(none)") == g.group}
                assert mine and [_step(s) for s in g.steps] == ref.funnel_steps(mine, len(steps))
            assert sum(g.steps[0].users for g in f.split.groups) == f.steps[0].users
            # ----------------------------------------------------------- journeys
            depth = 1 + period_h % 3
            j = p.journeys(first, lo, hi, after=f"{window_h + 1}h", before=f"{period_h}h", depth=depth,
                           top=1000, keep_repeats=flag, as_of=T, returned_within=f"{span_h}h",
                           did=['"Buy"'])  # fmt: skip
            anchors, after, before = ref.journeys(events, parse_event(first), lo, hi, T, period_h * H,
                                                  (window_h + 1) * H, depth, flag)  # fmt: skip
            assert j.users == len(anchors)
            assert {tuple(q.path): q.users for q in j.after} == after
            assert {tuple(q.path): q.users for q in j.before} == before
            assert all(q.share == q.users / j.users for q in j.after)
            assert [q.users for q in j.after] == sorted((q.users for q in j.after), reverse=True)
            assert j.returned is not None
            assert j.returned.users == ref.did_within(events, anchors, parse_event(first), span_h * H, T)
            assert j.did[0].users == ref.did_within(
                events, anchors, parse_event('"Buy"'), (window_h + 1) * H, T
            )
            # ----------------------------------------------------------- backtest
            cohort, outcome = f'did("Visit") >= 1 in last {span_h}h', f'did("Buy") in last {window_h + 1}h'
            b = p.backtest(definition=cohort, outcome=outcome, horizon=f"{window_h + 1}h", as_of=T,
                           baseline="rest" if flag else "all").runs[0]  # fmt: skip
            inside = oracle.evaluate(parse(cohort), T)
            others = oracle.known(T) - inside if flag else oracle.known(T)
            converted = oracle.evaluate(parse(outcome), T + (window_h + 1) * H)
            assert (b.cohort.size, b.cohort.converted) == (len(inside), len(inside & converted))
            assert (b.baseline.size, b.baseline.converted) == (len(others), len(others & converted))
        finally:
            ws.close()


def _step(s: Any) -> dict[str, Any]:
    return {k: getattr(s, k) for k in ("users", "from_previous", "from_entry", "median_ms", "p90_ms")}


# ------------------------------------------------------------------- statistics


@settings(deadline=None, max_examples=200)
@given(st.integers(1, 10_000), st.integers(1, 10_000), st.data())
def test_two_proportion_test_against_an_independent_normal(n1: int, n2: int, data: st.DataObject) -> None:
    x1, x2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    got = two_proportions(x1, n1, x2, n2)
    p1, p2 = x1 / n1, x2 / n2
    normal = statistics.NormalDist()
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    want_p = 1.0 if se == 0 else 2 * (1 - normal.cdf(abs(p1 - p2) / se))
    assert got.p_value == pytest.approx(want_p, abs=1e-9)
    half = normal.inv_cdf(0.975) * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert got.ci95 == pytest.approx((p1 - p2 - half, p1 - p2 + half), abs=1e-12)
    assert got.difference == pytest.approx(p1 - p2)
    assert got.lift == (None if p2 == 0 else pytest.approx(p1 / p2))


def test_two_proportion_test_known_values() -> None:
    # 30/100 vs 20/100: z = 0.1 / sqrt(0.25 * 0.75 * 0.02) = 1.633, two-sided p = 0.1025
    got = two_proportions(30, 100, 20, 100)
    assert got.p_value == pytest.approx(0.10247, abs=1e-4)
    assert got.lift == pytest.approx(1.5)
    assert got.ci95 == pytest.approx((-0.0200, 0.2200), abs=1e-3)
    assert two_proportions(0, 0, 5, 10).p_value is None


# ------------------------------------------------------------- decisions, errors


@pytest.fixture
def small(tmp_path: Path) -> Any:
    events = [
        {"user_id": "a", "event_type": "Visit", "time": at(0), "plan": "free"},
        {"user_id": "a", "event_type": "Buy", "time": at(0), "plan": "free"},  # same time as the anchor
        {"user_id": "a", "event_type": "Buy", "time": at(1), "plan": "free"},
        {"user_id": "a", "event_type": "Buy", "time": at(2), "plan": "free"},
        {"user_id": "b", "event_type": "Visit", "time": at(5), "plan": "paid"},
    ]
    ws, p = project(events, {"a": "free", "b": "paid"}, tmp_path, now=at(10))
    yield p
    ws.close()


def test_journey_decisions(small: Any) -> None:
    j = small.journeys('"Visit"', at(0), at(10), after="2h", before="1h", depth=3, as_of=at(10))
    assert j.users == 2
    # the Buy at the anchor's time is neither; repeats collapse; short paths end with (end)
    assert {tuple(q.path): q.users for q in j.after} == {("Buy", END): 1, (END,): 1}
    assert {tuple(q.path): q.users for q in j.before} == {(END,): 2}
    j = small.journeys('"Visit"', at(0), at(10), after="2h", depth=3, keep_repeats=True, as_of=at(10))
    assert ("Buy", "Buy", END) in {tuple(q.path) for q in j.after}


def test_backtest_notes_user_properties_and_open_windows(small: Any) -> None:
    b = small.backtest(definition='user.plan == "free"', outcome='did("Buy") in last 1d', horizon="1d",
                       as_of=at(1))  # fmt: skip
    run = b.runs[0]
    assert any("user properties are current values" in w for w in run.warnings)
    assert any("not ended" in w for w in run.warnings)  # A + 1d is after now
    plain = small.backtest(definition='did("Visit")', outcome='did("Buy") in last 1d', horizon="1d",
                           as_of=at(1))  # fmt: skip
    assert not any("user properties" in w for w in plain.runs[0].warnings)
    assert "two-proportion z-test" in run.test
    runs = small.backtest(definition='did("Visit")', outcome='did("Buy") in last 1d', horizon="1d",
                          every="2h", start=at(0), end=at(4)).runs  # fmt: skip
    assert [r.as_of_ms for r in runs] == [at(0), at(2), at(4)]


def test_json_shapes(small: Any) -> None:
    b = small.backtest(definition='did("Visit")', outcome='did("Buy") in last 1d', horizon="1d", as_of=at(1))
    assert {"as_of", "horizon", "cohort", "baseline", "lift", "difference", "ci95", "p_value"} <= set(
        b.to_json()
    )
    assert set(b.to_json()["cohort"]) == {"size", "converted", "rate"}
    r = small.retention(
        '"Visit"', "any", at(0), at(10), period="1h", periods=3, as_of=at(10), definition="did(any)"
    )
    rj = r.to_json()
    assert {"period", "population", "baseline"} <= set(rj)
    assert set(rj["population"]) == {"users", "curve"}
    assert set(rj["population"]["curve"][0]) == {"period", "users", "retained", "rate"}
    fj = small.funnel(['"Visit"', '"Buy"'], at(0), at(10), as_of=at(10)).to_json()
    assert set(fj["steps"][0]) == {"event", "users", "from_previous", "from_entry", "median_ms", "p90_ms"}
    assert "split" in fj
    jj = small.journeys('"Visit"', at(0), at(10), as_of=at(10)).to_json()
    assert {"anchor", "users", "after", "before"} <= set(jj)
    assert set(jj["after"][0]) == {"path", "users", "share"}


def test_bad_input_is_a_clear_error(small: Any) -> None:
    with pytest.raises(ParseError):
        small.funnel(['"Visit" where'], at(0), at(10))
    with pytest.raises(ParseError):
        small.retention('"Visit"', '"Buy"', at(0), at(10), period="0d")
    with pytest.raises(DefinitionError):
        small.retention('"Visit"', '"Buy"', at(10), at(0))
    with pytest.raises(DefinitionError):
        small.journeys('"Visit"', at(0), at(10), depth=0)
    with pytest.raises(DefinitionError):
        small.funnel(['"Visit"'], at(0), at(10), split_property="nope")
    with pytest.raises(CohortError):
        small.backtest(cohort="no such cohort", outcome="did(any)", horizon="1d", as_of=at(1))
    with pytest.raises(CohortError):
        small.retention('"Visit"', '"Buy"', None, at(10))


@settings(deadline=None, max_examples=60)
@given(
    st.lists(st.lists(st.sampled_from([0, 1, 2, 2**32 - 1]), min_size=3, max_size=3), min_size=1, max_size=30)
)
def test_distinct_path_rows_packed_and_lexsorted_agree(rows: list[list[int]]) -> None:
    import numpy as np
    from cohortd.analysis.journeys import _distinct_rows

    small = np.array(rows, np.uint32)
    big = np.where(small == 2**32 - 1, small, small + 2**31).astype(np.uint32)  # too wide to pack
    for arr in (small, big):
        first, counts = _distinct_rows(arr)
        got = {tuple(arr[i].tolist()): int(c) for i, c in zip(first, counts, strict=True)}
        want: dict[tuple[int, ...], int] = {}
        for r in arr.tolist():
            want[tuple(r)] = want.get(tuple(r), 0) + 1
        assert got == want
