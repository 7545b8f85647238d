"""benchmarks/freshness_bench.py --quick runs end to end and writes its JSON (no timing asserts)."""

from __future__ import annotations

from support.bench import CI_RESULTS, bench_json


def test_quick_freshness_bench_writes_json() -> None:
    out = CI_RESULTS / "freshness_bench.json"  # kept: CI keeps the short run's figures
    data = bench_json("freshness_bench.py", "--quick", "--drain", "120", out=out, timeout=600)
    assert data["params"]["quick"] is True and data["params"]["users"] == 5_000
    assert data["params"]["cohorts"] == 20 and data["exit_code"] == 0
    ingest, fresh = data["ingest"], data["freshness_ms"]
    assert ingest["errors"] == [] and ingest["measured_events"] > 0 and ingest["events_per_s"] > 0
    # every batch's probe user reached the Watch subscriber and is a member at the end
    assert fresh["probes_sent"] == ingest["batches"] > 0
    assert fresh["probes_never_seen"] == 0
    members, sample = fresh["probes_members_at_end"].split("/")
    assert members == sample
    assert fresh["samples"] > 0 and fresh["min"] <= fresh["p50"] <= fresh["p99"] <= fresh["max"]
    assert data["watch"]["error"] is None and data["watch"]["messages"] > 0
    assert len(data["sizes"]["before"]) == len(data["sizes"]["after"]) == 20
    assert set(data["goals"]) == {"p99_under_1s", "p99_under_100ms", "ingest_100k_events_per_s"}
    # every cohort the probes entered told the subscriber; every window edge crossed in the
    # measured seconds reached it as an exit, never before the edge (latency >= 0)
    every, exits = data["freshness_all_ms"], data["exit_ms"]
    assert every["samples"] == fresh["samples"] and every["p50"] >= fresh["p50"]
    assert exits["edges_in_window"] > 0 and exits["exits_never_seen"] == 0
    assert exits["samples"] == exits["edges_in_window"] and exits["min"] >= 0
    assert set(data["goals_every_cohort_and_exits"]) == {
        "p99_all_cohorts_under_100ms",
        "exit_p99_under_100ms",
    }
