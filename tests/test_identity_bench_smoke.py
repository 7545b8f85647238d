"""benchmarks/identity_bench.py at a tiny size: cohortd and DuckDB agree after resolution, JSON written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "identity_bench.py"


def test_tiny_identity_bench_agrees_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "identity_bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--users", "3000", "--delete-batch", "50", "--quiet", "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["agree"] is True and data["agreement"]["buy_2"]["cohortd"] > 0
    assert data["ingest"]["identity_resolved"]["rows"] == 3000 * 5
    assert data["delete"]["ids"] == 51 and data["delete"]["known_users_after"] == 3000 - 51
