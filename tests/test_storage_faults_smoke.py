"""benchmarks/storage_faults.py --quick runs end to end, writes its JSON, and counts no loss."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "storage_faults.py"


def test_quick_fault_table(tmp_path: Path) -> None:
    out = tmp_path / "storage_faults.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out.read_text())["rows"]
    assert {r["fault"] for r in rows} >= {"write_enospc_partial", "fsync_eio", "power cut (deletes)"}
    assert all(r["trials"] >= 1 and r["lost"] == 0 for r in rows)
    assert sum(r["acknowledged"] for r in rows) > 0
