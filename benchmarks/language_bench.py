#!/usr/bin/env python
"""The newer cohort-language constructs, cohortd vs DuckDB vs chDB at their best layouts.

    python benchmarks/language_bench.py                                  # 1M users / 10M events
    python benchmarks/language_bench.py --users 2000 --events 40000 --repeat 1   # smoke

Each construct is one cohort definition evaluated at ``T`` (inline, so no
result cache is involved; the Rust kernel) beside the equivalent SQL.  DuckDB
and chDB get dense integer ids, epoch-ms times, rows sorted by (event type,
user, time) (chDB as a MergeTree ordered that way), and for each construct
every SQL spelling listed here; the fastest of them counts.  The member sets
are compared user by user; timings are medians of ``--repeat`` warm
round-robin rounds.  The JSON (``benchmarks/results/language_bench.json``)
has per construct ``min(duckdb, chdb) / cohortd`` (goal >= 10, reported,
never asserted).
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
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare_engines import end_ms_of, ensure_data, time_round_robin  # noqa: E402

DAY = 86_400_000
ZONE = "America/New_York"  # the project time zone of the calendar rows (the others run in UTC)
PLANS = ("free", "trial", "pro")


def plan_history(users: list[str], T: int, seed: int) -> pa.Table:
    """Dated plan changes for a third of the users: 1-3 each at distinct times in the 120 days before T."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chosen = np.flatnonzero(rng.random(len(users)) < 1 / 3)
    per = rng.integers(1, 4, len(chosen))
    uid = np.repeat(chosen, per)
    ts = T - rng.integers(1, 120 * DAY, len(uid))
    plan = np.array(PLANS)[rng.integers(0, len(PLANS), len(uid))]
    ts = ts + np.arange(len(uid)) % 1000  # distinct times per user: "the last change" is unambiguous
    return pa.table({"uid": uid.astype(np.uint32), "ts": ts.astype(np.int64), "plan": plan})


def constructs(T: int) -> dict[str, dict[str, Any]]:
    """name -> cohortd text and SQL spellings (``{ev}`` is the table, ``{et}`` a type's dense code)."""
    d30 = T - 30 * DAY
    from cohortd import times

    this_start = times.calendar_start(T, "month", ZONE)
    last_start = times.add_calendar(this_start, "month", -1, ZONE)
    dst_end = times.to_ms("2025-11-02T06:00Z")  # New York's clocks went back inside last calendar month
    local_day = f"(ts - CASE WHEN ts < {dst_end} THEN {4 * 3_600_000} ELSE {5 * 3_600_000} END) // {DAY}"
    return {
        "nth_did": {
            "text": 'nth did("Session Start", 3) in last 30d',
            "types": ["Session Start"],
            "duckdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts < {T} GROUP BY uid "
                f"HAVING count(*) >= 3 AND list_sort(list(ts))[3] >= {d30}",
                f"SELECT uid FROM (SELECT uid, ts, row_number() OVER (PARTITION BY uid ORDER BY ts) AS rn "
                f"FROM {{ev}} WHERE et = {{et0}} AND ts < {T}) WHERE rn = 3 AND ts >= {d30}",
            ],
            "chdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts < {T} GROUP BY uid "
                f"HAVING count() >= 3 AND arraySort(groupArray(ts))[3] >= {d30}",
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts < {T} GROUP BY uid "
                f"HAVING count() >= 3 AND arrayElement(groupArraySorted(3)(ts), 3) >= {d30}",
            ],
        },
        "relative_count": {
            "text": 'did("Feature Used") > 2 * did("Session Start") in last 30d',
            "types": ["Feature Used", "Session Start"],
            "duckdb": [
                f"SELECT uid FROM {{ev}} WHERE et IN ({{et0}}, {{et1}}) AND ts >= {d30} AND ts < {T} "
                f"GROUP BY uid "
                f"HAVING count(*) FILTER (WHERE et = {{et0}}) > 2 * count(*) FILTER (WHERE et = {{et1}})",
            ],
            "chdb": [
                f"SELECT uid FROM {{ev}} WHERE et IN ({{et0}}, {{et1}}) AND ts >= {d30} AND ts < {T} "
                f"GROUP BY uid "
                f"HAVING countIf(et = {{et0}}) > 2 * countIf(et = {{et1}})",
            ],
        },
        "user_prop_as_of": {
            "text": 'user.plan == "trial"',
            "types": [],
            "duckdb": [
                f"SELECT uid FROM {{up}} WHERE ts < {T} GROUP BY uid HAVING arg_max(plan, ts) = 'trial'",
            ],
            "chdb": [f"SELECT uid FROM {{up}} WHERE ts < {T} GROUP BY uid HAVING argMax(plan, ts) = 'trial'"],
        },
        "had_user_prop": {
            "text": 'had user.plan == "trial" in last 30d',
            "types": [],
            "duckdb": [
                f"SELECT uid FROM {{up}} WHERE ts < {T} GROUP BY uid "
                f"HAVING bool_or(plan = 'trial' AND ts > {d30}) "
                f"OR arg_max(plan, ts) FILTER (WHERE ts <= {d30}) = 'trial'",
            ],
            "chdb": [
                f"SELECT uid FROM {{up}} WHERE ts < {T} GROUP BY uid "
                f"HAVING countIf(plan = 'trial' AND ts > {d30}) > 0 "
                f"OR argMaxIf(plan, ts, ts <= {d30}) = 'trial'",
            ],
        },
        "calendar_this_month": {
            "zone": ZONE,
            "text": 'did("Session Start") >= 3 in this month',
            "types": ["Session Start"],
            "duckdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts >= {this_start} AND ts < {T} "
                "GROUP BY uid HAVING count(*) >= 3",
            ],
            "chdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts >= {this_start} AND ts < {T} "
                "GROUP BY uid HAVING count() >= 3",
            ],
        },
        "calendar_active_days": {
            "zone": ZONE,
            "text": "active_days(any) >= 5 in last calendar month",
            "types": [],
            "duckdb": [
                f"SELECT uid FROM {{ev}} WHERE ts >= {last_start} AND ts < {this_start} GROUP BY uid "
                f"HAVING count(DISTINCT {local_day}) >= 5",
                f"SELECT uid FROM {{ev}} WHERE ts >= {last_start} AND ts < {this_start} GROUP BY uid "
                f"HAVING count(DISTINCT CAST(timezone('{ZONE}', to_timestamp(ts / 1000)) AS DATE)) >= 5",
            ],
            "chdb": [
                f"SELECT uid FROM {{ev}} WHERE ts >= {last_start} AND ts < {this_start} GROUP BY uid "
                f"HAVING uniqExact({local_day.replace('//', 'DIV')}) >= 5",
                f"SELECT uid FROM {{ev}} WHERE ts >= {last_start} AND ts < {this_start} GROUP BY uid "
                f"HAVING uniqExact(toDate(fromUnixTimestamp64Milli(ts), '{ZONE}')) >= 5",
            ],
        },
        **_newer_conditions(T),
    }


