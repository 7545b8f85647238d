"""benchmarks/cluster_bench.py at a tiny size: every configuration gives DuckDB's answers.

Correctness only: timings are written but never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "cluster_bench.py"


def test_cluster_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "cluster.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--users", "800", "--events", "12000", "--repeat", "1", "--quiet",
         "--shards", "2", "--batch", "3000", "--data-dir", str(tmp_path / "data"), "--out", str(out)],
        cwd=REPO / "benchmarks", capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert doc["agree"] is True
    assert set(doc["results"]) == {"in_process", "shards_2"}
    for row in doc["results"].values():
        assert row["ingest_events_per_s"] > 0
        for q in ("count", "top", "overlap"):
            assert row[q]["agree"] is True and row[q]["cohortd_ms"] > 0
