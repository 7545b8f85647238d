"""benchmarks/console_bench.py --quick runs end to end and writes its JSON (no timing asserts)."""

from __future__ import annotations

from support.bench import CI_RESULTS, bench_json


def test_quick_console_bench_writes_json() -> None:
    out = CI_RESULTS / "console_bench.json"  # kept: CI keeps the short run's figures
    data = bench_json("console_bench.py", "--quick", out=out, timeout=300)
    assert data["params"] == {
        "users": 5_000, "cohorts": 4, "repeat": 2, "quick": True, "browser": False, "goal_ms": 300.0
    }  # fmt: skip
    assert data["server_exit_code"] == 0
    assert set(data["http"]) == {"catalog", "cohort", "analyses", "editor", "overlap", "schema"}
    for page in data["http"].values():
        assert (
            page["cold_ms"] > 0
            and 0 < page["warm"]["median_ms"] <= page["warm"]["max_ms"]
            and page["bytes"] > 500
        )
    assert data["within_goal_warm"] == {k: v["warm"]["median_ms"] < 300.0 for k, v in data["http"].items()}
