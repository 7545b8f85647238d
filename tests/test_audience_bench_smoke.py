"""benchmarks/audience_bench.py --quick runs end to end and writes its JSON (no timing asserts)."""

from __future__ import annotations

from support.bench import CI_RESULTS, bench_json


def test_quick_audience_bench_writes_json() -> None:
    out = CI_RESULTS / "audience_bench.json"
    data = bench_json("audience_bench.py", "--quick", "--drain", "120", out=out, timeout=600)
    assert data["params"]["quick"] is True and data["params"]["audiences"] == 20 and data["exit_code"] == 0
    assert data["first_deliveries"]["synced"] is True
    d = data["delivery_ms"]
    assert d["probes_sent"] == data["ingest"]["batches"] > 0 and d["probes_never_delivered"] == 0
    assert d["samples"] > 0 and d["min"] <= d["p50"] <= d["p99"] <= d["max"]
    rx = data["receiver"]
    assert rx["bad_signatures"] == 0 and rx["synced_at_end"] and rx["holds_exactly_the_members"]
    full = data["full_delivery"]
    assert full["synced"] and full["members"] == 5_000 + d["probes_sent"]  # did(any): the probes too
    assert full["batches"] == -(-full["members"] // data["params"]["audience_batch"])
    assert set(data["ratios"]) == {"p99_vs_1s_goal", "delivery_p99_vs_watch_p99"}
