"""benchmarks/personas_bench.py at a tiny size: it runs, the kernel and DuckDB agree, the JSON is complete.

Timings are written but never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "personas_bench.py"


def test_personas_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "personas.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--users", "1500", "--repeat", "1", "--quiet",
         "--data-dir", str(tmp_path / "data"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["count_matrix"]["same_counts"] is True
    run = doc["personas"]
    assert run["k"] == 5 and run["ari_vs_planted"] >= 0.9
    assert run["peak_rss_mb"] > 0 and run["personas_s"] > 0 and len(run["rules"]) == 5
    assert {"events", "generate_s", "ingest_s"} <= doc.keys()
