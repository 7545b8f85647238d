"""benchmarks/analysis_bench.py at a tiny size: cohortd, DuckDB and chDB give the same answers.

Correctness only: timings are written but never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "analysis_bench.py"


def test_analysis_bench_smoke_all_engines_agree(tmp_path: Path) -> None:
    out = tmp_path / "analysis.json"
    args = ["--users", "2000", "--events", "100000", "--repeat", "1", "--quiet",
            "--data-dir", str(tmp_path / "data"), "--out", str(out)]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["agree"] is True
    assert set(report["config"]["engines"]) == {"cohortd", "duckdb", "chdb"}
    rows = {a["name"]: a for a in report["analyses"]}
    assert set(rows) == {"retention_8w", "funnel_4step_7d", "backtest", "journeys_depth3"}
    for row in rows.values():
        assert row["agree"] is True and set(row["median_ms"]) == {"cohortd", "duckdb", "chdb"}
    # the answers are not trivially empty
    assert rows["funnel_4step_7d"]["answer"]["users"][0] > 0
    assert rows["retention_8w"]["answer"]["users"][0] > 0
    assert rows["backtest"]["answer"]["cohort"][0] > 0
    assert rows["journeys_depth3"]["answer"]["users"] > 0
