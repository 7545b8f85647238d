"""benchmarks/know_your_data_bench.py at a tiny size: cohortd, DuckDB and chDB give the same answers.

Correctness only: timings are written but never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "know_your_data_bench.py"
TASKS = {
    "schema",
    "breakdown_user_property",
    "breakdown_event_property",
    "population_90d",
    "population_90d_saved",
}


def test_know_your_data_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "kyd.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--users", "1500", "--events", "30000", "--repeat", "1", "--quiet",
         "--data-dir", str(tmp_path / "data"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert set(doc["results"]) == TASKS
    for task, r in doc["results"].items():
        assert r["agree"] is True, task
        assert r["cohortd_ms"] > 0
        if task != "population_90d_saved":
            assert r["duckdb_ms"] > 0 and r["chdb_ms"] > 0 and r["ratio_best_peer_over_cohortd"] > 0
    assert doc["config"]["breakdown_cohort_size"] > 0