def _newer_conditions(T: int) -> dict[str, dict[str, Any]]:
    """Per-period counts, a window anchored at a first event, the lifecycle shorthands."""
    d30, d60, d28, W = T - 30 * DAY, T - 60 * DAY, T - 28 * DAY, 7 * DAY
    session = ["Session Start"]
    in30 = f"et = {{et0}} AND ts >= {d30} AND ts < {T}"
    return {
        "count_on_days": {
            "text": 'did("Session Start") >= 2 on 3 days in last 30d',
            "types": session,
            "duckdb": [
                f"SELECT uid FROM (SELECT uid FROM {{ev}} WHERE {in30} GROUP BY uid, ts // {DAY} "
                f"HAVING count(*) >= 2) GROUP BY uid HAVING count(*) >= 3",
            ],
            "chdb": [
                f"SELECT uid FROM (SELECT uid FROM {{ev}} WHERE {in30} GROUP BY uid, intDiv(ts, {DAY}) "
                f"HAVING count() >= 2) GROUP BY uid HAVING count() >= 3",
            ],
        },
        "count_on_periods": {
            "text": 'did("Session Start") >= 2 on 2 periods of 1w in last 30d',
            "types": session,
            "duckdb": [
                f"SELECT uid FROM (SELECT uid FROM {{ev}} WHERE {in30} GROUP BY uid, ({T - 1} - ts) // {W} "
                f"HAVING count(*) >= 2) GROUP BY uid HAVING count(*) >= 2",
            ],
            "chdb": [
                f"SELECT uid FROM (SELECT uid FROM {{ev}} WHERE {in30} "
                f"GROUP BY uid, intDiv({T - 1} - ts, {W}) HAVING count() >= 2) "
                f"GROUP BY uid HAVING count() >= 2",
            ],
        },
        "within_of_first": {
            "text": 'did("Feature Used") >= 3 within 7d of first did("Signup Submitted")',
            "types": ["Feature Used", "Signup Submitted"],
            "duckdb": [
                f"WITH a AS (SELECT uid, min(ts) AS a FROM {{ev}} WHERE et = {{et1}} AND ts < {T} "
                f"GROUP BY uid) "
                f"SELECT a.uid FROM a JOIN {{ev}} e ON e.uid = a.uid AND e.et = {{et0}} "
                f"AND e.ts >= a.a AND e.ts < least(a.a + {7 * DAY}, {T}) GROUP BY a.uid HAVING count(*) >= 3",
            ],
            "chdb": [
                f"SELECT a.uid AS uid FROM (SELECT uid, min(ts) AS a FROM {{ev}} "
                f"WHERE et = {{et1}} AND ts < {T} GROUP BY uid) AS a INNER JOIN "
                f"(SELECT uid, ts FROM {{ev}} WHERE et = {{et0}} AND ts < {T}) AS e "
                f"ON e.uid = a.uid WHERE e.ts >= a.a AND e.ts < a.a + {7 * DAY} GROUP BY a.uid "
                f"HAVING count() >= 3",
            ],
        },
        "stopped": {
            "text": 'stopped("Session Start", 30d)',
            "types": session,
            "duckdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts >= {d60} AND ts < {T} GROUP BY uid "
                f"HAVING max(ts) < {d30}",
            ],
            "chdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts >= {d60} AND ts < {T} GROUP BY uid "
                f"HAVING max(ts) < {d30}",
            ],
        },
        "restarted": {
            "text": 'restarted("Session Start", 30d)',
            "types": session,
            "duckdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts < {T} GROUP BY uid "
                f"HAVING max(ts) >= {d30} AND min(ts) < {d60} "
                f"AND count(*) FILTER (WHERE ts >= {d60} AND ts < {d30}) = 0",
            ],
            "chdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts < {T} GROUP BY uid "
                f"HAVING max(ts) >= {d30} AND min(ts) < {d60} AND countIf(ts >= {d60} AND ts < {d30}) = 0",
            ],
        },
        "regularly": {
            "text": 'regularly("Session Start", 1w, 3 of 4)',
            "types": session,
            "duckdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts >= {d28} AND ts < {T} GROUP BY uid "
                f"HAVING count(DISTINCT ({T - 1} - ts) // {W}) >= 3",
            ],
            "chdb": [
                f"SELECT uid FROM {{ev}} WHERE et = {{et0}} AND ts >= {d28} AND ts < {T} GROUP BY uid "
                f"HAVING uniqExact(intDiv({T - 1} - ts, {W})) >= 3",
            ],
        },
    }


