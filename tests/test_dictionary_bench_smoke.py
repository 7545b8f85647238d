"""benchmarks/dictionary_bench.py at tiny size, with a real small store to open (no timing asserts)."""

from __future__ import annotations

from pathlib import Path

from cohortd.service import Workspace
from support.bench import bench_json

NOW = 1_704_067_200_000


def test_dictionary_bench_writes_json(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws", clock=lambda: NOW)
    ws.project().ingest([{"user_id": f"u{i}", "event_type": "Open", "time": NOW - i} for i in range(50)])
    ws.close()
    (store,) = {p.parent for p in (tmp_path / "ws").rglob("wal-*.log")}  # the project's event store
    out = tmp_path / "dictionary_bench.json"
    args = (
        "--users",
        "2000",
        "--rows",
        "10000",
        "--lookups",
        "1000",
        "--repeat",
        "1",
        "--store",
        str(store),
    )
    data = bench_json("dictionary_bench.py", *args, out=out, timeout=300)
    for impl in ("native", "python"):
        assert data[impl]["users"] == 50 and data[impl]["encode_rows_per_s"] > 0
    advantage = data["native_advantage"]
    assert abs(advantage["load_s"] - data["python"]["load_s"] / data["native"]["load_s"]) < 1e-9
