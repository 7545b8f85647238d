"""benchmarks/hostile_bench.py --quick runs end to end and writes its JSON (no timing asserts)."""

from __future__ import annotations

from pathlib import Path

from support.bench import bench_json


def test_quick_hostile_bench_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "hostile_bench.json"
    data = bench_json("hostile_bench.py", "--quick", out=out, timeout=300)
    assert data["params"]["quick"] is True and data["exit_code"] == 0
    for phase in ("idle", "watchers", "watchers_and_slow"):
        run = data[phase]
        assert run["answered"] + run["missed_deadline"] == run["calls"] == 20
        assert run["answered"] == 0 or run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
        assert run["threads"] > 0
    watchers = data["watchers"]
    assert abs(data["ratios"]["watchers"]["p50_ms"] - watchers["p50_ms"] / data["idle"]["p50_ms"]) < 1e-9
