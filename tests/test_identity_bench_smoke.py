"""benchmarks/identity_bench.py at a tiny size: cohortd and DuckDB agree after resolution, JSON written."""

from __future__ import annotations

from pathlib import Path

from support.bench import bench_json


def test_tiny_identity_bench_agrees_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "identity_bench.json"
    data = bench_json(
        "identity_bench.py", "--users", "3000", "--delete-batch", "50", "--quiet", out=out, timeout=600
    )
    assert data["agree"] is True and data["agreement"]["buy_2"]["cohortd"] > 0
    assert data["ingest"]["identity_resolved"]["rows"] == 3000 * 5
    assert data["delete"]["ids"] == 51 and data["delete"]["known_users_after"] == 3000 - 51
