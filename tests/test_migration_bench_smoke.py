"""benchmarks/migration_bench.py at a tiny size: the three engines agree, JSON written (no timing asserts)."""

from __future__ import annotations

from pathlib import Path

from support.bench import bench_json


def test_tiny_migration_bench_agrees_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "migration_bench.json"
    tiny = [*"--users 1500 --events 30000 --repeat 1 --quiet".split(), "--data-dir", str(tmp_path / "data")]
    data = bench_json("migration_bench.py", *tiny, out=out, timeout=600)
    assert data["agree"] is True and data["config"]["steps"] == 12 and data["cells"] > 12
    assert set(data["median_ms"]) == {"cohortd", "duckdb", "chdb"}
    assert data["ratio_best_sql_over_cohortd"] > 0
