"""benchmarks/console_bench.py --quick runs end to end and writes its JSON (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "console_bench.py"
CI_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "ci"


def test_quick_console_bench_writes_json() -> None:
    out = CI_RESULTS / "console_bench.json"  # kept: CI keeps the short run's figures
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
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
