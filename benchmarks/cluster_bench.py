#!/usr/bin/env python
"""cohortd on a Ray cluster of 1, 2 and 4 shards: ingest throughput and query latency, one run.

Every configuration gets the same synthetic events (``cohortd.synth``), ingested
through the router in ``--batch``-row batches (acknowledged when every shard
made its part durable), then answers three questions at one instant:

* ``count``: ``did("Session Start") >= 3 in last 7d`` (local to each shard);
* ``top``: ``top 20% by count(any) in last 30d`` (two phases: distributions, global q);
* ``overlap``: two saved cohorts (intersection counts add).

The in-process project (``Project``, no Ray) is the baseline, and DuckDB at its
best layout (dense integer ids, sorted by (type, user, time), epoch-ms BIGINT,
one SQL statement per question) is the peer; answers are compared (exit 1 on
a disagreement).  Medians over ``--repeat`` rounds; ratios ``duckdb / cohortd``
go to ``--out`` (JSON).  On this 2-core machine the shards share the same two
cores, so more shards cannot be faster here: the run measures the router's
overhead (fan-out, serialisation, merge), not a cluster's scaling.

    python benchmarks/cluster_bench.py --users 2000 --events 40000 --repeat 1 --shards 1,2   # smoke
    python benchmarks/cluster_bench.py          # 200k users / 2M events, 1/2/4 shards
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from compare_engines import DEFAULT_END, end_ms_of, ensure_data

HERE = Path(__file__).resolve().parent
DAY = 86_400_000
COUNT = 'did("Session Start") >= 3 in last 7d'
TOP = "top 20% by count(any) in last 30d"
SAVED = {"active": COUNT, "recent": "did(any) in last 3d"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=200_000)
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--batch", type=int, default=50_000, help="rows per ingest call")
    p.add_argument("--shards", default="1,2,4", help="shard counts to run")
    p.add_argument("--end-date", default=DEFAULT_END)
    p.add_argument("--distribution", choices=("generator", "skewed"), default="generator",
                   help="compare_engines.ensure_data: the synth stream or the skewed one")  # fmt: skip
    p.add_argument("--data-dir", default=str(HERE / ".data"))
    p.add_argument("--out", default=str(HERE / "results" / "cluster.json"))
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


# -------------------------------------------------------------------- peer
def duckdb_answers(events: pa.Table, T: int, repeat: int) -> dict[str, tuple[float, Any]]:
    """(median ms, answer) per question, DuckDB over dense sorted ids."""
    import duckdb

    users = pc.unique(events["user_id"].combine_chunks())
    types = pc.unique(events["event_type"].combine_chunks())
    ev = pa.table(
        {
            "type": pc.index_in(events["event_type"], types).cast(pa.int32()),
            "uid": pc.index_in(events["user_id"], users).cast(pa.int32()),
            "ts": pc.cast(events["time"], pa.int64()),
        }
    ).sort_by([("type", "ascending"), ("uid", "ascending"), ("ts", "ascending")])
    session = types.to_pylist().index("Session Start")
    con = duckdb.connect()
    con.register("ev_arrow", ev)
    con.execute("CREATE TABLE ev AS SELECT * FROM ev_arrow")
    w7, w30, w3 = T - 7 * DAY, T - 30 * DAY, T - 3 * DAY
    count_sql = (f"SELECT count(*) FROM (SELECT uid FROM ev WHERE type = {session} AND ts >= {w7} "
                 f"AND ts < {T} GROUP BY uid HAVING count(*) >= 3)")  # fmt: skip
    top_sql = f"""
        WITH m AS (SELECT uid, count(*) FILTER (WHERE ts >= {w30}) AS c FROM ev WHERE ts < {T} GROUP BY uid),
             o AS (SELECT c, row_number() OVER (ORDER BY c DESC) AS rn, count(*) OVER () AS n FROM m)
        SELECT count(*) FROM m
        WHERE c > 0 AND c >= (SELECT c FROM o WHERE rn = (20 * n + 99) // 100)"""
    overlap_sql = f"""
        WITH a AS (SELECT uid FROM ev WHERE type = {session} AND ts >= {w7} AND ts < {T}
                   GROUP BY uid HAVING count(*) >= 3),
             r AS (SELECT DISTINCT uid FROM ev WHERE ts >= {w3} AND ts < {T})
        SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM r),
               (SELECT count(*) FROM a JOIN r USING (uid))"""
    out = {}
    for name, sql in (("count", count_sql), ("top", top_sql), ("overlap", overlap_sql)):
        times, answer = [], None
        for _ in range(repeat):
            ms, rows = _timed(lambda sql=sql: con.execute(sql).fetchall())
            times.append(ms)
            answer = list(rows[0]) if name == "overlap" else rows[0][0]
        out[name] = (_median(times), answer)
    con.close()
    return out


# ------------------------------------------------------------------ cohortd
def warm_up(project: Any, events: pa.Table, T: int) -> None:
    """Compile the kernels in every process once (a shard is a fresh process), outside the timings."""
    project.ingest(events.slice(0, 2_000))
    for text in (COUNT, TOP, *SAVED.values()):
        project.evaluate(definition=text, as_of=T)


def run_project(project: Any, events: pa.Table, T: int, batch: int, repeat: int) -> dict[str, Any]:
    """Ingest throughput, then (median ms, answer) per question, through one project-like object."""
    t0 = time.perf_counter()
    for start in range(0, events.num_rows, batch):
        project.ingest(events.slice(start, batch))
    ingest_s = time.perf_counter() - t0
    for name, text in SAVED.items():
        project.create_cohort(name, text)
    questions = {
        "count": lambda: project.evaluate(definition=COUNT, as_of=T).size,
        "top": lambda: project.evaluate(definition=TOP, as_of=T).size,
        "overlap": lambda: _overlap(project.overlap(list(SAVED), as_of=T)),
    }
    out: dict[str, Any] = {"ingest_s": ingest_s, "ingest_events_per_s": events.num_rows / ingest_s}
    for name, fn in questions.items():
        times, answer = [], None
        for _ in range(repeat):
            ms, answer = _timed(fn)
            times.append(ms)
        out[name] = (_median(times), answer)
    return out


def _overlap(ov: Any) -> list[int]:
    return [ov.sizes[0], ov.sizes[1], ov.intersections[0][1]]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    T = end_ms_of(args.end_date)
    events_path, _, n_events = ensure_data(args, T)
    events = pq.read_table(events_path).select(["user_id", "event_type", "time"])
    events = events.set_column(2, "time", pc.cast(events["time"], pa.int64()))
    shard_counts = [int(s) for s in args.shards.split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    peer = duckdb_answers(events, T, args.repeat)
    import ray
    from cohortd.cluster.router import ClusterWorkspace
    from cohortd.service import Workspace

    configs: dict[str, dict[str, Any]] = {}
    with Workspace(work / "single") as ws:
        warm_up(ws.project("warmup"), events, T)
        configs["in_process"] = run_project(ws.project("bench"), events, T, args.batch, args.repeat)
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        for n in shard_counts:
            with ClusterWorkspace(work / f"c{n}", n, namespace=f"bench-{n}") as cluster:
                configs[f"shards_{n}"] = run_project(
                    cluster.project("bench"), events, T, args.batch, args.repeat
                )
    finally:
        ray.shutdown()
    agree = True
    results: dict[str, Any] = {}
    for config, r in configs.items():
        row: dict[str, Any] = {
            "ingest_events_per_s": round(r["ingest_events_per_s"]),
            "ingest_s": r["ingest_s"],
        }
        for q in ("count", "top", "overlap"):
            ms, answer = r[q]
            same = answer == peer[q][1]
            agree &= same
            row[q] = {"cohortd_ms": ms, "duckdb_ms": peer[q][0], "ratio_duckdb_over_cohortd": peer[q][0] / ms,
                      "agree": same, "answer": answer}  # fmt: skip
        results[config] = row
    doc = {
        "benchmark": "cluster",
        "config": {
            "users": args.users,
            "events": n_events,
            "days": args.days,
            "batch": args.batch,
            "shards": shard_counts,
            "repeat": args.repeat,
            "as_of_ms": T,
        },  # fmt: skip
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "results": results,
        "agree": agree,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    if not args.quiet:
        for config, row in results.items():
            qs = "  ".join(f"{q} {row[q]['cohortd_ms']:.1f} ms (duckdb {row[q]['duckdb_ms']:.1f})"
                           for q in ("count", "top", "overlap"))  # fmt: skip
            print(f"{config:>10}: ingest {row['ingest_events_per_s']:>10,} ev/s  {qs}")
        print(f"answers agree: {agree}; written {args.out}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
