"""benchmarks/ingest_bench.py and memory_bench.py at a tiny size: every event stored both ways, JSON."""

from __future__ import annotations

from pathlib import Path

from support.bench import bench_json


def test_tiny_ingest_bench_stores_every_event_both_ways(tmp_path: Path) -> None:
    data = bench_json("ingest_bench.py", "--events", "20000", "--stream-batch", "3000", "--quiet",
                      "--data-dir", str(tmp_path), out=tmp_path / "ingest.json")  # fmt: skip
    assert data["events"] == data["stream"]["accepted"] > 15_000
    assert data["ingest"]["rejected"] == data["stream"]["rejected"] == 0
    assert data["stream"]["requests"] == -(-data["events"] // 3000)
    assert data["events_per_s"] > 0 and data["stream_events_per_s"] > 0
    assert data["resident"]["events"] == data["events"]


def test_tiny_memory_bench_measures_every_condition(tmp_path: Path) -> None:
    data = bench_json("memory_bench.py", "--users", "5000", "--buyers", "40", "--repeat", "1",
                      "--data-dir", str(tmp_path), out=tmp_path / "memory.json")  # fmt: skip
    assert data["users"] == 5000 and data["rows"]["Seen"] == 5000
    broad = data["conditions"]["broad did (every user)"]
    assert broad["members"] == 5000 and broad["touched_rows"] == 5000
    assert data["conditions"]["selective did"]["members"] <= 40 < data["rows"]["Purchase"]
    assert all(c["numpy_peak_bytes"] > 0 for c in data["conditions"].values())
