#!/usr/bin/env python
"""Know your data: schema, two breakdowns and a 90-point population, cohortd vs DuckDB vs chDB, one run.

The peers get their best native layout: dense integer user and event-type
ids (assigned here, independently of cohortd), rows sorted by
``(event_type, user, time)``, epoch-ms ``BIGINT`` times (DuckDB) or a
MergeTree ``ORDER BY (type, user, ts)`` (chDB), and the fastest SQL we know
for each question (day-bucketed counts exploded over the 7 points each day
feeds for the population; ``arg_max`` for "last value").  cohortd answers
through its embedded API (``Project.schema`` / ``breakdown`` /
``population``), exactly what ``cohortd schema|breakdown|population --data``
and the gRPC RPCs call.

Measured, never asserted: each task runs once per engine per round
(``--repeat`` rounds, round robin), the answers are compared (exit status 1
when an engine disagrees), medians and ``min(duckdb, chdb) / cohortd`` ratios
go to ``--out`` (JSON).

    python benchmarks/know_your_data_bench.py --users 2000 --events 50000 --repeat 1   # smoke
    python benchmarks/know_your_data_bench.py          # 1M users / 10M events
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from compare_engines import DEFAULT_END, end_ms_of, ensure_data

HERE = Path(__file__).resolve().parent
DAY = 86_400_000
ENGINES = ("cohortd", "duckdb", "chdb")
COHORT = "did(any) in last 30d"  # the cohort broken down (~30% of users at the default size)
EVENT_TYPE, EVENT_PROP, WINDOW_DAYS = "Feature Used", "platform", 14
POP_COHORT = 'did("Session Start") >= 3 in last 7d'
POINTS = 90
STRING_PROPS = ("feature_area", "platform", "plan")
NUMBER_PROPS = ("revenue", "duration_s")


# ----------------------------------------------------------------- layouts
def dense_tables(events: Path, users: Path) -> tuple[pa.Table, pa.Table, list[str]]:
    """Events with dense int ids sorted by (type, user, ts); users keyed by the same ids; type names."""
    ev = pq.read_table(events)
    user_dict = pc.unique(pa.concat_arrays([ev["user_id"].combine_chunks(), pq.read_table(users)["user_id"]
                                            .combine_chunks()]))  # fmt: skip
    types = pc.unique(ev["event_type"].combine_chunks())
    table = pa.table(
        {
            "type": pc.index_in(ev["event_type"], types).cast(pa.int32()),
            "uid": pc.index_in(ev["user_id"], user_dict).cast(pa.int32()),
            "ts": pc.cast(ev["time"], pa.int64()),
            **{p: ev[p] for p in (*STRING_PROPS, *NUMBER_PROPS)},
        }
    ).sort_by([("type", "ascending"), ("uid", "ascending"), ("ts", "ascending")])
    u = pq.read_table(users)
    users_t = pa.table(
        {
            "uid": pc.index_in(u["user_id"], user_dict).cast(pa.int32()),
            "plan": u["plan"],
            "country": u["country"],
            "projects_created": u["projects_created"],
        }
    ).sort_by("uid")
    return table, users_t, types.to_pylist()


# -------------------------------------------------------------------- SQL
def schema_sql(dialect: str, T: int) -> list[str]:
    ch = dialect == "chdb"
    ev = "bench.events" if ch else "events"
    us = "bench.users" if ch else "users"
    distinct = "uniqExact(uid)" if ch else "count(DISTINCT uid)"

    def window(days: int) -> str:
        cond = f"ts >= {T - days * DAY} AND ts < {T}"
        return f"countIf({cond})" if ch else f"count(*) FILTER (WHERE {cond})"

    out = [
        f"SELECT type, count(*), {distinct}, min(ts), max(ts), {window(7)}, {window(30)} "
        f"FROM {ev} GROUP BY type"
    ]
    for p in (*STRING_PROPS, *NUMBER_PROPS):
        out.append(
            f"SELECT type, v, c FROM (SELECT type, {p} AS v, count(*) AS c, "
            f"row_number() OVER (PARTITION BY type ORDER BY count(*) DESC, {p}) AS rn "
            f"FROM {ev} WHERE {p} IS NOT NULL GROUP BY type, {p}) WHERE rn <= 10"
        )
    for p in ("plan", "country", "projects_created"):
        out.append(f"SELECT {p}, count(*) AS c FROM {us} GROUP BY {p} ORDER BY c DESC, {p} LIMIT 10")
    return out


def breakdown_user_sql(dialect: str, T: int) -> str:
    ch = dialect == "chdb"
    ev, us = ("bench.events", "bench.users") if ch else ("events", "users")
    members = f"SELECT DISTINCT uid FROM {ev} WHERE ts >= {T - 30 * DAY} AND ts < {T}"
    known = f"SELECT DISTINCT uid FROM {ev} WHERE ts < {T}"
    if ch:
        members = f"SELECT DISTINCT uid, 1 AS present FROM {ev} WHERE ts >= {T - 30 * DAY} AND ts < {T}"
        return (
            f"SELECT u.country, countIf(m.present = 1), count(*) FROM ({known}) k "
            f"LEFT JOIN {us} u ON u.uid = k.uid LEFT JOIN ({members}) m ON m.uid = k.uid "
            f"GROUP BY u.country SETTINGS join_use_nulls = 1"
        )
    return (
        f"SELECT u.country, count(*) FILTER (WHERE m.uid IS NOT NULL), count(*) FROM ({known}) k "
        f"LEFT JOIN {us} u ON u.uid = k.uid LEFT JOIN ({members}) m ON m.uid = k.uid GROUP BY u.country"
    )


def breakdown_event_sql(dialect: str, T: int, type_id: int) -> str:
    ch = dialect == "chdb"
    ev = "bench.events" if ch else "events"
    start = T - WINDOW_DAYS * DAY
    last = "argMax" if ch else "arg_max"
    picked = (
        f"SELECT uid, {last}({EVENT_PROP}, ts) AS v FROM {ev} WHERE type = {type_id} AND ts >= {start} "
        f"AND ts < {T} AND {EVENT_PROP} IS NOT NULL GROUP BY uid"
    )
    known = f"SELECT DISTINCT uid FROM {ev} WHERE ts < {T}"
    if ch:
        members = f"SELECT DISTINCT uid, 1 AS present FROM {ev} WHERE ts >= {T - 30 * DAY} AND ts < {T}"
        return (
            f"SELECT p.v, countIf(m.present = 1), count(*) FROM ({known}) k "
            f"LEFT JOIN ({picked}) p ON p.uid = k.uid LEFT JOIN ({members}) m ON m.uid = k.uid "
            "GROUP BY p.v SETTINGS join_use_nulls = 1"
        )
    members = f"SELECT DISTINCT uid FROM {ev} WHERE ts >= {T - 30 * DAY} AND ts < {T}"
    return (
        f"SELECT p.v, count(*) FILTER (WHERE m.uid IS NOT NULL), count(*) FROM ({known}) k "
        f"LEFT JOIN ({picked}) p ON p.uid = k.uid LEFT JOIN ({members}) m ON m.uid = k.uid GROUP BY p.v"
    )


def population_sql(dialect: str, first: int, last: int, type_id: int) -> str:
    """Per (user, day) counts, each exploded over the 7 daily points it feeds; sum, filter, count."""
    ch = dialect == "chdb"
    ev = "bench.events" if ch else "events"
    lo, hi = first - 7 * DAY, last
    daily = (
        f"SELECT uid, intDiv(ts, {DAY}) AS day, count(*) AS c FROM {ev} WHERE type = {type_id} "
        f"AND ts >= {lo} AND ts < {hi} GROUP BY uid, day"
        if ch
        else f"SELECT uid, ts // {DAY} AS day, count(*) AS c FROM {ev} WHERE type = {type_id} "
        f"AND ts >= {lo} AND ts < {hi} GROUP BY uid, day"
    )
    spread = (
        f"SELECT uid, day + k AS point, c FROM ({daily}) ARRAY JOIN range(1, 8) AS k"
        if ch
        else f"SELECT uid, day + k AS point, c FROM ({daily}), range(1, 8) t(k)"
    )
    return (
        f"SELECT point, count(*) FROM (SELECT point, uid, sum(c) AS s FROM ({spread}) "
        f"WHERE point >= {first // DAY} AND point <= {last // DAY} GROUP BY point, uid) WHERE s >= 3 "
        f"GROUP BY point ORDER BY point"
    )


# ----------------------------------------------------------------- engines
class DuckDB:
    def __init__(self, events: pa.Table, users: pa.Table) -> None:
        import duckdb

        self.version = duckdb.__version__
        self.con = duckdb.connect()
        self.con.register("ev_in", events)
        self.con.register("us_in", users)
        self.con.sql("CREATE TABLE events AS SELECT * FROM ev_in")
        self.con.sql("CREATE TABLE users AS SELECT * FROM us_in")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.sql(sql).fetchall()


class ChDB:
    def __init__(self, events: pa.Table, users: pa.Table, workdir: Path) -> None:
        import chdb
        from chdb import session

        self.version = chdb.__version__
        self.sess = session.Session(str(workdir / "chdb"))
        q = self.sess.query
        q("CREATE DATABASE IF NOT EXISTS bench")
        strings = ", ".join(f"{p} LowCardinality(Nullable(String))" for p in STRING_PROPS)
        q(
            f"CREATE TABLE bench.events (type Int32, uid Int32, ts Int64, {strings}, "
            "revenue Nullable(Float64), duration_s Nullable(Int64)) "
            "ENGINE = MergeTree ORDER BY (type, uid, ts)"
        )
        q(
            "CREATE TABLE bench.users (uid Int32, plan LowCardinality(String), "
            "country LowCardinality(String), projects_created Int64) ENGINE = MergeTree ORDER BY uid"
        )
        for name, table in (("events", events), ("users", users)):
            path = workdir / f"{name}.parquet"
            pq.write_table(table, path)
            q(f"INSERT INTO bench.{name} SELECT * FROM file('{path}', Parquet)")
        q("OPTIMIZE TABLE bench.events FINAL")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        table = self.sess.query(sql, "ArrowTable")
        return [tuple(r.values()) for r in table.to_pylist()] if table.num_rows else []


class Cohortd:
    def __init__(self, events: Path, users: Path, workdir: Path, T: int) -> None:
        from cohortd.service import Workspace

        self.ws = Workspace(workdir / "cohortd", clock=lambda: T)
        self.p = self.ws.project()
        for batch in pq.ParquetFile(events).iter_batches(batch_size=1 << 20):
            self.p.ingest(pa.Table.from_batches([batch]))
        self.p.upsert_user_properties(pq.read_table(users))
        self.p.engine.seal()


# -------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--end-date", default=DEFAULT_END)
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--data-dir", default=str(HERE / ".data"))
    p.add_argument("--out", default=str(HERE / "results" / "know_your_data.json"))
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    T = end_ms_of(args.end_date)
    events, users, n_events = ensure_data(args, T)
    first = T - (POINTS - 1) * DAY
    work = Path(tempfile.mkdtemp(prefix="kyd-bench-"))
    load: dict[str, float] = {}
    t0 = time.perf_counter()
    ev_table, us_table, type_names = dense_tables(events, users)
    load["dense_layout"] = time.perf_counter() - t0
    fu, ss = type_names.index(EVENT_TYPE), type_names.index("Session Start")
    peers: dict[str, Any] = {}
    if "duckdb" in engines:
        t0 = time.perf_counter()
        peers["duckdb"] = DuckDB(ev_table, us_table)
        load["duckdb"] = time.perf_counter() - t0
    if "chdb" in engines:
        t0 = time.perf_counter()
        peers["chdb"] = ChDB(ev_table, us_table, work)
        load["chdb"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cd = Cohortd(events, users, work, T)
    load["cohortd"] = time.perf_counter() - t0
    p = cd.p

    t0 = time.perf_counter()
    cold_schema = p.schema()
    schema_cold_ms = (time.perf_counter() - t0) * 1000
    p.create_cohort("Session regulars 7d", POP_COHORT)
    p.population("Session regulars 7d", start=first, end=T, step="1d")  # records the daily history

    def names(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return sorted((type_names[r[0]], *r[1:]) for r in rows)

    tasks: dict[str, dict[str, Any]] = {
        "schema": {
            "cohortd": lambda: p.schema(),
            **{e: (lambda e=e: [peers[e].rows(q) for q in schema_sql(e, T)]) for e in peers},
        },
        "breakdown_user_property": {
            "cohortd": lambda: p.breakdown(definition=COHORT, by="user.country", top=1000, as_of=T),
            **{e: (lambda e=e: peers[e].rows(breakdown_user_sql(e, T))) for e in peers},
        },
        "breakdown_event_property": {
            "cohortd": lambda: p.breakdown(
                definition=COHORT,
                by=f'event("{EVENT_TYPE}").{EVENT_PROP}',
                window=f"{WINDOW_DAYS}d",
                pick="last",
                top=1000,
                as_of=T,
            ),  # fmt: skip
            **{e: (lambda e=e: peers[e].rows(breakdown_event_sql(e, T, fu))) for e in peers},
        },
        "population_90d": {
            "cohortd": lambda: p.population(definition=POP_COHORT, start=first, end=T, step="1d"),
            **{e: (lambda e=e: peers[e].rows(population_sql(e, first, T, ss))) for e in peers},
        },
        "population_90d_saved": {
            "cohortd": lambda: p.population("Session regulars 7d", start=first, end=T, step="1d"),
        },
    }
    results: dict[str, Any] = {}
    for task, fns in tasks.items():
        answers: dict[str, Any] = {}
        times: dict[str, list[float]] = {e: [] for e in fns}
        for _ in range(args.repeat):
            for e, fn in fns.items():
                t1 = time.perf_counter()
                answers[e] = fn()
                times[e].append((time.perf_counter() - t1) * 1000)
        agree = check(task, answers, type_names)
        med = {e: _median(v) for e, v in times.items()}
        best_peer = min((med[e] for e in peers if e in med), default=None)
        results[task] = {
            **{f"{e}_ms": round(m, 3) for e, m in med.items()},
            "ratio_best_peer_over_cohortd": round(best_peer / med["cohortd"], 2) if best_peer else None,
            "agree": agree,
        }
    results["schema"]["cohortd_cold_ms"] = round(schema_cold_ms, 3)
    size = p.evaluate(definition=COHORT, as_of=T).size
    out = {
        "script": "know_your_data_bench.py",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "config": {
            "users": args.users,
            "events": n_events,
            "days": args.days,
            "seed": args.seed,
            "as_of_ms": T,
            "repeat": args.repeat,
            "breakdown_cohort": COHORT,
            "breakdown_cohort_size": size,
            "population_cohort": POP_COHORT,
            "points": POINTS,
        },  # fmt: skip
        "versions": {e: getattr(peers[e], "version", None) for e in peers},
        "load_s": {k: round(v, 2) for k, v in load.items()},
        "results": results,
        "schema_event_types": len(cold_schema["event_types"]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    for task, r in results.items():
        cells = "  ".join(f"{k}={v}" for k, v in r.items())
        print(f"{task:26s} {cells}")
    print(f"cohort {COHORT!r}: {size:,} members; JSON -> {args.out}")
    cd.ws.close()
    return 0 if all(r["agree"] for r in results.values()) else 1


def check(task: str, answers: dict[str, Any], type_names: list[str]) -> bool:
    """Whether every engine gave the same figures as cohortd (printed when not)."""
    mine = answers["cohortd"]
    ok = True
    for e, rows in answers.items():
        if e == "cohortd":
            continue
        if task == "schema":
            got = sorted((type_names[r[0]], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows[0])
            from cohortd.times import iso_ms

            want = sorted((t["name"], t["events"], t["users"], t["first_seen"], t["last_seen"], t["last_7d"],
                           t["last_30d"]) for t in mine["event_types"])  # fmt: skip
            got = [(n, a, b, iso_ms(c), iso_ms(d), f, g) for n, a, b, c, d, f, g in got]
        elif task.startswith("breakdown"):
            want = sorted((r.value, r.members) for r in mine.rows if r.members)
            got = sorted(("(none)" if v is None else v, int(m)) for v, m, _ in rows if m)
        else:
            want = [pt.size for pt in mine.points]
            by_day = {int(d): int(c) for d, c in rows}
            got = [by_day.get(pt.as_of_ms // DAY, 0) for pt in mine.points]
        if got != want:
            ok = False
            print(f"{task}: {e} disagrees with cohortd:\n  {e}: {got[:8]}\n  cohortd: {want[:8]}")
    return ok


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
