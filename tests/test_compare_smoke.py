"""benchmarks/compare_engines.py at a tiny size: every engine returns the same cohorts.

Correctness only: timings are written but never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "compare_engines.py"
ENGINE_COLUMNS = {"duckdb", "chdb", "cohortd_rust", "cohortd_numba"}


def test_compare_engines_smoke_all_engines_agree(tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--users",
            "2000",
            "--events",
            "100000",
            "--days",
            "120",
            "--seed",
            "7",
            "--repeat",
            "1",
            "--quiet",
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["agree"] is True
    assert set(report["config"]["engines"]) == ENGINE_COLUMNS
    assert report["config"]["events"] > 50_000
    queries = report["queries"]
    names = {q["name"] for q in queries}
    for required in (
        "new_users_l7",
        "power_users_top20",
        "churning",
        "upgrade_ready",
        "activation_sequence",
        "and_not_3",
        "sequence_within_1h",
        "revenue_sum_90d",
        "top5_active_days",
        "overlap_power_activation",
    ):
        assert required in names
    for q in queries:
        assert q["agree"] is True, q
        assert set(q["median_ms"]) == ENGINE_COLUMNS, q
    # the comparison means something only if the cohorts are not trivially empty or full
    sizes = {q["name"]: q["members"] for q in queries}
    assert sum(1 for v in sizes.values() if 0 < v < 2000) >= len(sizes) - 1, sizes
