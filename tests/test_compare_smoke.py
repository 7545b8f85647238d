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


def _run(tmp_path: Path, *extra: str, users: int = 2000, events: int = 100_000) -> dict:
    out = tmp_path / "compare.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *extra,
            "--users",
            str(users),
            "--events",
            str(events),
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
    return json.loads(out.read_text())


def _prepare(args: list[str]) -> None:
    """``compare_engines.py ARGS --prepare``: load the stores once, for a later run to reuse."""
    prepared = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--prepare"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert prepared.returncode == 0, prepared.stdout[-4000:] + prepared.stderr[-4000:]


def _check_floor_columns(report: dict) -> None:
    assert report["environment"]["memory_bandwidth_gb_s"] > 0
    for q in report["queries"]:
        assert q["rows_touched"] > 0 and q["bytes_touched"] >= 12 * q["rows_touched"], q
        assert q["floor_ms"] > 0, q
        assert q["chdb_layout"] in ("by_type", "by_user"), q


def test_compare_engines_smoke_all_engines_agree(tmp_path: Path) -> None:
    report = _run(tmp_path)
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
    _check_floor_columns(report)
    assert report["config"]["distribution"] == "generator"


def test_compare_engines_smoke_skewed_distribution_agrees(tmp_path: Path) -> None:
    """Zipf event types, Pareto activity, minute-rounded times (many ties): still the same members."""
    report = _run(tmp_path, "--distribution", "skewed", users=1000, events=40_000)
    assert report["agree"] is True
    assert report["config"]["distribution"] == "skewed"
    assert all(q["agree"] is True for q in report["queries"])
    assert sum(1 for q in report["queries"] if q["members"] > 0) >= 6
    _check_floor_columns(report)


def test_compare_engines_reuses_a_prepared_store(tmp_path: Path) -> None:
    """``--prepare`` loads cohortd's store once; a later run reuses it (its load time reported),
    on a subset of queries and engines, and still agrees with DuckDB; memory is reported."""
    store = tmp_path / "store"
    args = ["--users", "1000", "--events", "40000", "--seed", "7", "--quiet"]
    args += ["--data-dir", str(tmp_path / "data"), "--cohortd-store", str(store)]
    _prepare(args)
    loaded = json.loads((store / "compare_engines_load.json").read_text())["seconds"]
    picked = "active_7d,revenue_sum_90d,overlap_power_activation"
    report = _run(
        tmp_path, "--cohortd-store", str(store), "--engines", "duckdb,rust", "--queries", picked,
        users=1000, events=40_000,
    )  # fmt: skip
    assert report["agree"] is True and report["cohortd_store_reused"] is True
    assert report["load_seconds"]["cohortd"] == loaded
    assert [q["name"] for q in report["queries"]] == picked.split(",")
    assert all(q["members"] > 0 for q in report["queries"])
    assert report["peak_rss_mib"] > 0 and set(report["rss_added_by_load_mib"]) == {"duckdb", "cohortd"}


def test_compare_engines_prepared_peer_stores_per_process_memory_and_breakdown(tmp_path: Path) -> None:
    """``--prepare`` with ``--peer-store`` loads DuckDB's file and chDB's MergeTrees once, each in
    its own process; a later run reuses all three stores (their recorded load times reported),
    reports every engine process's own resident peak, and with ``--breakdown`` where cohortd's
    time goes; ``memory_bench.py --store`` then measures the prepared cohortd store."""
    from support.bench import bench_json

    store, peers = tmp_path / "store", tmp_path / "peers"
    args = [
        "--users",
        "1000",
        "--events",
        "40000",
        "--seed",
        "7",
        "--quiet",
        "--data-dir",
        str(tmp_path / "data"),
    ]
    args += ["--cohortd-store", str(store), "--peer-store", str(peers), "--engines", "duckdb,chdb,rust"]
    _prepare(args)
    recorded = {
        "cohortd": json.loads((store / "compare_engines_load.json").read_text())["seconds"],
        **{
            k: json.loads((peers / k / "compare_engines_load.json").read_text())["seconds"]
            for k in ("duckdb", "chdb")
        },
    }
    assert (peers / "duckdb" / "duckdb.db").exists() and (peers / "chdb" / "chdb").is_dir()
    picked = "churning,revenue_sum_90d,overlap_power_activation"
    report = bench_json("compare_engines.py", *args, "--queries", picked, "--repeat", "1", "--breakdown",
                        out=tmp_path / "compare.json", timeout=300)  # fmt: skip
    assert report["agree"] is True
    assert report["store_reused"] == {"duckdb": True, "chdb": True, "cohortd": True}
    assert report["complete"] is True
    assert report["load_seconds"] == recorded
    for engine in ("duckdb", "chdb", "cohortd"):
        rss = report["engine_rss_mib"][engine]
        assert rss["peak"] >= rss["after_load"] > 0, (engine, rss)
    for q in report["queries"]:
        b = q["breakdown_rust"]
        parts = [b[f"{k}_ms"] for k in ("native_kernels", "bitmaps", "numpy_arrow", "python")]
        assert b["profiled_ms"] > 0 and all(p >= 0 for p in parts), b
        assert sum(parts) <= b["profiled_ms"] * 1.01 + 0.05, b  # self times add up to at most the whole

    memory = bench_json(
        "memory_bench.py", "--store", str(store), "--repeat", "1", out=tmp_path / "memory.json"
    )
    assert memory["events"] == report["config"]["events"]
    assert memory["resident"]["events"] == memory["events"]
    assert memory["resident_bytes_per_event_user_type_time"] > 0
    assert set(memory["conditions"]) == {q for q in report_names() if q != "overlap_power_activation"}
    assert all(c["members"] >= 0 and c["numpy_peak_bytes"] >= 0 for c in memory["conditions"].values())


def report_names() -> list[str]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import compare_engines

    return [q.name for q in compare_engines.QUERIES]
