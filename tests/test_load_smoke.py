"""benchmarks/load_bench.py --quick runs end to end and writes its JSON (no timing asserts)."""

from __future__ import annotations

from support.bench import CI_RESULTS, bench_json


def test_quick_load_bench_writes_json() -> None:
    out = CI_RESULTS / "load_bench.json"  # kept: CI keeps the short run's figures
    data = bench_json("load_bench.py", "--quick", "--concurrency", "1,4", out=out, timeout=300)
    assert data["params"]["quick"] is True and data["params"]["users"] == 5_000
    for label in ("cohortd", "echo_sync", "echo_aio"):
        run = data[label]
        assert run["exit_code"] == 0  # every server stopped cleanly on SIGTERM
        assert [p["concurrency"] for p in run["is_member"]] == [1, 4]
        assert all(p["calls"] > 0 and p["p50_ms"] <= p["p99_ms"] for p in run["is_member"])
        assert run["check_membership"]["calls"] > 0
    # ratios are computed from the measured points
    qps = data["cohortd"]["is_member"][0]["qps"] / data["echo_sync"]["is_member"][0]["qps"]
    assert abs(data["ratios"]["is_member_qps_vs_echo"]["1"] - qps) < 1e-9
    assert set(data["goals"]) == {
        "single_check_within_10pct_of_ceiling", "p99_under_1ms_at_c8", "batched_2M_checks_per_s"
    }  # fmt: skip
