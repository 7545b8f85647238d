"""benchmarks/audience_bench.py --quick runs end to end and writes its JSON (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "audience_bench.py"
CI_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "ci"


def test_quick_audience_bench_writes_json() -> None:
    out = CI_RESULTS / "audience_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--drain", "120", "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
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