def dense_layout(events: Path, out: Path) -> tuple[list[str], list[str]]:
    """(event types, user ids) of the dense layout: codes are positions in these lists."""
    t = pq.read_table(events, columns=["user_id", "event_type", "time"])
    types = sorted(pc.unique(t["event_type"]).to_pylist())
    et = pc.index_in(t["event_type"], value_set=pa.array(types)).cast(pa.uint16())
    encoded = pc.dictionary_encode(t["user_id"]).combine_chunks()
    dense = pa.table({"et": et, "uid": encoded.indices.cast(pa.uint32()), "ts": t["time"].cast(pa.int64())})
    dense = dense.sort_by([("et", "ascending"), ("uid", "ascending"), ("ts", "ascending")])
    pq.write_table(dense, out)
    return types, encoded.dictionary.to_pylist()


class Cohortd:
    name = "cohortd"

    def __init__(self, events: Path, workdir: Path, T: int, history: pa.Table, users: list[str]) -> None:
        from cohortd.engine.engine import Engine

        self.engine = Engine.open(workdir / "cohortd", clock=lambda: T)
        for batch in pq.ParquetFile(events).iter_batches(batch_size=1 << 20):
            self.engine.ingest(pa.Table.from_batches([batch]))
        ids = pa.array(users).take(history.column("uid"))
        self.engine.upsert_user_properties(
            pa.table({"user_id": ids, "plan": history.column("plan"), "time": history.column("ts")})
        )
        self.engine.seal()
        self.T = T
        self.version = "rust kernel"

    def size(self, c: dict[str, Any]) -> int:
        return len(self.engine.evaluate(c["text"], as_of=self.T, kernel="rust").bitmap)

    def members(self, c: dict[str, Any]) -> list[str]:
        return sorted(self.engine.evaluate(c["text"], as_of=self.T, kernel="rust").members())

    def close(self) -> None:
        self.engine.close()


