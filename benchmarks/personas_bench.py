#!/usr/bin/env python
"""Personas at scale: total time and peak memory of one run, and the feature kernel against DuckDB.

1. Generates users in 5 planted behavioural groups plus noise
   (:func:`cohortd.synth.planted.planted_groups`; ``--events-per-user`` in the
   30-day window plus ``--outside`` older ones per user) and ingests them into
   a fresh data directory (sealed and compacted).
2. Runs the whole personas loop (``Project.personas``: features, K by
   silhouette over ``--k``, stability, explanations, a rule per cluster scored
   by the engine) in a child process that opens the directory the way
   ``cohortd personas --data`` does; its wall time (inside the call, and for
   the whole process) and its peak resident memory (``ru_maxrss`` from
   ``wait4``) are reported with the ARI against the planted groups and each
   rule's F1.
3. Times the per-user x event-type count matrix: the Rust kernel
   (``user_type_counts`` into CSR) against DuckDB's fastest native form
   (``GROUP BY user, type`` over dense integer columns sorted by (type, user,
   time), best of ``--repeat``), checks that both give the same counts, and
   reports the ratio ``duckdb / cohortd``.

    python benchmarks/personas_bench.py --users 2000 --quiet          # smoke
    python benchmarks/personas_bench.py                               # 1M users / 10M events
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
END = 1_780_272_000_000  # 2026-06-01T00:00:00Z, fixed so runs compare across commits
DAY = 86_400_000


def log(quiet: bool, *msg: object) -> None:
    if not quiet:
        print(*msg, file=sys.stderr, flush=True)


def load(directory: Path, users: int, events_per_user: float, outside: float, seed: int) -> dict[str, Any]:
    """Generate and ingest; returns the sizes, timings and the planted truth."""
    from cohortd.service import Workspace
    from cohortd.synth.planted import planted_groups

    t0 = time.perf_counter()
    data = planted_groups(users, events_per_user, seed=seed, end_ms=END, outside=outside)
    t1 = time.perf_counter()
    with Workspace(directory, clock=lambda: END) as ws:
        project = ws.project()
        step = 2_000_000
        for i in range(0, data.events.num_rows, step):
            project.ingest(data.events.slice(i, step))
        project.upsert_user_properties(data.users)
        project.engine.compact()
    t2 = time.perf_counter()
    np.save(directory / "truth.npy", data.groups)
    return {"events": data.events.num_rows, "generate_s": t1 - t0, "ingest_s": t2 - t1}


def child(directory: Path, k: str, seed: int, properties: list[str]) -> None:
    """The measured run (a process of its own, so its peak memory is its own)."""
    t0 = time.perf_counter()
    from cohortd.service import Workspace
    from sklearn.metrics import adjusted_rand_score

    with Workspace(directory, clock=lambda: END) as ws:
        project = ws.project()
        t1 = time.perf_counter()
        report = project.personas("all", "30d", k, properties=properties, seed=seed, assignments=True)
        t2 = time.perf_counter()
        truth = np.load(directory / "truth.npy")
        ids, labels = report.assignments  # type: ignore[misc]
        planted = truth[[int(u[1:]) for u in ids]]
        out = {
            "personas_s": t2 - t1,
            "open_and_import_s": t1 - t0,
            "k": report.k,
            "silhouette": {str(a): b for a, b in report.silhouette.items()},
            "stability_ari_mean": report.stability.ari_mean,
            "ari_vs_planted": float(adjusted_rand_score(planted, labels)),
            "clustered_users": report.clustered_users,
            "rules": [
                {
                    "cluster": p.cluster,
                    "name": p.name,
                    "f1": p.rule.f1 if p.rule else None,
                    "definition": p.rule.definition if p.rule else None,
                }
                for p in report.personas
            ],  # fmt: skip
        }
    print(json.dumps(out))


def run_child(directory: Path, k: str, seed: int, properties: list[str]) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", str(directory), "--k", k, "--seed", str(seed)]
    if properties:
        args += ["--properties", ",".join(properties)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"personas child failed:\n{stderr}")
    out = json.loads(stdout)
    out["process_s"] = wall
    out["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    return out


def kernel_vs_duckdb(directory: Path, repeat: int) -> dict[str, Any]:
    """The count matrix by the Rust kernel and by DuckDB, checked equal, best of ``repeat``."""
    import duckdb
    import pyarrow as pa
    from cohortd.engine.kernels import rust_kernel
    from cohortd.service import Workspace

    with Workspace(directory, clock=lambda: END) as ws:
        engine = ws.project().engine
        snap = engine.store.snapshot()
        n_users, n_types = len(snap.first_seen), len(engine.store.types)
        start, end = END - 30 * DAY, END
        segs = [s for s in snap.segments if s.num_rows and s.max_time >= start and s.min_time < end]
        users = [s.users for s in segs]
        types = [s.types for s in segs]
        times = [s.times for s in segs]
        rows = np.arange(n_users, dtype=np.int32)
        cols = np.arange(n_types, dtype=np.int32)
        ours = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            indptr, indices, data = rust_kernel.user_type_counts(
                users, types, times, start, end, rows, cols, n_users, n_types
            )
            ours.append(time.perf_counter() - t0)
        # DuckDB at its best layout: dense integers, sorted by (type, user, time), one table.
        table = pa.table(
            {
                "type": pa.array(np.concatenate(types)),
                "user": pa.array(np.concatenate(users)),
                "time": pa.array(np.concatenate(times)),
            }
        )
        con = duckdb.connect()
        con.register("arrow_events", table)
        con.execute("CREATE TABLE ev AS SELECT * FROM arrow_events ORDER BY type, user, time")
        sql = (
            "SELECT user, type, count(*)::UINTEGER AS n FROM ev "
            f"WHERE time >= {start} AND time < {end} GROUP BY ALL"
        )
        theirs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = con.sql(sql).to_arrow_table()
            theirs.append(time.perf_counter() - t0)
    got_rows = np.repeat(np.arange(n_users), np.diff(indptr))
    want = np.lexsort((result.column("type").to_numpy(), result.column("user").to_numpy()))
    same = (
        len(want) == len(indices)
        and np.array_equal(result.column("user").to_numpy()[want], got_rows)
        and np.array_equal(result.column("type").to_numpy()[want], indices)
        and np.array_equal(result.column("n").to_numpy()[want], data)
    )
    return {
        "rows_in_window": int(sum(int(((t >= start) & (t < end)).sum()) for t in times)),
        "entries": len(indices),
        "cohortd_s": min(ours),
        "duckdb_s": min(theirs),
        "ratio_duckdb_over_cohortd": min(theirs) / min(ours),
        "duckdb_version": duckdb.__version__,
        "same_counts": bool(same),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events-per-user", type=float, default=8.0, help="events in the window per user")
    p.add_argument("--outside", type=float, default=2.0, help="older events per user (outside the window)")
    p.add_argument("--k", default="auto")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--properties", default="", help="user properties to one-hot encode (e.g. plan)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--data-dir", type=Path, default=None, help="where to build the data (default: temp)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "personas.json")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    props = [x for x in args.properties.split(",") if x]
    if args.child is not None:
        child(args.child, args.k, args.seed, props)
        return 0
    base = Path(tempfile.mkdtemp(prefix="personas-bench-")) if args.data_dir is None else args.data_dir
    directory = base / "workspace"
    shutil.rmtree(directory, ignore_errors=True)
    try:
        log(args.quiet, f"generating and ingesting {args.users:,} users ...")
        loaded = load(directory, args.users, args.events_per_user, args.outside, args.seed)
        log(args.quiet, f"{loaded['events']:,} events; personas run ...")
        run = run_child(directory, args.k, args.seed, props)
        log(args.quiet, "count matrix: cohortd kernel vs DuckDB ...")
        kernel = kernel_vs_duckdb(directory, args.repeat)
    finally:
        if args.data_dir is None:
            shutil.rmtree(base, ignore_errors=True)
    result = {
        "benchmark": "personas",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "users": args.users,
        "window": "30d",
        "k": args.k,
        "seed": args.seed,
        "properties": props,
        **loaded,
        "personas": run,
        "count_matrix": kernel,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if not args.quiet:
        print(
            f"{loaded['events']:,} events, {args.users:,} users: personas {run['personas_s']:.1f} s "
            f"in the call, {run['process_s']:.1f} s for the process, peak RSS "
            f"{run['peak_rss_mb']:,.0f} MB; K = {run['k']}, ARI vs planted {run['ari_vs_planted']:.3f}; "
            f"count matrix {kernel['cohortd_s'] * 1000:.0f} ms vs DuckDB {kernel['duckdb_s'] * 1000:.0f} ms "
            f"({kernel['ratio_duckdb_over_cohortd']:.1f}x)"
        )
    return 0 if kernel["same_counts"] else 1


if __name__ == "__main__":
    sys.exit(main())
