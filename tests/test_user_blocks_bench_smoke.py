"""benchmarks/user_blocks_bench.py at a tiny size: it runs, and writes its JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import user_blocks_bench  # noqa: E402


def test_user_blocks_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "user_blocks.json"
    user_blocks_bench.main(
        [
            "--users",
            "5000",
            "--rows",
            "40000",
            "--parts",
            "2",
            "--runs",
            "3",
            "--repeat",
            "1",
            "--out",
            str(out),
        ]
    )
    data = json.loads(out.read_text())
    assert data["config"]["rows"] == 39_996
    assert data["count"]["cpu_ms"] >= 0 and data["distinct_buckets_days"]["wall_ms"] > 0
