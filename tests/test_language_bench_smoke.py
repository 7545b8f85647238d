"""benchmarks/language_bench.py at a tiny size: every SQL spelling agrees with cohortd, JSON written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "language_bench.py"


def test_tiny_language_bench_agrees_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "language_bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--users", "1500", "--events", "30000", "--repeat", "1", "--quiet",
         "--data-dir", str(tmp_path / "data"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["agree"] is True
    nth = data["constructs"]["nth_did"]
    assert nth["members"] > 0 and set(nth["median_ms"]) == {"cohortd", "duckdb", "chdb"}
    assert data["constructs"]["relative_count"]["members"] > 0
    for name in (
        "count_on_days",
        "count_on_periods",
        "within_of_first",
        "stopped",
        "restarted",
        "regularly",
        "user_prop_as_of",
        "had_user_prop",
        "calendar_this_month",
        "calendar_active_days",
    ):
        assert data["constructs"][name]["members"] > 0, name
