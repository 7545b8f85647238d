#!/usr/bin/env python
"""Segment migration: a 5x5 lifecycle transition matrix over 12 monthly steps, cohortd vs DuckDB vs chDB.

    python benchmarks/migration_bench.py                                   # 1M users / 10M events, 365 days
    python benchmarks/migration_bench.py --users 2000 --events 40000 --repeat 1   # smoke

The five segments are exclusive and cover every known user at each instant T:

    New        first did(any) in last 30d
    Engaged    did(any) >= 10 in last 30d and not first did(any) in last 30d
    Activated  did(any) between 1 and 9 in last 30d and not first did(any) in last 30d
    At-Risk    did(any) between 60d ago and 30d ago and not did(any) in last 30d
    Churned    not did(any) in last 60d

cohortd answers with ``Project.migration(definitions, A, B, step="1mo")`` (13
instants, each cohort evaluated once per instant; inline definitions, so no
result cache is involved).  DuckDB and chDB get the best layout we know for
them (dense integer ids, epoch-ms times, sorted by (event type, user, time);
chDB as a MergeTree) and one SQL statement that computes every user's segment
at all 13 instants (a range join of events with the instants inside a 60-day
window, plus the users' first event time) and the transitions between
consecutive instants.  All three answers (every cell of every matrix) are
compared; timings are medians of ``--repeat`` warm round-robin rounds, and
the JSON in ``benchmarks/results/migration_bench.json`` has the ratio
``min(duckdb, chdb) / cohortd`` (goal >= 10, reported, never asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from analysis_bench import dense_layout  # noqa: E402
from compare_engines import end_ms_of, ensure_data, time_round_robin  # noqa: E402

DAY = 86_400_000
SEGMENTS = [
    ("New", "first did(any) in last 30d"),
    ("Engaged", "did(any) >= 10 in last 30d and not first did(any) in last 30d"),
    ("Activated", "did(any) between 1 and 9 in last 30d and not first did(any) in last 30d"),
    ("At-Risk", "did(any) between 60d ago and 30d ago and not did(any) in last 30d"),
    ("Churned", "not did(any) in last 60d"),
]
NAMES = [n for n, _ in SEGMENTS] + ["(none)", "(new)"]
NEW_CODE = 6  # row "(new)": not known at the earlier instant


def answer_of(matrices: list[Any]) -> list[tuple[int, str, str, int]]:
    """Every non-zero cell as (step, from, to, users), sorted: the comparable answer."""
    out = []
    for i, m in enumerate(matrices):
        for c in m.cells:
            if c.users:
                out.append((i, c.source, c.target, c.users))
    return sorted(out)


class Cohortd:
    name = "cohortd"

    def __init__(self, events: Path, users: Path, workdir: Path, instants: list[int]) -> None:
        from cohortd.service import Workspace

        self.ws = Workspace(workdir / "cohortd")
        self.p = self.ws.project()
        for batch in pq.ParquetFile(events).iter_batches(batch_size=1 << 20):
            self.p.engine.ingest(pa.Table.from_batches([batch]))
        self.p.engine.seal()
        self.instants = instants
        self.version = "rust kernel"

    def run(self) -> list[tuple[int, str, str, int]]:
        texts = [t for _, t in SEGMENTS]
        ms = self.p.migration(texts, self.instants[0], self.instants[-1], "1mo")
        named = {t: n for n, t in SEGMENTS}
        out = []
        for i, m in enumerate(ms):
            for c in m.cells:
                if c.users:
                    out.append((i, named.get(c.source, c.source), named.get(c.target, c.target), c.users))
        return sorted(out)

    def close(self) -> None:
        self.ws.close()


class SQL:
    """DuckDB or chDB over the dense sorted layout, one statement for the whole series."""

    def __init__(self, name: str, dense: Path, workdir: Path, instants: list[int]) -> None:
        self.name, self.instants = name, instants
        if name == "duckdb":
            import duckdb

            self.version = duckdb.__version__
            self.con = duckdb.connect()
            self.con.sql(f"CREATE TABLE ev AS SELECT * FROM read_parquet('{dense}') ORDER BY et, uid, ts")
        else:
            import chdb
            from chdb import session

            self.version = chdb.__version__
            self.sess = session.Session(str(workdir / "chdb"))
            self.sess.query("CREATE DATABASE IF NOT EXISTS b")
            self.sess.query("DROP TABLE IF EXISTS b.ev")
            self.sess.query(
                "CREATE TABLE b.ev (et UInt16, uid UInt32, ts Int64) "
                "ENGINE = MergeTree ORDER BY (et, uid, ts)"
            )
            self.sess.query(f"INSERT INTO b.ev SELECT et, uid, ts FROM file('{dense}', Parquet)")
            self.sess.query("OPTIMIZE TABLE b.ev FINAL")

    def _sql(self) -> str:
        d30, d60 = 30 * DAY, 60 * DAY
        seg = (
            f"CASE WHEN f >= t - {d30} THEN 0 WHEN c30 >= 10 THEN 1 WHEN c30 >= 1 THEN 2 "
            f"WHEN c60 >= 1 THEN 3 ELSE 4 END"
        )
        seg_sql = seg.replace("c30", "coalesce(c30, 0)").replace("c60", "coalesce(c60, 0)")
        if self.name == "duckdb":
            inst = (
                "(VALUES " + ", ".join(f"({i}, {t})" for i, t in enumerate(self.instants)) + ") AS inst(i, t)"
            )
            return f"""
            WITH first AS (SELECT uid, min(ts) AS f FROM ev GROUP BY uid),
            cnt AS (SELECT i, uid, count(*) FILTER (WHERE ts >= t - {d30}) AS c30, count(*) AS c60
                    FROM ev JOIN {inst} ON ts >= t - {d60} AND ts < t GROUP BY i, uid),
            seg AS (SELECT inst.i, first.uid, {seg_sql} AS s
                    FROM first CROSS JOIN {inst} LEFT JOIN cnt ON cnt.i = inst.i AND cnt.uid = first.uid
                    WHERE f < t)
            SELECT b.i - 1 AS step, coalesce(a.s, {NEW_CODE}) AS src, b.s AS dst, count(*) AS users
            FROM seg b LEFT JOIN seg a ON a.uid = b.uid AND a.i = b.i - 1
            WHERE b.i >= 1 GROUP BY ALL"""
        raise AssertionError("chDB uses _chdb_sql")

    def run(self) -> list[tuple[int, str, str, int]]:
        if self.name == "duckdb":
            rows = self.con.sql(self._sql()).fetchall()
        else:
            rows = [tuple(r.values()) for r in self.sess.query(self._chdb_sql(), "ArrowTable").to_pylist()]
        return sorted((int(i), NAMES[int(a)], NAMES[int(b)], int(u)) for i, a, b, u in rows if u)

    def _chdb_sql(self) -> str:
        n = len(self.instants)
        d30, d60 = 30 * DAY, 60 * DAY
        arr = "[" + ", ".join(str(t) for t in self.instants) + "]"
        return f"""
        WITH first AS (SELECT uid, min(ts) AS f FROM b.ev GROUP BY uid),
        cnt AS (SELECT i, uid, countIf(ts >= arrayElement({arr}, i + 1) - {d30}) AS c30, count() AS c60
                FROM (SELECT uid, ts, arrayJoin(arrayFilter(
                        j -> ts >= arrayElement({arr}, j + 1) - {d60} AND ts < arrayElement({arr}, j + 1),
                        range({n}))) AS i FROM b.ev)
                GROUP BY i, uid),
        seg AS (SELECT k.i AS i, k.uid AS uid,
                       multiIf(k.f >= arrayElement({arr}, k.i + 1) - {d30}, 0, c.c30 >= 10, 1, c.c30 >= 1, 2,
                               c.c60 >= 1, 3, 4) AS s
                FROM (SELECT uid, f,
                             arrayJoin(arrayFilter(j -> f < arrayElement({arr}, j + 1), range({n}))) AS i
                      FROM first) AS k
                LEFT JOIN cnt AS c ON c.i = k.i AND c.uid = k.uid)
        SELECT toInt64(b.i) - 1 AS step, if(a.has = 1, a.s, {NEW_CODE}) AS src, b.s AS dst, count() AS users
        FROM seg AS b
        LEFT JOIN (SELECT i + 1 AS i, uid, s, toUInt8(1) AS has FROM seg) AS a ON a.i = b.i AND a.uid = b.uid
        WHERE b.i >= 1
        GROUP BY step, src, dst
        SETTINGS join_use_nulls = 0"""

    def close(self) -> None:
        if self.name == "duckdb":
            self.con.close()
        else:
            self.sess.close()


def monthly(start_ms: int, steps: int) -> list[int]:
    from cohortd.analysis.migration import instants

    times = instants(start_ms, start_ms + (steps + 1) * 31 * DAY, "1mo")
    return times[: steps + 1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument(
        "--days", type=int, default=365, help="the data's span (12 monthly steps need about a year)"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--end-date", default="2026-01-01")
    p.add_argument("--data-dir", default=str(HERE / ".data"))
    p.add_argument("--out", default=str(HERE / "results" / "migration_bench.json"))
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    T = end_ms_of(args.end_date)
    events, users, n_events = ensure_data(args, T)
    first = T - args.days * DAY + 2 * DAY
    times = monthly(first, args.steps)
    workdir = Path(tempfile.mkdtemp(prefix="migration-bench-"))
    engines: dict[str, Any] = {}
    load_s: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        engines["cohortd"] = Cohortd(events, users, workdir, times)
        load_s["cohortd"] = time.perf_counter() - t0
        dense_layout(events, workdir / "dense.parquet")
        for name in ("duckdb", "chdb"):
            t0 = time.perf_counter()
            engines[name] = SQL(name, workdir / "dense.parquet", workdir, times)
            load_s[name] = time.perf_counter() - t0
        answers = {e: engines[e].run() for e in engines}  # also the warm-up
        agree = all(answers[e] == answers["cohortd"] for e in engines)
        runs = time_round_robin({e: engines[e].run for e in engines}, args.repeat)
        med = {e: round(statistics.median(runs[e][0]), 2) for e in engines}
        best = min(med["duckdb"], med["chdb"])
        report = {
            "config": {
                "users": args.users, "events": n_events, "days": args.days, "steps": len(times) - 1,
                "instants": times, "segments": dict(SEGMENTS), "repeat": args.repeat,
                "engines": {e: engines[e].version for e in engines}, "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
                "load_s": {k: round(v, 2) for k, v in load_s.items()},
            },
            "agree": agree,
            "median_ms": med,
            "min_max_ms": {e: [round(min(runs[e][0]), 2), round(max(runs[e][0]), 2)] for e in engines},
            "ratio_best_sql_over_cohortd": round(best / med["cohortd"], 2) if med["cohortd"] else None,
            "goal_10x": bool(med["cohortd"]) and best / med["cohortd"] >= 10,
            "cells": len(answers["cohortd"]),
        }  # fmt: skip
        if not agree:
            report["answers"] = {e: answers[e][:200] for e in engines}
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(
            f"{len(times) - 1} steps x 5x5 at {args.users:,} users / {n_events:,} events: "
            f"cohortd {med['cohortd']:.1f} ms"
            f"  duckdb {med['duckdb']:.1f} ms  chdb {med['chdb']:.1f} ms  best SQL / cohortd "
            f"{report['ratio_best_sql_over_cohortd']}x  {'agree' if agree else 'MISMATCH'}"
        )
        print(f"wrote {out}")
        return 0 if agree else 1
    finally:
        for e in engines.values():
            e.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
