"""Analyses against DuckDB and chDB on generated data: funnels against ``windowFunnel(W,
'strict_increase')``, retention against ClickHouse's ``retention()``, backtests and
journeys against plain SQL, for several windows, periods and step lists.

The engines and SQL are those of ``benchmarks/analysis_bench.py`` (one definition of
each peer query); here they run at a small size with varied parameters.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import analysis_bench as bench  # noqa: E402

DAY, HOUR, MIN = bench.DAY, 3_600_000, bench.MIN
T = 1_767_225_600_000  # 2026-01-01, the generator's end


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from cohortd.synth import generate, users_path_for

    root = tmp_path_factory.mktemp("peers")
    events = root / "events.parquet"
    generate(1500, 120, 11, events, end_ms=T, progress=False, target_events=80_000)
    spec = bench.Spec(T)
    types = bench.dense_layout(events, root / "dense.parquet")
    out = {
        "cohortd": bench.Cohortd(events, users_path_for(events), root, spec),
        "numba": bench.Cohortd(events, users_path_for(events), root / "numba", spec, kernel="numba"),
        "duckdb": bench.SQL("duckdb", root / "dense.parquet", types, root, spec),
        "chdb": bench.SQL("chdb", root / "dense.parquet", types, root, spec),
    }
    yield out
    for e in out.values():
        e.close()


def answers(engines: dict[str, Any], method: str, **kwargs: Any) -> dict[str, Any]:
    return {name: getattr(e, method)(**kwargs) for name, e in engines.items()}


def agree(got: dict[str, Any]) -> None:
    want = got["cohortd"]
    for name, value in got.items():
        assert value == want, name


def _set(engines: dict[str, Any], part: str, **values: Any) -> None:
    for e in engines.values():
        getattr(e.spec, part).update(values)


FUNNELS = [
    (["Signup Submitted", "Onboarding Started", "First Feature Used", "Subscription Started"], 7 * DAY),
    (["Signup Submitted", "Onboarding Started", "Onboarding Completed"], 10 * MIN),
    (["Session Start", "Feature Used", "Session End"], HOUR),
    (["paywall_modal_viewed", "Subscription Started"], 30 * DAY),
]


@pytest.mark.parametrize("steps,window", FUNNELS)
def test_funnel_matches_window_funnel_and_asof_joins(
    engines: dict[str, Any], steps: list[str], window: int
) -> None:
    _set(engines, "funnel", steps=steps, window=window, lo=T - 100 * DAY, hi=T - 20 * DAY)
    got = answers(engines, "funnel")
    agree(got)
    assert got["cohortd"]["users"][0] > 0


@pytest.mark.parametrize("start,back,period", [("Signup Submitted", "Session Start", 7 * DAY),
                                                ("Signup Submitted", "Feature Used", DAY),
                                                ("Session Start", "Purchase", 3 * DAY)])  # fmt: skip
def test_retention_matches_clickhouse_retention(
    engines: dict[str, Any], start: str, back: str, period: int
) -> None:
    # the range ends close to T, so late starters leave the denominator of later periods
    _set(engines, "retention", start=start, back=back, period=period, lo=T - 60 * DAY, hi=T - 5 * DAY)
    got = answers(engines, "retention")
    agree(got)
    users = got["cohortd"]["users"]
    assert users[0] > users[-1] > 0  # unfinished periods really were excluded


def test_backtest_matches_sql(engines: dict[str, Any]) -> None:
    for A in (T - 60 * DAY, T - 20 * DAY):
        _set(engines, "backtest", A=A, at_least=1)
        got = answers(engines, "backtest")
        agree(got)
        assert got["cohortd"]["cohort"][0] > 0


@pytest.mark.parametrize("anchor,window,depth", [("paywall_modal_viewed", 30 * MIN, 3),
                                                 ("Feature Used", 5 * MIN, 2)])  # fmt: skip
def test_journeys_match_sql(engines: dict[str, Any], anchor: str, window: int, depth: int) -> None:
    _set(engines, "journeys", anchor=anchor, after=window, before=window, depth=depth)
    got = {name: e.journeys(top=10**9) for name, e in engines.items()}
    agree(got)
    assert got["cohortd"]["users"] > 0