class SQL:
    def __init__(
        self, name: str, dense: Path, workdir: Path, types: list[str], users: list[str], history: Path
    ) -> None:
        self.name, self.types, self.users = name, types, users
        if name == "duckdb":
            import duckdb

            self.version = duckdb.__version__
            self.con = duckdb.connect()
            self.con.sql(f"CREATE TABLE ev AS SELECT * FROM read_parquet('{dense}') ORDER BY et, uid, ts")
            self.con.sql(f"CREATE TABLE up AS SELECT * FROM read_parquet('{history}') ORDER BY uid, ts")
            self.table, self.props = "ev", "up"
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
            self.sess.query("DROP TABLE IF EXISTS b.up")
            self.sess.query(
                "CREATE TABLE b.up (uid UInt32, ts Int64, plan String) ENGINE = MergeTree ORDER BY (uid, ts)"
            )
            self.sess.query(f"INSERT INTO b.up SELECT uid, ts, plan FROM file('{history}', Parquet)")
            self.table, self.props = "b.ev", "b.up"

    def statement(self, c: dict[str, Any], i: int) -> str:
        codes = {
            f"et{k}": self.types.index(t) if t in self.types else 65535 for k, t in enumerate(c["types"])
        }
        return c[self.name][i].format(ev=self.table, up=self.props, **codes)

    def uids(self, sql: str) -> list[int]:
        if self.name == "duckdb":
            return [r[0] for r in self.con.sql(sql).fetchall()]
        return self.sess.query(sql, "ArrowTable").column("uid").to_pylist()

    def members(self, c: dict[str, Any], i: int) -> list[str]:
        return sorted(self.users[u] for u in self.uids(self.statement(c, i)))

    def size(self, c: dict[str, Any], i: int) -> int:
        return len(self.uids(self.statement(c, i)))

    def close(self) -> None:
        if self.name == "duckdb":
            self.con.close()
        else:
            self.sess.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument(
        "--distribution",
        choices=("generator", "skewed"),
        default="generator",
        help="compare_engines' data: cohortd.synth's stream, or Zipf types / Pareto activity",
    )
    p.add_argument("--end-date", default="2026-01-01")
    p.add_argument("--data-dir", default=str(HERE / ".data"))
    p.add_argument("--out", default=str(HERE / "results" / "language_bench.json"))
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    T = end_ms_of(args.end_date)
    events, _, n_events = ensure_data(args, T)
    workdir = Path(tempfile.mkdtemp(prefix="language-bench-"))
    engines: dict[str, Any] = {}
    try:
        types, users = dense_layout(events, workdir / "dense.parquet")
        history = plan_history(users, T, args.seed)
        pq.write_table(history, workdir / "history.parquet")
        engines["cohortd"] = Cohortd(events, workdir, T, history, users)
        for name in ("duckdb", "chdb"):
            engines[name] = SQL(
                name, workdir / "dense.parquet", workdir, types, users, workdir / "history.parquet"
            )
        results: dict[str, Any] = {}
        all_agree = True
        for cname, c in constructs(T).items():
            engines["cohortd"].engine.set_time_zone(c.get("zone", "UTC"))  # the project zone of the row
            want = engines["cohortd"].members(c)  # also the warm-up
            fns = {"cohortd": lambda c=c: engines["cohortd"].size(c)}
            agree = True
            for e in ("duckdb", "chdb"):
                for i in range(len(c[e])):
                    agree &= engines[e].members(c, i) == want
                    fns[f"{e}#{i}"] = lambda e=e, i=i, c=c: engines[e].size(c, i)
            runs = time_round_robin(fns, args.repeat)
            med = {k: round(statistics.median(v[0]), 2) for k, v in runs.items()}
            best = {e: min(v for k, v in med.items() if k.startswith(e + "#")) for e in ("duckdb", "chdb")}
            best_sql = min(best.values())
            results[cname] = {
                "text": c["text"],
                "members": len(want),
                "agree": agree,
                "median_ms": {"cohortd": med["cohortd"], **best},
                "median_ms_per_spelling": med,
                "sql": {
                    e: [engines[e].statement(c, i) for i in range(len(c[e]))] for e in ("duckdb", "chdb")
                },
                "ratio_best_sql_over_cohortd": round(best_sql / med["cohortd"], 2)
                if med["cohortd"]
                else None,
                "goal_10x": bool(med["cohortd"]) and best_sql / med["cohortd"] >= 10,
            }
            all_agree &= agree
            print(
                f"{cname}: {c['text']}  members {len(want):,}  cohortd {med['cohortd']:.1f} ms  "
                f"duckdb {best['duckdb']:.1f} ms  chdb {best['chdb']:.1f} ms  "
                f"best SQL / cohortd {results[cname]['ratio_best_sql_over_cohortd']}x  "
                f"{'agree' if agree else 'MISMATCH'}"
            )
        report = {
            "config": {
                "users": args.users, "events": n_events, "days": args.days, "as_of_ms": T,
                "distribution": args.distribution,
                "repeat": args.repeat, "engines": {e: engines[e].version for e in engines},
                "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                "python": platform.python_version(),
            },
            "agree": all_agree,
            "constructs": results,
        }  # fmt: skip
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")
        return 0 if all_agree else 1
    finally:
        for e in engines.values():
            e.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
