"""benchmarks/storage_faults.py --quick runs end to end, writes its JSON, and counts no loss."""

from __future__ import annotations

from pathlib import Path

from support.bench import bench_json


def test_quick_fault_table(tmp_path: Path) -> None:
    out = tmp_path / "storage_faults.json"
    rows = bench_json("storage_faults.py", "--quick", out=out, timeout=300)["rows"]
    assert {r["fault"] for r in rows} >= {"write_enospc_partial", "fsync_eio", "power cut (deletes)"}
    assert all(r["trials"] >= 1 and r["lost"] == 0 for r in rows)
    assert sum(r["acknowledged"] for r in rows) > 0
