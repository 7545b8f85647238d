#!/usr/bin/env python
"""Analyses in cohortd vs DuckDB vs chDB: same data, same answers, same run.

Four analyses on the synthetic SaaS stream (``cohortd.synth``, cached like
``compare_engines.py``), at the generator's end as the as-of time T:

* ``retention_8w``: weekly retention of users whose first ``Signup Submitted``
  is in ``[T-120d, T-60d)``, returning with ``Session Start``, 8 periods;
* ``funnel_4step_7d``: Signup Submitted → Onboarding Started → First Feature
  Used → Subscription Started, entries in ``[T-90d, T-30d)``, 7-day window;
* ``backtest``: ``did("paywall_modal_viewed") >= 3 in last 14d`` at A = T-45d
  against the rest of the known users, outcome ``did("Subscription Started") in
  last 30d`` at A + 30d;
* ``journeys_depth3``: paths of 3 after and before each user's first
  ``paywall_modal_viewed`` in ``[T-30d, T)``, 30 minutes each way.

The SQL engines get their best layout: dense integer user and event-type ids
(types numbered in name order, so ``ORDER BY ts, et`` is cohortd's tie-break),
integer epoch-ms times, rows sorted by ``(event_type, user, time)``; chDB as a
MergeTree ordered by that key.  Funnels use ``windowFunnel(W,
'strict_increase')`` in chDB and chained ASOF joins in DuckDB; retention uses
ClickHouse's ``retention()``.  Every engine's answer is compared (exit status 1
on a mismatch), then ``--repeat`` warm rounds are timed (each engine once per
round) and medians and ``min(duckdb, chdb) / cohortd`` ratios go to ``--out``.

    python benchmarks/analysis_bench.py --users 2000 --events 100000 --repeat 1   # smoke
    python benchmarks/analysis_bench.py                                           # 1M users / 10M events
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
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare_engines import end_ms_of, ensure_data, time_round_robin  # noqa: E402  same data cache

DAY, MIN = 86_400_000, 60_000
WEEK = 7 * DAY
END = "(end)"
ENGINES = ("cohortd", "duckdb", "chdb")


# ---------------------------------------------------------------------- the analyses
class Spec:
    """Parameters of the four analyses at as-of time T (every engine reads these)."""

    def __init__(self, T: int) -> None:
        self.T = T
        self.retention = {
            "start": "Signup Submitted",
            "back": "Session Start",
            "lo": T - 120 * DAY,
            "hi": T - 60 * DAY,
            "period": WEEK,
            "periods": 8,
        }
        self.funnel = {
            "steps": ["Signup Submitted", "Onboarding Started", "First Feature Used", "Subscription Started"],
            "lo": T - 90 * DAY,
            "hi": T - 30 * DAY,
            "window": 7 * DAY,
        }
        self.backtest = {
            "A": T - 45 * DAY,
            "event": "paywall_modal_viewed",
            "at_least": 3,
            "lookback": 14 * DAY,
            "outcome": "Subscription Started",
            "horizon": 30 * DAY,
        }
        self.journeys = {
            "anchor": "paywall_modal_viewed",
            "lo": T - 30 * DAY,
            "hi": T,
            "after": 30 * MIN,
            "before": 30 * MIN,
            "depth": 3,
        }


def _answer_retention(users: list[int], retained: list[int]) -> dict[str, Any]:
    return {"users": [int(x) for x in users], "retained": [int(x) for x in retained]}


def _paths(rows: list[tuple[list[str], int]], depth: int, before: bool) -> dict[str, int]:
    """{"A > B > (end)": users} with (end) where a short path runs out (like cohortd)."""
    out: dict[str, int] = {}
    for names, n in rows:
        names = list(names)
        if len(names) < depth:
            names = [END, *names] if before else [*names, END]
        key = " > ".join(names)
        out[key] = out.get(key, 0) + int(n)
    return out


class Cohortd:
    name = "cohortd"

    def __init__(self, events: Path, users: Path, workdir: Path, spec: Spec, kernel: str = "rust") -> None:
        from cohortd.service import Workspace

        self.ws = Workspace(workdir / "cohortd")
        self.p = self.ws.project()
        for batch in pq.ParquetFile(events).iter_batches(batch_size=1 << 20):
            self.p.engine.ingest(pa.Table.from_batches([batch]))
        self.p.engine.upsert_user_properties(pq.read_table(users))
        self.p.engine.seal()
        self.spec, self.kernel = spec, kernel
        self.version = "rust kernel" if kernel == "rust" else kernel

    def retention(self) -> dict[str, Any]:
        r = self.spec.retention
        out = self.p.retention(
            f'"{r["start"]}"',
            f'"{r["back"]}"',
            r["lo"],
            r["hi"],
            period=f"{r['period']}ms",
            periods=r["periods"],
            as_of=self.spec.T,
            baseline="none",
            kernel=self.kernel,
        )
        return _answer_retention(
            [q.users for q in out.population.curve], [q.retained for q in out.population.curve]
        )

    def funnel(self) -> dict[str, Any]:
        f = self.spec.funnel
        out = self.p.funnel(
            [f'"{s}"' for s in f["steps"]],
            f["lo"],
            f["hi"],
            window=f"{f['window']}ms",
            as_of=self.spec.T,
            kernel=self.kernel,
        )
        return {"users": [s.users for s in out.steps]}

    def backtest(self) -> dict[str, Any]:
        b = self.spec.backtest
        run = self.p.backtest(
            definition=f'did("{b["event"]}") >= {b["at_least"]} in last {b["lookback"] // DAY}d',
            outcome=f'did("{b["outcome"]}") in last {b["horizon"] // DAY}d',
            horizon=f"{b['horizon'] // DAY}d",
            as_of=b["A"],
        ).runs[0]
        return {
            "cohort": [run.cohort.size, run.cohort.converted],
            "rest": [run.baseline.size, run.baseline.converted],
        }

    def journeys(self, top: int = 10) -> dict[str, Any]:
        j = self.spec.journeys
        out = self.p.journeys(
            f'"{j["anchor"]}"',
            j["lo"],
            j["hi"],
            after=f"{j['after']}ms",
            before=f"{j['before']}ms",
            depth=j["depth"],
            top=top,
            as_of=self.spec.T,
            kernel=self.kernel,
        )
        return {
            "users": out.users,
            "after": {" > ".join(p.path): p.users for p in out.after},
            "before": {" > ".join(p.path): p.users for p in out.before},
        }

    def close(self) -> None:
        self.ws.close()


class SQL:
    """DuckDB or chDB over the dense, sorted layout; one method per analysis."""

    def __init__(self, name: str, dense: Path, types: list[str], workdir: Path, spec: Spec) -> None:
        self.name, self.spec = name, spec
        self.types = types
        self.id = {t: i for i, t in enumerate(types)}
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

    def rows(self, sql: str) -> list[tuple]:
        if self.name == "duckdb":
            return self.con.sql(sql).fetchall()
        table = self.sess.query(sql, "ArrowTable")
        return [tuple(r.values()) for r in table.to_pylist()]

    @property
    def ev(self) -> str:
        return "ev" if self.name == "duckdb" else "b.ev"

    # ---- retention
    def retention(self) -> dict[str, Any]:
        r, T = self.spec.retention, self.spec.T
        P, K = r["period"], r["periods"]
        s = (
            f"SELECT uid, min(ts) AS st FROM {self.ev} WHERE et = {self.id[r['start']]} AND ts >= {r['lo']} "
            f"AND ts < {min(r['hi'], T)} GROUP BY uid"
        )
        if self.name == "duckdb":
            sql = (
                f"WITH s AS ({s}), "
                f"r AS (SELECT DISTINCT e.uid, (e.ts - s.st) // {P} AS k FROM ev e JOIN s ON e.uid = s.uid "
                f"WHERE e.et = {self.id[r['back']]} AND e.ts >= s.st AND e.ts < {T} "
                f"AND e.ts < s.st + {K * P}), "
                f"d AS (SELECT t.k, count(*) AS users FROM s CROSS JOIN range({K}) t(k) "
                f"WHERE s.st + (t.k + 1) * {P} <= {T} GROUP BY t.k), "
                f"x AS (SELECT r.k, count(*) AS kept FROM r JOIN s USING (uid) "
                f"WHERE s.st + (r.k + 1) * {P} <= {T} "
                f"GROUP BY r.k) "
                f"SELECT d.k, d.users, coalesce(x.kept, 0) FROM d LEFT JOIN x USING (k) ORDER BY d.k"
            )
            got = {int(k): (int(u), int(n)) for k, u, n in self.rows(sql)}
            return _answer_retention(
                [got.get(k, (0, 0))[0] for k in range(K)], [got.get(k, (0, 0))[1] for k in range(K)]
            )
        # ClickHouse: retention(cond1, cond2, ...) per user; denominators from the starts themselves
        conds = ", ".join(f"e.ts >= s.st + {k * P} AND e.ts < s.st + {(k + 1) * P}" for k in range(K))
        kept = ", ".join(f"sum(r[{k + 2}] * (start_ts + {(k + 1) * P} <= {T}))" for k in range(K))
        users = ", ".join(f"sum(st + {(k + 1) * P} <= {T})" for k in range(K))
        back = (
            f"SELECT {kept} FROM (SELECT e.uid, any(s.st) AS start_ts, retention(1, {conds}) AS r "
            f"FROM b.ev AS e INNER JOIN ({s}) AS s ON e.uid = s.uid "
            f"WHERE e.et = {self.id[r['back']]} AND e.ts >= s.st AND e.ts < {T} GROUP BY e.uid)"
        )
        kept_row = self.rows(back)[0]
        users_row = self.rows(f"SELECT {users} FROM ({s})")[0]
        return _answer_retention(list(users_row), [0 if v is None else v for v in kept_row])

    # ---- funnel
    def funnel(self) -> dict[str, Any]:
        f, T = self.spec.funnel, self.spec.T
        ids = [self.id[s] for s in f["steps"]]
        lo, hi, W = f["lo"], min(f["hi"], T), f["window"]
        if self.name == "chdb":
            conds = ", ".join(
                [f"et = {ids[0]} AND ts >= {lo} AND ts < {hi}"] + [f"et = {i}" for i in ids[1:]]
            )
            levels = ", ".join(f"countIf(level >= {k})" for k in range(1, len(ids) + 1))
            sql = (
                f"SELECT {levels} FROM (SELECT uid, "
                f"windowFunnel({W}, 'strict_increase')(toUInt64(ts), {conds}) "
                f"AS level FROM b.ev WHERE et IN ({', '.join(map(str, ids))}) AND ts >= {lo} AND ts < {T} "
                f"GROUP BY uid)"
            )
            return {"users": [int(x) for x in self.rows(sql)[0]]}
        # DuckDB: chained ASOF joins; each step keeps the latest chain start before it (the shortest span)
        ctes = [
            f"c1 AS (SELECT uid, ts, ts AS first FROM ev WHERE et = {ids[0]} AND ts >= {lo} AND ts < {hi})"
        ]
        for k, i in enumerate(ids[1:], 2):
            ctes.append(f"e{k} AS (SELECT uid, ts FROM ev WHERE et = {i} AND ts >= {lo} AND ts < {T})")
            ctes.append(
                f"c{k} AS (SELECT e.uid, e.ts, c.first FROM e{k} e ASOF JOIN c{k - 1} c "
                f"ON e.uid = c.uid AND e.ts > c.ts)"
            )
        counts = ", ".join(
            ["(SELECT count(DISTINCT uid) FROM c1)"]
            + [
                f"(SELECT count(DISTINCT uid) FROM c{k} WHERE ts - first <= {W})"
                for k in range(2, len(ids) + 1)
            ]
        )
        return {"users": [int(x) for x in self.rows(f"WITH {', '.join(ctes)} SELECT {counts}")[0]]}

    # ---- backtest
    def backtest(self) -> dict[str, Any]:
        b = self.spec.backtest
        A, ev = b["A"], self.ev
        known = f"SELECT DISTINCT uid FROM {ev} WHERE ts < {A}"
        cohort = (
            f"SELECT uid FROM {ev} WHERE et = {self.id[b['event']]} AND ts >= {A - b['lookback']} "
            f"AND ts < {A} "
            f"GROUP BY uid HAVING count(*) >= {b['at_least']}"
        )
        outcome = (
            f"SELECT DISTINCT uid FROM {ev} WHERE et = {self.id[b['outcome']]} AND ts >= {A} "
            f"AND ts < {A + b['horizon']}"
        )
        sql = (
            f"SELECT (SELECT count(*) FROM ({known}) k), "
            f"(SELECT count(*) FROM ({known}) k WHERE uid IN ({outcome})), "
            f"(SELECT count(*) FROM ({cohort}) c), "
            f"(SELECT count(*) FROM ({cohort}) c WHERE uid IN ({outcome}))"
        )
        k, k_out, c, c_out = (int(x) for x in self.rows(sql)[0])
        return {"cohort": [c, c_out], "rest": [k - c, k_out - c_out]}

    # ---- journeys
    def journeys(self, top: int = 10) -> dict[str, Any]:
        j, T = self.spec.journeys, self.spec.T
        a = (
            f"SELECT uid, min(ts) AS at FROM {self.ev} WHERE et = {self.id[j['anchor']]} AND ts >= {j['lo']} "
            f"AND ts < {min(j['hi'], T)} GROUP BY uid"
        )
        B, F, d = j["before"], j["after"], j["depth"]
        if self.name == "duckdb":
            near = (
                f"SELECT e.uid, e.ts, e.et, e.ts > a.at AS aft FROM ev e JOIN a ON e.uid = a.uid "
                f"WHERE e.ts >= a.at - {B} AND e.ts <= a.at + {F} AND e.ts <> a.at AND e.ts < {T}"
            )
            sql = (
                f"WITH a AS ({a}), n AS ({near}), "
                "c AS (SELECT uid, aft, ts, et, "
                "lag(et) OVER (PARTITION BY uid, aft ORDER BY ts, et) AS prev FROM n), "
                "d AS (SELECT uid, aft, et, row_number() OVER (PARTITION BY uid, aft ORDER BY ts, et) AS rn, "
                "row_number() OVER (PARTITION BY uid, aft ORDER BY ts DESC, et DESC) AS rb FROM c "
                "WHERE prev IS NULL OR prev <> et), "
                f"p AS (SELECT a.uid, list(d.et ORDER BY d.rn) FILTER (WHERE d.aft AND d.rn <= {d}) AS af, "
                f"list(d.et ORDER BY d.rn) FILTER (WHERE NOT d.aft AND d.rb <= {d}) AS bf "
                "FROM a LEFT JOIN d ON a.uid = d.uid GROUP BY a.uid) "
                "SELECT af, bf, count(*) FROM p GROUP BY af, bf"
            )
            rows = self.rows(sql)
            total = sum(int(n) for *_, n in rows)
            after = [([self.types[i] for i in (af or [])], n) for af, _, n in rows]
            before = [([self.types[i] for i in (bf or [])], n) for _, bf, n in rows]
        else:
            collapse = "arrayFilter((x, i) -> i = 1 OR x != {s}[i - 1], {s}, arrayEnumerate({s}))"
            sa = "arrayMap(p -> p.2, arraySort(groupArrayIf((e.ts, e.et), e.ts > a.at)))"
            sb = "arrayMap(p -> p.2, arraySort(groupArrayIf((e.ts, e.et), e.ts < a.at)))"
            sql = (
                f"SELECT arraySlice({collapse.format(s='sa')}, 1, {d}) AS af, "
                f"arraySlice({collapse.format(s='sb')}, -{d}) AS bf, count() FROM ("
                f"SELECT e.uid, {sa} AS sa, {sb} AS sb FROM b.ev AS e INNER JOIN ({a}) AS a ON e.uid = a.uid "
                f"WHERE e.ts >= a.at - {B} AND e.ts <= a.at + {F} AND e.ts != a.at AND e.ts < {T} "
                "GROUP BY e.uid) "
                "GROUP BY af, bf"
            )
            rows = self.rows(sql)
            total = int(self.rows(f"SELECT count() FROM ({a})")[0][0])
            missing = total - sum(int(n) for *_, n in rows)  # anchored users with no event near the anchor
            if missing:
                rows.append(([], [], missing))
            after = [([self.types[i] for i in af], n) for af, _, n in rows]
            before = [([self.types[i] for i in bf], n) for _, bf, n in rows]
        a_paths, b_paths = _paths(after, d, False), _paths(before, d, True)
        return {"users": total, "after": _top(a_paths, top), "before": _top(b_paths, top)}

    def close(self) -> None:
        if self.name == "duckdb":
            self.con.close()
        else:
            self.sess.close()


def _top(paths: dict[str, int], top: int) -> dict[str, int]:
    order = sorted(paths.items(), key=lambda kv: (-kv[1], kv[0].split(" > ")))[:top]
    return dict(order)


def dense_layout(events: Path, out: Path) -> list[str]:
    """The best layout for the SQL engines: dense ids, integer ms, sorted by (type, user, time)."""
    t = pq.read_table(events, columns=["user_id", "event_type", "time"])
    types = sorted(pc.unique(t["event_type"]).to_pylist())
    et = pc.index_in(t["event_type"], value_set=pa.array(types)).cast(pa.uint16())
    uid = pc.dictionary_encode(t["user_id"]).combine_chunks().indices.cast(pa.uint32())
    ts = t["time"].cast(pa.int64())
    dense = pa.table({"et": et, "uid": uid, "ts": ts})
    dense = dense.sort_by([("et", "ascending"), ("uid", "ascending"), ("ts", "ascending")])
    pq.write_table(dense, out)
    return types


ANALYSES = ("retention_8w", "funnel_4step_7d", "backtest", "journeys_depth3")
METHOD = {
    "retention_8w": "retention",
    "funnel_4step_7d": "funnel",
    "backtest": "backtest",
    "journeys_depth3": "journeys",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=10_000_000, help="target number of events")
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=5, help="timed warm rounds")
    p.add_argument("--end-date", default="2026-01-01", help="generator end (= as-of time T)")
    p.add_argument("--data-dir", default=str(HERE / ".data"), help="generated-data cache")
    p.add_argument("--out", default=str(HERE / "results" / "analysis_bench.json"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    T = end_ms_of(args.end_date)
    spec = Spec(T)
    events, users, n_events = ensure_data(args, T)
    workdir = Path(tempfile.mkdtemp(prefix="analysis-bench-"))
    engines: dict[str, Any] = {}
    load_s: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        engines["cohortd"] = Cohortd(events, users, workdir, spec)
        load_s["cohortd"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        types = dense_layout(events, workdir / "dense.parquet")
        load_s["dense_layout"] = time.perf_counter() - t0
        for name in ("duckdb", "chdb"):
            t0 = time.perf_counter()
            engines[name] = SQL(name, workdir / "dense.parquet", types, workdir, spec)
            load_s[name] = time.perf_counter() - t0
        print("load (s): " + ", ".join(f"{k} {v:.1f}" for k, v in load_s.items()))

        agree = True
        results = []
        for analysis in ANALYSES:
            method = METHOD[analysis]
            answers = {e: getattr(engines[e], method)() for e in ENGINES}  # also the warm-up
            if method == "journeys":  # every path, not only the top 10, must agree
                full = {e: engines[e].journeys(top=10**9) for e in ENGINES}
                same = all(full[e] == full["cohortd"] for e in ENGINES)
            else:
                same = all(answers[e] == answers["cohortd"] for e in ENGINES)
            agree &= same
            runs = time_round_robin({e: getattr(engines[e], method) for e in ENGINES}, args.repeat)
            med = {e: round(statistics.median(runs[e][0]), 3) for e in ENGINES}
            best_sql = min(med["duckdb"], med["chdb"])
            row = {
                "name": analysis,
                "agree": same,
                "answer": answers["cohortd"],
                "median_ms": med,
                "min_max_ms": {e: [round(min(runs[e][0]), 3), round(max(runs[e][0]), 3)] for e in ENGINES},
                "ratio_best_sql_over_cohortd": round(best_sql / med["cohortd"], 3)
                if med["cohortd"]
                else None,
            }
            if not same:
                row["answers"] = answers
            results.append(row)
            status = "ok" if same else "MISMATCH"
            ratio = row["ratio_best_sql_over_cohortd"]
            print(
                f"{analysis:18s} cohortd {med['cohortd']:9.2f} ms  duckdb {med['duckdb']:9.2f} ms  "
                f"chdb {med['chdb']:9.2f} ms  best SQL / cohortd {ratio}x  {status}"
            )
            if not same:
                print(json.dumps(answers, indent=1)[:4000])
        report = {
            "config": {
                "users": args.users,
                "events": n_events,
                "days": args.days,
                "seed": args.seed,
                "repeat": args.repeat,
                "as_of": T,
                "engines": {e: engines[e].version for e in ENGINES},
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "python": platform.python_version(),
                "load_s": {k: round(v, 2) for k, v in load_s.items()},
            },
            "agree": agree,
            "analyses": results,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")
        return 0 if agree else 1
    finally:
        for e in engines.values():
            e.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
