"""benchmarks/language_bench.py at a tiny size: every SQL spelling agrees with cohortd, JSON written."""

from __future__ import annotations

from pathlib import Path

from support.bench import bench_json


def test_tiny_language_bench_agrees_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "language_bench.json"
    tiny = [*"--users 1500 --events 30000 --repeat 1 --quiet".split(), "--data-dir", str(tmp_path / "data")]
    data = bench_json("language_bench.py", *tiny, out=out, timeout=600)
    assert data["agree"] is True
    nth = data["constructs"]["nth_did"]
    assert nth["members"] > 0 and set(nth["median_ms"]) == {"cohortd", "duckdb", "chdb"}
    assert data["constructs"]["relative_count"]["members"] > 0
    for name in (
        "count_on_days",
        "count_on_periods",
        "within_of_first",
        "stopped",
        "restarted",
        "regularly",
        "user_prop_as_of",
        "had_user_prop",
        "calendar_this_month",
        "calendar_active_days",
    ):
        assert data["constructs"][name]["members"] > 0, name
