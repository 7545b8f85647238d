"""benchmarks/migration_bench.py at a tiny size: the three engines agree, JSON written (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "migration_bench.py"


def test_tiny_migration_bench_agrees_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "migration_bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--users", "1500", "--events", "30000", "--repeat", "1", "--quiet",
         "--data-dir", str(tmp_path / "data"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["agree"] is True and data["config"]["steps"] == 12 and data["cells"] > 12
    assert set(data["median_ms"]) == {"cohortd", "duckdb", "chdb"}
    assert data["ratio_best_sql_over_cohortd"] > 0
