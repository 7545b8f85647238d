#!/usr/bin/env python
"""cohortd vs DuckDB vs chDB: the same cohorts, on the same data, in the same run.

1. Generates a synthetic SaaS stream with :func:`cohortd.synth.generate`, or with
   ``--distribution skewed`` Zipf event types / Pareto activity / minute-rounded times
   (cached under ``benchmarks/.data/`` keyed by the arguments and the generator's source).
2. Gives the peers their best native layouts (``benchmarks/README.md`` says why): dense
   integer ids; DuckDB sorted by ``(event_type, uid, ts)``; chDB MergeTrees ordered by
   ``(event_type, uid, time)`` and by ``(uid, time)``, each query on the faster one.
   cohortd loads the original string ids (``Engine``: ingest, user properties, seal).
   Measures one core's memory bandwidth and, per query, the rows/bytes its conditions
   must read: ``floor_ms`` = bytes / bandwidth.
3. Evaluates every cohort once in every engine, compares the member sets
   (a mismatch table is printed and the exit status is 1 when any engine
   disagrees), then times ``--repeat`` warm rounds (every engine once per round)
   and writes the medians and the ratios ``min(duckdb, chdb) / cohortd_rust``
   and ``numba / rust`` to ``--out`` (JSON).

The SQL follows ``COHORT_LANGUAGE.md`` to the letter: the as-of time ``T`` is the
generator's ``end_ms``; windows are half-open ``[start, end)``; the users known at
``T`` are the users with an event before ``T`` and ``not`` is the complement among
them; counts of 0 are included for ``< n`` / ``== 0``; percentile cohorts take
``N`` = known users, ``q`` = the metric at 1-based position ``ceil(P/100*N)``
after sorting descending (computed in integers), members have ``M > 0`` and
``M >= q``; sequences need strictly increasing times, all events inside the
window and ``en - e1 <= within``.  DuckDB evaluates sequences with ``ASOF`` joins
(latest earlier step, which maximises the chain start); ClickHouse uses
``windowFunnel(within)(..., 'strict_increase')`` -- the member check confirms
both readings agree with cohortd.

    python benchmarks/compare_engines.py --users 2000 --events 100000 --repeat 3   # smoke
    python benchmarks/compare_engines.py                                           # 1M users / 10M events
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DAY = 86_400_000
HOUR = 3_600_000
DEFAULT_END = "2026-01-01"  # fixed so numbers compare across commits
ENGINES = ("duckdb", "chdb", "rust", "numba")
COLUMN = {"duckdb": "duckdb", "chdb": "chdb", "rust": "cohortd_rust", "numba": "cohortd_numba"}


# ------------------------------------------------------------------ dialects
@dataclass(frozen=True)
class Dialect:
    """The little that differs between DuckDB and ClickHouse SQL here."""

    name: str
    events: str
    users: str
    t: str  # time column as compared with literals

    def lit(self, ms: int) -> str:
        if self.name == "duckdb":
            return str(ms)  # DuckDB stores epoch ms (BIGINT ts)
        return f"fromUnixTimestamp64Milli(toInt64({ms}), 'UTC')"

    def ms(self) -> str:
        """Epoch-ms integer expression of the event time."""
        return "ts" if self.name == "duckdb" else "toUnixTimestamp64Milli(time)"

    def win(self, start: int | None, end: int) -> str:
        lo = "" if start is None else f"{self.t} >= {self.lit(start)} AND "
        return f"({lo}{self.t} < {self.lit(end)})"

    def cnt(self, cond: str) -> str:
        return f"count(*) FILTER (WHERE {cond})" if self.name == "duckdb" else f"countIf({cond})"

    def cnt_distinct(self, expr: str, cond: str) -> str:
        if self.name == "duckdb":
            return f"count(DISTINCT {expr}) FILTER (WHERE {cond})"
        return f"uniqExactIf({expr}, {cond})"

    def idiv(self, a: str, b: str) -> str:
        return f"({a}) // ({b})" if self.name == "duckdb" else f"intDiv({a}, {b})"

    def kth_desc(self, metric: str, k: str) -> str:
        """Aggregate: value at 1-based position k of the metric sorted descending."""
        if self.name == "duckdb":
            return f"list_sort(list({metric}), 'DESC')[{k}]"
        return f"arrayReverseSort(groupArray({metric}))[{k}]"


DUCK = Dialect("duckdb", "events", "users", "ts")
CH = Dialect("chdb", "bench.events", "bench.users", "time")
# the second chDB ordering, (uid, time): used for a query when it is faster there (measured)
CH_BY_USER = Dialect("chdb", "bench.events_by_user", "bench.users", "time")


def et(name: str) -> str:
    return "event_type = '" + name.replace("'", "''") + "'"


def known(d: Dialect, T: int, having: str, since: int | None = None) -> str:
    """Users known at T (an event before T) whose conditional aggregates satisfy ``having``.

    ``since`` prunes rows before it: only valid when ``having`` looks at nothing earlier
    *and* implies at least one event at or after ``since`` (so the user is known anyway).
    """
    return f"SELECT uid FROM {d.events} WHERE {d.win(since, T)} GROUP BY uid HAVING {having}"


def users_with(d: Dialect, cond: str) -> str:
    """Users with at least one event matching ``cond`` (which includes its window)."""
    return f"SELECT DISTINCT uid FROM {d.events} WHERE {cond}"


def percentile(d: Dialect, T: int, pct: int, metric: str) -> str:
    """``top pct% by metric``: N = known users, q = metric at ceil(pct/100*N), M > 0 and M >= q."""
    k = d.idiv(f"{pct} * count(*) + 99", "100")
    return (
        f"WITH m AS (SELECT uid, {metric} AS metric FROM {d.events} WHERE {d.t} < {d.lit(T)} "
        f"GROUP BY uid), "
        f"q AS (SELECT {d.kth_desc('metric', k)} AS q FROM m) "
        f"SELECT m.uid FROM m, q WHERE m.metric > 0 AND m.metric >= q.q"
    )


def sequence(d: Dialect, T: int, steps: list[str], within: int | None, start: int) -> str:
    """Users with e1 < e2 < ... < en (strict), all in [start, T), and en - e1 <= within."""
    if d.name == "chdb":
        w = within if within is not None else T - start
        conds = ", ".join(f"{et(s)} AND {d.win(start, T)}" for s in steps)
        funnel = f"windowFunnel({w}, 'strict_increase')(toUInt64({d.ms()}), {conds})"
        return known(d, T, f"{funnel} = {len(steps)}", since=start)
    # DuckDB: chain ASOF joins; each step keeps the latest chain start reachable before it
    ctes = [f"w AS (SELECT uid, event_type, ts FROM events WHERE {d.win(start, T)})"]
    for i, s in enumerate(steps, 1):
        ctes.append(f"e{i} AS (SELECT uid, ts FROM w WHERE {et(s)})")
    ctes.append("c1 AS (SELECT uid, ts, ts AS first FROM e1)")
    for i in range(2, len(steps) + 1):
        ctes.append(
            f"c{i} AS (SELECT e.uid, e.ts, c.first FROM e{i} e "
            f"ASOF JOIN c{i - 1} c ON e.uid = c.uid AND e.ts > c.ts)"
        )
    limit = "" if within is None else f" WHERE ts - first <= {within}"
    return f"WITH {', '.join(ctes)} SELECT DISTINCT uid FROM c{len(steps)}{limit}"


# -------------------------------------------------------------------- cohorts
@dataclass(frozen=True)
class Touch:
    """Rows an evaluation must read: event types (None = any) in [T - lo_days, T - hi_days)."""

    types: tuple[str, ...] | None
    lo_days: int
    hi_days: int = 0
    extra_bytes: int = 0  # property bytes per row on top of user (4) + time (8)


@dataclass(frozen=True)
class Query:
    name: str
    cohort: str | None  # cohortd text; None for an overlap of two other queries
    sql: Callable[[Dialect, int], str] | None  # members SQL
    overlap: tuple[str, str] | None = None
    touches: tuple[Touch, ...] = ()
    per_user_bytes: int = 0  # per-user state the evaluation must read (first-seen times)


def _new_users(d: Dialect, T: int) -> str:
    sessions = d.cnt(f"{et('Session Start')} AND {d.win(T - 7 * DAY, T)}")
    return known(d, T, f"min({d.t}) >= {d.lit(T - 7 * DAY)} AND {sessions} < 3")


def _power(d: Dialect, T: int) -> str:
    return percentile(d, T, 20, d.cnt(d.win(T - 30 * DAY, T)))


def _churning(d: Dialect, T: int) -> str:
    # the first condition needs an event in [T-90d, T-60d): rows before T-90d cannot matter
    having = f"{d.cnt(d.win(T - 90 * DAY, T - 60 * DAY))} > 0 AND {d.cnt(d.win(T - 30 * DAY, T))} = 0"
    return known(d, T, having, since=T - 90 * DAY)


def _upgrade(d: Dialect, T: int) -> str:
    return (
        f"SELECT uid FROM {d.events} WHERE {et('paywall_modal_viewed')} AND {d.win(T - 14 * DAY, T)} "
        f"GROUP BY uid HAVING count(*) >= 3 AND uid IN "
        f"(SELECT uid FROM {d.users} WHERE plan = 'free' AND projects_created > 4)"
    )


def _activation(d: Dialect, T: int) -> str:
    seq = sequence(d, T, ["Signup Submitted", "First Feature Used"], 7 * DAY, T - 30 * DAY)
    # sequence members are known users, so "and not did(...)" is a plain anti-join here
    subscribed = users_with(d, f"{et('Subscription Started')} AND {d.win(T - 30 * DAY, T)}")
    return f"SELECT uid FROM ({seq}) s WHERE uid NOT IN ({subscribed})"


def _and_not(d: Dialect, T: int) -> str:
    dash = f"{et('Feature Used')} AND feature_area = 'dashboard' AND {d.win(T - 30 * DAY, T)}"
    cancelled = f"{et('Subscription Cancelled')} AND {d.win(T - 90 * DAY, T)}"
    sessions = f"{et('Session Start')} AND {d.win(T - 14 * DAY, T)}"
    return known(
        d, T, f"{d.cnt(dash)} >= 2 AND {d.cnt(cancelled)} = 0 AND {d.cnt(sessions)} >= 3", since=T - 90 * DAY
    )


def _seq_within(d: Dialect, T: int) -> str:
    steps = ["Session Start", "paywall_modal_viewed", "Upgrade Button Clicked"]
    return sequence(d, T, steps, HOUR, T - 30 * DAY)


def _revenue(d: Dialect, T: int) -> str:
    return (
        f"SELECT uid FROM {d.events} WHERE {et('Purchase')} AND {d.win(T - 90 * DAY, T)} "
        f"GROUP BY uid HAVING sum(revenue) > 100"
    )


def _active_days(d: Dialect, T: int) -> str:
    return percentile(d, T, 5, d.cnt_distinct(d.idiv(d.ms(), str(DAY)), d.win(T - 30 * DAY, T)))


def _active_7d(d: Dialect, T: int) -> str:
    return users_with(d, d.win(T - 7 * DAY, T))


QUERIES: tuple[Query, ...] = (
    Query("active_7d", "did(any) in last 7d", _active_7d, touches=(Touch(None, 7),)),
    Query(
        "new_users_l7",
        'first did(any) in last 7d and did("Session Start") < 3 in last 7d',
        _new_users,
        touches=(Touch(None, 7), Touch(("Session Start",), 7)),
        per_user_bytes=8,
    ),
    Query("power_users_top20", "top 20% by count(any) in last 30d", _power, touches=(Touch(None, 30),)),
    Query(
        "churning",
        "did(any) between 90d ago and 60d ago and not did(any) in last 30d",
        _churning,
        touches=(Touch(None, 90, 60), Touch(None, 30)),
    ),
    Query(
        "upgrade_ready",
        'did("paywall_modal_viewed") >= 3 in last 14d\nand user.plan == "free" and user.projects_created > 4',
        _upgrade,
        touches=(Touch(("paywall_modal_viewed",), 14),),
    ),
    Query(
        "activation_sequence",
        'sequence("Signup Submitted", "First Feature Used") within 7d in last 30d\n'
        'and not did("Subscription Started") in last 30d',
        _activation,
        touches=(Touch(("Signup Submitted", "First Feature Used", "Subscription Started"), 30),),
    ),
    Query(
        "and_not_3",
        'did("Feature Used" where feature_area == "dashboard") >= 2 in last 30d\n'
        'and not did("Subscription Cancelled") in last 90d and did("Session Start") >= 3 in last 14d',
        _and_not,
        touches=(
            Touch(("Feature Used",), 30, extra_bytes=4),
            Touch(("Subscription Cancelled",), 90),
            Touch(("Session Start",), 14),
        ),
    ),
    Query(
        "sequence_within_1h",
        'sequence("Session Start", "paywall_modal_viewed", "Upgrade Button Clicked") within 1h in last 30d',
        _seq_within,
        touches=(Touch(("Session Start", "paywall_modal_viewed", "Upgrade Button Clicked"), 30),),
    ),
    Query(
        "revenue_sum_90d",
        'sum(revenue, "Purchase") > 100 in last 90d',
        _revenue,
        touches=(Touch(("Purchase",), 90, extra_bytes=8),),
    ),
    Query(
        "top5_active_days", "top 5% by active_days(any) in last 30d", _active_days, touches=(Touch(None, 30),)
    ),
    Query("overlap_power_activation", None, None, overlap=("power_users_top20", "activation_sequence")),
)
BY_NAME = {q.name: q for q in QUERIES}


def members_sql(q: Query, d: Dialect, T: int) -> str:
    if q.overlap is not None:
        a, b = (members_sql(BY_NAME[n], d, T) for n in q.overlap)
        return f"SELECT uid FROM ({a}) a WHERE uid IN ({b})"
    assert q.sql is not None
    return q.sql(d, T)


def count_sql(q: Query, d: Dialect, T: int) -> str:
    return f"SELECT count(*) FROM ({members_sql(q, d, T)}) r"


# -------------------------------------------------------------------- engines
LOAD_FILE = "compare_engines_load.json"  # beside a prepared store: how long its load took, from which data


def _load_marker(path: Path, events: Path) -> float | None:
    """The load seconds recorded in a store prepared from ``events``; None when there is none."""
    marker = path / LOAD_FILE
    if not marker.exists():
        return None
    got = json.loads(marker.read_text())
    if got.get("events") != str(events):  # a copy of the same data elsewhere; the member check says if not
        print(f"note: {path} was prepared from {got.get('events')}; this run reads {events}")
    return float(got["seconds"])


def _write_marker(path: Path, events: Path, seconds: float) -> None:
    (path / LOAD_FILE).write_text(json.dumps({"seconds": round(seconds, 3), "events": str(events)}) + "\n")


class DuckDB:
    """DuckDB at its best layout: dense ``UINTEGER`` ids, table sorted by (event_type, uid, ts),
    in a database file (``duckdb.db`` in ``path``) loaded once and reused."""

    name = "duckdb"

    def __init__(self, dense: DenseData, path: Path, memory_limit: str) -> None:
        import duckdb

        self.version = duckdb.__version__
        path.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        recorded = _load_marker(path, dense.events)
        self.reused = recorded is not None
        self.con = duckdb.connect(str(path / "duckdb.db"))
        self.con.sql("SET TimeZone = 'UTC'")
        self.con.sql(f"SET memory_limit = '{memory_limit}'")
        self.con.sql("SET preserve_insertion_order = false")  # lets the sort spill instead of holding order
        if not self.reused:
            self.con.sql(
                "CREATE OR REPLACE TABLE events AS SELECT uid::UINTEGER AS uid, event_type, "
                "epoch_ms(time) AS ts, feature_area, revenue, platform, duration_s, plan "
                f"FROM read_parquet('{dense.events}') ORDER BY event_type, uid, ts"
            )
            self.con.sql(
                f"CREATE OR REPLACE TABLE users AS SELECT uid::UINTEGER AS uid, plan, country, "
                f"projects_created FROM read_parquet('{dense.users}') ORDER BY uid"
            )
            self.con.sql("CHECKPOINT")
            _write_marker(path, dense.events, time.perf_counter() - t0)
        self.load_s = recorded if recorded is not None else time.perf_counter() - t0
        self.threads = int(self.con.sql("SELECT current_setting('threads')").fetchall()[0][0])

    def members(self, q: Query, T: int) -> Any:
        return self.con.sql(members_sql(q, DUCK, T)).to_arrow_table()["uid"]

    def count(self, q: Query, T: int) -> int:
        return int(self.con.sql(count_sql(q, DUCK, T)).fetchall()[0][0])

    def close(self) -> None:
        self.con.close()


class ChDB:
    """chDB at its best layouts: ``UInt32`` ids in a MergeTree ``ORDER BY (event_type, uid, time)``,
    and a second copy ``ORDER BY (uid, time)``; each query runs on whichever is faster (measured).
    The tables live on disk (``chdb/`` in ``path``), loaded once and reused."""

    name = "chdb"

    def __init__(self, dense: DenseData, path: Path) -> None:
        import chdb
        from chdb import session

        self.version = chdb.__version__
        path.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        recorded = _load_marker(path, dense.events)
        self.reused = recorded is not None
        self.sess = session.Session(str(path / "chdb"))
        self.dialect: dict[str, Dialect] = {}  # query name -> the layout chosen for it
        q = self.sess.query
        if not self.reused:
            self._load(dense)
            _write_marker(path, dense.events, time.perf_counter() - t0)
        self.load_s = recorded if recorded is not None else time.perf_counter() - t0
        self.threads = int(str(q("SELECT getSetting('max_threads')", "CSV")).strip().strip('"'))

    def _load(self, dense: DenseData) -> None:
        q = self.sess.query
        q("CREATE DATABASE IF NOT EXISTS bench")
        columns = (
            "uid UInt32, event_type LowCardinality(String), time DateTime64(3, 'UTC'), "
            "feature_area LowCardinality(Nullable(String)), revenue Nullable(Float64), "
            "platform LowCardinality(Nullable(String)), duration_s Nullable(Int64), "
            "plan LowCardinality(Nullable(String))"
        )
        for table, order in (("events", "event_type, uid, time"), ("events_by_user", "uid, time")):
            q(f"DROP TABLE IF EXISTS bench.{table}")
            q(f"CREATE TABLE bench.{table} ({columns}) ENGINE = MergeTree ORDER BY ({order})")
            q(f"INSERT INTO bench.{table} SELECT * FROM file('{dense.events}', Parquet)")
            q(f"OPTIMIZE TABLE bench.{table} FINAL")
        q("DROP TABLE IF EXISTS bench.users")
        q(
            "CREATE TABLE bench.users (uid UInt32, plan LowCardinality(String), "
            "country LowCardinality(String), projects_created Int64) ENGINE = MergeTree ORDER BY uid"
        )
        q(f"INSERT INTO bench.users SELECT * FROM file('{dense.users}', Parquet)")

    def _uids(self, q: Query, T: int, d: Dialect) -> Any:
        table = self.sess.query(members_sql(q, d, T), "ArrowTable")
        return table.column(0) if table.num_rows else pa.chunked_array([], pa.uint32())

    def members(self, q: Query, T: int) -> Any:
        """Members on both layouts (they must agree); the faster one is kept for the timed runs."""
        got: dict[str, tuple[float, Any]] = {}
        for d in (CH, CH_BY_USER):
            self._uids(q, T, d)  # warm: the first run on a layout pays for cold caches
            t0 = time.perf_counter()
            uids = self._uids(q, T, d)
            got[d.events] = (time.perf_counter() - t0, uids)
        (ta, a), (tb, b) = got[CH.events], got[CH_BY_USER.events]
        if not _same_ids(a, b):
            raise SystemExit(f"chdb {q.name}: the two layouts disagree")
        self.dialect[q.name] = CH if ta <= tb else CH_BY_USER
        return a

    def layout(self, q: Query) -> str:
        return "by_type" if self.dialect.get(q.name, CH) is CH else "by_user"

    def count(self, q: Query, T: int) -> int:
        d = self.dialect.get(q.name, CH)
        return int(str(self.sess.query(count_sql(q, d, T), "CSV")).strip())

    def close(self) -> None:
        self.sess.close()


class Cohortd:
    """One open cohortd engine; ``kernel`` picks the Rust or the Numba kernel."""

    def __init__(self, events: Path, users: Path, store: Path) -> None:
        from cohortd import Engine

        t0 = time.perf_counter()
        recorded = _load_marker(store, events) if (store / "manifest.json").exists() else None
        if recorded is None and (store / "manifest.json").exists():
            raise SystemExit(f"{store}: a store without {LOAD_FILE} (an interrupted load?): remove it first")
        self.reused = recorded is not None
        self.eng = Engine.open(store)
        if not self.reused:
            # the bulk path (what `cohortd ingest FILE` uses): each row sorted and written once
            rejected = len(self.eng.ingest_file(events).rejected)
            if rejected:
                raise SystemExit(f"cohortd rejected {rejected} generated events")
            self.eng.ingest_file(users, users=True)
            self.eng.seal()
            _write_marker(store, events, time.perf_counter() - t0)
        self.load_s = recorded if recorded is not None else time.perf_counter() - t0

    def _bitmap(self, q: Query, T: int, kernel: str) -> Any:
        if q.overlap is not None:
            # what Workspace.overlap does: both cohorts at one T, then their intersection
            a, b = (self._bitmap(BY_NAME[n], T, kernel) for n in q.overlap)
            return a & b
        assert q.cohort is not None
        return self.eng.evaluate(q.cohort, as_of=T, kernel=kernel).bitmap

    def members(self, q: Query, T: int, kernel: str) -> Any:
        return pa.array(self.eng.external_ids(self._bitmap(q, T, kernel)), pa.string())

    def count(self, q: Query, T: int, kernel: str) -> int:
        if q.overlap is not None:
            a, b = (self._bitmap(BY_NAME[n], T, kernel) for n in q.overlap)
            return int(a.intersection_cardinality(b))
        return int(self.eng.evaluate(q.cohort, as_of=T, kernel=kernel).size)

    def breakdown(self, q: Query, T: int, kernel: str) -> dict[str, float]:
        """Where one evaluation's time goes, from one profiled run (``--breakdown``; not timed runs)."""
        import cProfile
        import pstats

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.runcall(self.count, q, T, kernel)
        total = (time.perf_counter() - t0) * 1000.0
        spent = dict.fromkeys(BREAKDOWN, 0.0)
        for (file, _line, func), row in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
            spent[time_category(file, func)] += row[2] * 1000.0  # row[2]: time in the function itself
        return {"profiled_ms": round(total, 3), **{f"{k}_ms": round(v, 3) for k, v in spent.items()}}

    def close(self) -> None:
        self.eng.close()


BREAKDOWN = ("native_kernels", "bitmaps", "numpy_arrow", "python")


def time_category(file: str, func: str) -> str:
    """The part of cohortd a profiled function belongs to: Rust kernels (``cohortd._native``),
    roaring bitmaps, numpy/Arrow buffer work, or Python orchestration (everything else).

    cProfile does not see pyroaring's Cython calls: their time lands in the calling function,
    so functions whose name says bitmap (``bitmap_from_ids``, ``_mask_to_bitmap``) count as bitmaps."""
    if "_native" in func or "_native" in file:
        return "native_kernels"
    if "bitmap" in func.lower() or "roaring" in func.lower() or "roaring" in file:
        return "bitmaps"
    if any(m in func or f"/{m}/" in file for m in ("numpy", "pyarrow", "numba")):
        return "numpy_arrow"
    return "python"


def _same_ids(a: Any, b: Any) -> bool:
    import numpy as np

    return bool(np.array_equal(np.sort(np.asarray(a)), np.sort(np.asarray(b))))


@dataclass(frozen=True)
class EngineSpec:
    """What a worker process needs to open (or load, then keep) one engine's store."""

    key: str  # duckdb | chdb | cohortd
    dense: DenseData
    events: Path
    users: Path
    store: Path
    memory_limit: str


def open_engine(spec: EngineSpec) -> Any:
    if spec.key == "duckdb":
        return DuckDB(spec.dense, spec.store, spec.memory_limit)
    if spec.key == "chdb":
        return ChDB(spec.dense, spec.store)
    return Cohortd(spec.events, spec.users, spec.store)


def _serve(conn: Any, spec: EngineSpec, T: int) -> None:
    """A worker's loop: open the engine, then answer (method, query name, kernel) calls.

    Counts are timed here, so the pipe's cost stays out of the figures."""
    rss_before = process_memory_mib()[0]
    try:
        eng = open_engine(spec)
    except BaseException as exc:  # noqa: BLE001 - reported to the driver, which exits with it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(
        (
            "ok",
            {
                "load_s": eng.load_s,
                "reused": eng.reused,
                "version": getattr(eng, "version", None),
                "threads": getattr(eng, "threads", None),
                "rss_added_mib": round(process_memory_mib()[0] - rss_before, 1),
            },
        )
    )
    while True:
        method, name, kernel = conn.recv()
        if method == "close":
            eng.close()
            conn.send(("ok", None))
            return
        try:
            q = BY_NAME[name]
            args = (q, T) if kernel is None else (q, T, kernel)
            if method == "count":
                t0 = time.perf_counter()
                value = eng.count(*args)
                result: Any = (value, (time.perf_counter() - t0) * 1000.0)
            elif method == "layout":
                result = eng.layout(q)
            else:
                result = getattr(eng, method)(*args)
            conn.send(("ok", result))
        except Exception as exc:  # noqa: BLE001 - reported to the driver
            conn.send(("error", f"{method} {name}: {type(exc).__name__}: {exc}"))


class Worker:
    """One engine in its own process, so each engine's resident memory (and peak) is its own."""

    def __init__(self, spec: EngineSpec, T: int) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # a fresh interpreter: no memory inherited from the driver
        self.key = spec.key
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, spec, T), name=f"compare-{spec.key}")
        self.proc.start()
        child.close()
        self.info: dict[str, Any] = self._recv()

    def _recv(self) -> Any:
        try:
            status, value = self.conn.recv()
        except EOFError:
            raise SystemExit(f"{self.key}: the engine process died (exit {self.proc.exitcode})") from None
        if status != "ok":
            raise SystemExit(f"{self.key}: {value}")
        return value

    def call(self, method: str, q: Query, kernel: str | None = None) -> Any:
        self.conn.send((method, q.name, kernel))
        return self._recv()

    def memory_mib(self) -> tuple[float, float]:
        """(resident, peak resident) MiB of the engine's process."""
        return process_memory_mib(self.proc.pid)

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self.conn.send(("close", "", None))
                self._recv()
            except (OSError, SystemExit):
                pass
            self.proc.join(timeout=60)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()


def engine_key(name: str) -> str:
    return "cohortd" if name in ("rust", "numba") else name


def engine_specs(
    args: argparse.Namespace, wanted: list[str], dense: DenseData, events: Path, users: Path, workdir: Path
) -> list[EngineSpec]:
    """One spec per engine process; stores in --peer-store / --cohortd-store (reused) or the workdir."""
    peers = Path(args.peer_store) if args.peer_store else workdir / "peers"
    cohortd_store = Path(args.cohortd_store) if args.cohortd_store else workdir / "cohortd"
    keys = list(dict.fromkeys(engine_key(e) for e in wanted))
    return [
        EngineSpec(
            k, dense, events, users, cohortd_store if k == "cohortd" else peers / k, args.duckdb_memory
        )
        for k in keys
    ]


def prepare_stores(args: argparse.Namespace, wanted: list[str], events: Path, users: Path, T: int) -> int:
    """``--prepare``: load each wanted engine's store once, each in its own process, and record
    the load seconds beside it (later runs reuse the stores and report these times)."""
    if not args.cohortd_store and not args.peer_store:
        raise SystemExit("--prepare needs --cohortd-store and/or --peer-store")
    chosen = [e for e in wanted if args.peer_store or engine_key(e) == "cohortd"]
    if not args.cohortd_store:
        chosen = [e for e in chosen if engine_key(e) != "cohortd"]
    dense = dense_data(events, users)[0] if any(e in ("duckdb", "chdb") for e in chosen) else None
    with tempfile.TemporaryDirectory(prefix="compare-engines-") as tmp:
        for spec in engine_specs(args, chosen, dense or DenseData(events, users), events, users, Path(tmp)):
            w = Worker(spec, T)
            rss, peak = w.memory_mib()
            w.close()
            state = "reused" if w.info["reused"] else "loaded"
            print(f"{spec.key}: {state} in {w.info['load_s']:.1f}s -> {spec.store} (peak RSS {peak:.0f} MiB)")
    return 0


# ----------------------------------------------------------------------- data
def _generator_digest() -> str:
    from cohortd.synth import generator

    return hashlib.sha256(Path(generator.__file__).read_bytes()).hexdigest()[:10]


def ensure_data(args: argparse.Namespace, end_ms: int) -> tuple[Path, Path, int]:
    from cohortd.synth import generate, users_path_for

    root = Path(args.data_dir)
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    key = f"u{args.users}-e{args.events}-d{args.days}-s{args.seed}-t{end_ms}-g{_generator_digest()}"
    skewed = getattr(args, "distribution", "synth") == "skewed"  # scripts without the flag: synth
    if skewed:
        key += "-skewed" + SKEWED_VERSION
    events = root / key / "events.parquet"
    users = users_path_for(events)
    if events.exists() and users.exists():
        n = pq.ParquetFile(events).metadata.num_rows
        print(f"data: cached {events} ({n:,} events)")
        return events, users, n
    t0 = time.perf_counter()
    if skewed:
        n = skewed_events(args, end_ms, events, users)
        print(
            f"data: generated {n:,} skewed events for {args.users:,} users in {time.perf_counter() - t0:.1f}s"
        )
        return events, users, n
    summary = generate(
        args.users,
        args.days,
        args.seed,
        events,
        end_ms=end_ms,
        progress=not args.quiet,
        target_events=args.events,
    )
    print(
        f"data: generated {summary.events:,} events for {args.users:,} users in "
        f"{time.perf_counter() - t0:.1f}s -> {events}"
    )
    return events, users, summary.events


SKEWED_VERSION = "bb09f4e4a7"  # in the skewed data's cache key: change it when skewed_events' output changes
SKEWED_CHUNK = 1 << 20  # rows per Parquet row group (and per Arrow chunk built while writing)


def skewed_events(args: argparse.Namespace, end_ms: int, events: Path, users: Path) -> int:
    """The second distribution: Zipf(1.3) event types (in a seeded random rank order over the
    generator's types), Pareto(1.2) activity per user, times uniform over the period and rounded
    down to the minute (so ties are common), properties drawn as the generator's vocabulary.

    Columns are drawn whole as small integer codes (the draws' order fixes the output) and
    decoded to strings one row group at a time, so 100M events fit in about 3 GB."""
    import numpy as np
    from cohortd.synth import generator as g

    rng = np.random.default_rng([args.seed, 2])
    types = list(g.EVENT_TYPES)
    rank = rng.permutation(len(types))
    p_type = 1.0 / np.arange(1, len(types) + 1) ** 1.3
    p_type = (p_type / p_type.sum())[np.argsort(rank)]  # type i gets the weight of its rank
    weight = rng.pareto(1.2, args.users) + 1.0
    per_user = rng.multinomial(args.events, weight / weight.sum())
    n = int(per_user.sum())
    user = np.repeat(np.arange(args.users, dtype=np.int32), per_user)
    etype = rng.choice(len(types), n, p=p_type).astype(np.uint8)
    start_ms = end_ms - args.days * DAY
    t = (start_ms + rng.integers(0, args.days * DAY, n)) // 60_000 * 60_000
    order = np.lexsort((t, user))
    user, etype, t = user[order], etype[order], t[order]
    del order
    code = {name: i for i, name in enumerate(types)}
    is_feature = etype == code["Feature Used"]
    paid = np.isin(etype, [code[x] for x in ("Purchase", "Subscription Started", "Subscription Renewed")])
    session_end = etype == code["Session End"]
    ids = g.user_ids(0, args.users, len(str(args.users)))
    feature = rng.choice(len(g.FEATURE_AREAS), n).astype(np.uint8)
    revenue_quarters = rng.integers(1, 400, n).astype(np.int16)
    platform = rng.choice(4, n).astype(np.uint8)
    duration = rng.integers(1, 3600, n).astype(np.int16)
    tier = rng.choice(3, n).astype(np.uint8)

    def decode(
        vocabulary: tuple[str, ...] | list[str], codes: np.ndarray, mask: np.ndarray | None = None
    ) -> pa.Array:
        return pc.take(pa.array(list(vocabulary), pa.string()), pa.array(codes, mask=mask))

    events.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(events, g.EVENTS_SCHEMA) as writer:
        for lo in range(0, n, SKEWED_CHUNK):
            r = slice(lo, lo + SKEWED_CHUNK)
            not_paid = ~paid[r]
            chunk = pa.Table.from_arrays(
                [
                    pc.take(ids, pa.array(user[r])),
                    decode(types, etype[r]),
                    pa.array(t[r], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
                    decode(g.FEATURE_AREAS, feature[r], ~is_feature[r]),
                    pa.array(revenue_quarters[r].astype(np.int64) * 0.25, pa.float64(), mask=not_paid),
                    decode(g.PLATFORMS, platform[r]),
                    pa.array(duration[r].astype(np.int64), pa.int64(), mask=~session_end[r]),
                    decode(g.TIERS, tier[r], not_paid),
                ],
                schema=g.EVENTS_SCHEMA,
            )
            writer.write_table(chunk, row_group_size=SKEWED_CHUNK)
    projects = np.bincount(user[etype == code["Project Created"]], minlength=args.users)
    plans = rng.choice(3, args.users, p=[0.6, 0.15, 0.25])
    countries = rng.choice(len(g.COUNTRIES), args.users)
    pq.write_table(
        pa.Table.from_arrays(
            [
                ids,
                decode(g.USER_PLANS, plans),
                decode(g.COUNTRIES, countries),
                pa.array(projects, pa.int64()),
            ],
            schema=g.USERS_SCHEMA,
        ),
        users,
    )
    return n


@dataclass(frozen=True)
class DenseData:
    """The peers' input: events and users keyed by dense integer ids (see :func:`dense_data`)."""

    events: Path
    users: Path


def dense_data(events: Path, users: Path) -> tuple[DenseData, pa.Array]:
    """Dense ``uid`` (position in the users table, then any event-only user) instead of string ids,
    and ``ids`` (``ids[uid]`` = user id).  Written once beside the data, one row group at a time
    (100M events need about the user-id column in memory, not the whole table)."""
    out_events, out_users = events.with_name("dense_events.parquet"), events.with_name("dense_users.parquet")
    ids_file = events.with_name("dense_ids.parquet")  # cached: the unique over 100M ids takes minutes
    u = pq.read_table(users)
    if ids_file.exists() and out_events.exists():
        ids = pq.read_table(ids_file)["user_id"].combine_chunks()
    else:
        ev_ids = pq.read_table(events, columns=["user_id"])["user_id"]
        ids = pc.unique(pa.concat_arrays([u["user_id"].combine_chunks(), *ev_ids.chunks]))
        del ev_ids
        if os.access(ids_file.parent, os.W_OK):
            pq.write_table(pa.table({"user_id": ids}), ids_file)
    if not (out_events.exists() and out_users.exists()):
        part = out_events.with_name(out_events.name + ".part")
        source = pq.ParquetFile(events)
        writer: pq.ParquetWriter | None = None
        for batch in source.iter_batches(batch_size=1 << 23):  # few big batches: index_in hashes ids per call
            t = pa.Table.from_batches([batch])
            uid = pc.index_in(t["user_id"], value_set=ids).cast(pa.uint32())
            t = t.drop_columns(["user_id"]).add_column(0, "uid", uid)
            if writer is None:
                writer = pq.ParquetWriter(part, t.schema)
            writer.write_table(t, row_group_size=1 << 20)
        if writer is not None:
            writer.close()
        pq.write_table(
            u.drop_columns(["user_id"]).add_column(0, "uid", pc.index_in(u["user_id"], value_set=ids)),
            out_users,
        )
        part.rename(out_events)
    return DenseData(out_events, out_users), ids


def memory_bandwidth(mib: int = 256, repeat: int = 5) -> float:
    """Bytes/s of one core streaming an array much larger than the caches (best of ``repeat``)."""
    import numpy as np

    a = np.ones(mib * (1 << 20) // 8, dtype=np.int64)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t0)
    return a.nbytes / best


def touched_bytes(
    dense: DenseData, T: int, n_users: int, queries: tuple[Query, ...] = QUERIES
) -> dict[str, tuple[int, int]]:
    """Per query: (rows, bytes) the evaluation must read: the rows of its event types and windows
    x (4 B user + 8 B time + property bytes), plus per-user state (first-seen times).
    All row counts come from one scan of the events."""
    import duckdb

    def cond(t: Touch) -> str:
        parts = [f"ts >= {T - t.lo_days * DAY}", f"ts < {T - t.hi_days * DAY}"]
        if t.types is not None:
            parts.append(
                "event_type IN (" + ", ".join("'" + x.replace("'", "''") + "'" for x in t.types) + ")"
            )
        return " AND ".join(parts)

    touches = sorted(
        {t for q in queries for n in (q.overlap or (q.name,)) for t in BY_NAME[n].touches}, key=repr
    )
    con = duckdb.connect()
    con.sql("SET memory_limit = '2GB'")
    counts = con.sql(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {cond(t)})" for t in touches)
        + f" FROM (SELECT event_type, epoch_ms(time) AS ts FROM read_parquet('{dense.events}'))"
    ).fetchall()[0]
    con.close()
    rows_of = dict(zip(touches, (int(c) for c in counts), strict=True))

    def one(q: Query) -> tuple[int, int]:
        if q.overlap is not None:
            parts = [one(BY_NAME[n]) for n in q.overlap]
            return sum(p[0] for p in parts), sum(p[1] for p in parts)
        rows = sum(rows_of[t] for t in q.touches)
        nbytes = sum(rows_of[t] * (12 + t.extra_bytes) for t in q.touches)
        return rows, nbytes + q.per_user_bytes * n_users

    return {q.name: one(q) for q in queries}


# --------------------------------------------------------------------- timing
def time_round_robin(fns: dict[str, Callable[[], int]], repeat: int) -> dict[str, tuple[list[float], int]]:
    """Run every engine once per round, ``repeat`` rounds: load from other processes on the
    machine then lands on all engines alike instead of on whichever ran during a burst."""
    out: dict[str, tuple[list[float], int]] = {e: ([], -1) for e in fns}
    for _ in range(repeat):
        for e, fn in fns.items():
            t0 = time.perf_counter()
            value = fn()
            out[e][0].append((time.perf_counter() - t0) * 1000.0)
            out[e] = (out[e][0], value)
    return out


def process_memory_mib(pid: int | None = None) -> tuple[float, float]:
    """(resident, peak resident) MiB of a process (default this one), from /proc (0, 0 if none)."""
    found = {"VmRSS": 0.0, "VmHWM": 0.0}
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in found:
                found[key] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return round(found["VmRSS"], 1), round(found["VmHWM"], 1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=10_000_000, help="target number of events")
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=5, help="timed warm runs per query and engine")
    p.add_argument(
        "--end-date",
        default=DEFAULT_END,
        help="generator end (= as-of time T), ISO date or 'today' (start of the current UTC day)",
    )
    p.add_argument(
        "--distribution",
        choices=("generator", "skewed"),
        default="generator",
        help="cohortd.synth's SaaS stream, or Zipf event types / Pareto activity / minute-rounded times",
    )
    p.add_argument("--engines", default=",".join(ENGINES), help="comma list of " + ",".join(ENGINES))
    p.add_argument("--queries", default="", help="comma list of query names (default: all)")
    p.add_argument("--data-dir", default=str(HERE / ".data"), help="generated-data cache")
    p.add_argument("--out", default=str(HERE / "results" / "compare_engines.json"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--cohortd-store",
        default=None,
        help="keep cohortd's store in this directory and reuse it when it exists (loads once at 100M)",
    )
    p.add_argument(
        "--peer-store",
        default=None,
        help="keep DuckDB's database file and chDB's MergeTrees in this directory and reuse them",
    )
    p.add_argument(
        "--prepare",
        action="store_true",
        help="only generate the data and load --cohortd-store / --peer-store",
    )
    p.add_argument("--duckdb-memory", default="6GB", help="DuckDB's memory_limit (it spills beyond it)")
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="after the timed runs, one profiled evaluation per query: where cohortd_rust's time goes",
    )
    args = p.parse_args(argv)
    bad = set(args.engines.split(",")) - set(ENGINES)
    if bad:
        p.error(f"unknown engines: {', '.join(sorted(bad))}")
    unknown = set(filter(None, args.queries.split(","))) - set(BY_NAME)
    if unknown:
        p.error(f"unknown queries: {', '.join(sorted(unknown))}")
    return args


def end_ms_of(arg: str) -> int:
    from cohortd.synth import default_end_ms

    if arg == "today":
        return default_end_ms()
    dt = datetime.fromisoformat(arg)
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return int(dt.timestamp() * 1000)


def member_ids(got: Any, ids: pa.Array) -> Any:
    """Sorted dense uids of an engine's members (cohortd answers with user ids, the peers with uids)."""
    import numpy as np

    arr = got.combine_chunks() if isinstance(got, pa.ChunkedArray) else got
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = pc.index_in(arr, value_set=ids)
        if arr.null_count:
            raise SystemExit(f"cohortd returned {arr.null_count} user ids the data does not have")
    return np.sort(arr.to_numpy(zero_copy_only=False).astype(np.int64))


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=150)
    T = end_ms_of(args.end_date)
    wanted = [e for e in ENGINES if e in args.engines.split(",")]
    events, users, n_events = ensure_data(args, T)
    if args.prepare:
        return prepare_stores(args, wanted, events, users, T)
    t0 = time.perf_counter()
    dense, ids = dense_data(events, users)
    names = set(filter(None, args.queries.split(",")))
    chosen = tuple(q for q in QUERIES if not names or q.name in names)
    touched = touched_bytes(dense, T, args.users, chosen)
    console.print(f"dense ids and rows touched: {time.perf_counter() - t0:.1f}s")
    bandwidth = memory_bandwidth()
    console.print(f"memory bandwidth (one core, streaming read): {bandwidth / 1e9:.2f} GB/s")

    load_start = [round(x, 2) for x in os.getloadavg()]
    if load_start[0] > (os.cpu_count() or 1):
        console.print(
            f"[yellow]note: load average {load_start[0]} on {os.cpu_count()} cpus: "
            "other processes compete, timings will be noisy"
        )
    workdir = Path(tempfile.mkdtemp(prefix="compare-engines-"))
    workers: dict[str, Worker] = {}
    try:
        for spec in engine_specs(args, wanted, dense, events, users, workdir):
            workers[spec.key] = w = Worker(spec, T)
            state = "reused" if w.info["reused"] else "loaded"
            rss = w.memory_mib()[0]
            console.print(f"{spec.key}: {state}, load {w.info['load_s']:.2f}s, {rss:.0f} MiB resident")
        load_rss = {k: w.memory_mib()[0] for k, w in workers.items()}

        def report(complete: bool, rss: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
            """The JSON; written after every query too (``complete`` false), so a long run leaves its part."""
            engine_rss = rss if rss is not None else memory_report()
            info = {k: w.info for k, w in workers.items()}
            return {
                "benchmark": "compare_engines",
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "config": {
                    "users": args.users,
                    "target_events": args.events,
                    "events": n_events,
                    "days": args.days,
                    "seed": args.seed,
                    "distribution": args.distribution,
                    "repeat": args.repeat,
                    "as_of_ms": T,
                    "as_of": datetime.fromtimestamp(T / 1000, UTC).isoformat(),
                    "engines": [COLUMN[e] for e in wanted],
                    "engine_processes": "one process per engine (spawned); times measured inside it",
                    "duckdb_memory_limit": args.duckdb_memory,
                },
                "environment": {
                    "python": platform.python_version(),
                    "machine": platform.machine(),
                    "cpus": os.cpu_count(),
                    "duckdb": info.get("duckdb", {}).get("version"),
                    "duckdb_threads": info.get("duckdb", {}).get("threads"),
                    "chdb": info.get("chdb", {}).get("version"),
                    "chdb_max_threads": info.get("chdb", {}).get("threads"),
                    "memory_bandwidth_gb_s": round(bandwidth / 1e9, 3),
                    "loadavg_start": load_start,
                    "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                },
                "load_seconds": {k: round(v["load_s"], 3) for k, v in info.items()},
                "store_reused": {k: bool(v["reused"]) for k, v in info.items()},
                "cohortd_store_reused": bool(info.get("cohortd", {}).get("reused", False)),
                "rss_added_by_load_mib": {k: v["added_by_load"] for k, v in engine_rss.items()},
                "engine_rss_mib": engine_rss,
                "peak_rss_mib": process_memory_mib()[1],  # the driver (data prep, member checks)
                "agree": agree,
                "queries": results,
                "complete": complete,
            }

        def memory_report() -> dict[str, dict[str, float]]:
            return {
                k: {
                    "after_load": load_rss[k],
                    "peak": w.memory_mib()[1],
                    "added_by_load": w.info["rss_added_mib"],
                }
                for k, w in workers.items()
            }

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)

        def write(rep: dict[str, Any]) -> None:
            out.write_text(json.dumps(rep, indent=2) + "\n")

        def call(e: str, method: str, q: Query) -> Any:
            return workers[engine_key(e)].call(method, q, e if engine_key(e) == "cohortd" else None)

        # per query: 1. correctness: member sets (also the query's warm-up run); 2. timing: warm
        # count runs, every engine once per round, timed inside its process; then the JSON is written
        ref = wanted[0]
        agree = True
        table = Table(title=f"cohort sizes at T = {datetime.fromtimestamp(T / 1000, UTC).isoformat()}")
        table.add_column("query")
        for e in wanted:
            table.add_column(COLUMN[e], justify="right")
        table.add_column("status")
        same: dict[str, bool] = {}
        results = []
        for q in chosen:
            got = {e: member_ids(call(e, "members", q), ids) for e in wanted}  # dropped after this query
            same[q.name] = ok = all(np.array_equal(got[e], got[ref]) for e in wanted)
            agree &= ok
            cells = []
            for e in wanted:
                diff = len(np.setxor1d(got[e], got[ref], assume_unique=True))
                cells.append(f"{len(got[e]):,}" + ("" if diff == 0 else f" (Δ{diff})"))
            table.add_row(q.name, *cells, "[green]ok" if ok else "[bold red]MISMATCH")
            if not ok:
                console.print(f"[bold red]{q.name}: members differ: " + ", ".join(cells))

            med: dict[str, float] = {}
            spread: dict[str, list[float]] = {}
            times: dict[str, list[float]] = {e: [] for e in wanted}
            for _ in range(args.repeat):
                for e in wanted:
                    value, ms = call(e, "count", q)
                    times[e].append(ms)
                    if value != len(got[e]):
                        agree = False
                        n = len(got[e])
                        console.print(f"[bold red]{e} {q.name}: count {value} != members {n}")
            for e in wanted:
                med[COLUMN[e]] = round(statistics.median(times[e]), 3)
                spread[COLUMN[e]] = [round(min(times[e]), 3), round(max(times[e]), 3)]
            row: dict[str, Any] = {
                "name": q.name,
                "cohort": q.cohort if q.cohort is not None else f"overlap({', '.join(q.overlap or ())})",
                "members": len(got[ref]),
                "median_ms": med,
                "min_max_ms": spread,
                "agree": same[q.name],
                "rows_touched": touched[q.name][0],
                "bytes_touched": touched[q.name][1],
                "floor_ms": round(touched[q.name][1] / bandwidth * 1000.0, 6),
            }
            if "chdb" in workers:
                row["chdb_layout"] = workers["chdb"].call("layout", q)
            if "cohortd_rust" in med and row["floor_ms"] > 0:
                row["ratio_rust_over_floor"] = round(med["cohortd_rust"] / row["floor_ms"], 2)
            sql = [med[c] for c in ("duckdb", "chdb") if c in med]
            if sql and "cohortd_rust" in med and med["cohortd_rust"] > 0:
                row["ratio_best_sql_over_rust"] = round(min(sql) / med["cohortd_rust"], 3)
            if "cohortd_rust" in med and "cohortd_numba" in med and med["cohortd_rust"] > 0:
                row["ratio_numba_over_rust"] = round(med["cohortd_numba"] / med["cohortd_rust"], 3)
            results.append(row)
            write(report(False))
        console.print(table)
        engine_rss = memory_report()  # before the profiled runs

        # 3. where cohortd's time goes: one profiled run per query, after (and apart from) the timed runs
        if args.breakdown and "rust" in wanted:
            for row, q in zip(results, chosen, strict=True):
                row["breakdown_rust"] = workers["cohortd"].call("breakdown", q, "rust")

        timing = Table(title=f"median of {args.repeat} warm runs (ms)")
        timing.add_column("query")
        for e in wanted:
            timing.add_column(COLUMN[e], justify="right")
        timing.add_column("best SQL / rust", justify="right")
        timing.add_column("numba / rust", justify="right")
        timing.add_column("floor", justify="right")
        timing.add_column("rust / floor", justify="right")
        for row in results:
            timing.add_row(
                row["name"],
                *(f"{row['median_ms'][COLUMN[e]]:.2f}" for e in wanted),
                str(row.get("ratio_best_sql_over_rust", "-")),
                str(row.get("ratio_numba_over_rust", "-")),
                f"{row['floor_ms']:.3f}",
                str(row.get("ratio_rust_over_floor", "-")),
            )
        console.print(timing)
        if args.breakdown and "rust" in wanted:
            console.print(breakdown_table(results))
        mem = Table(title="resident memory per engine process (MiB)")
        for col in ("engine", "after load", "peak while answering"):
            mem.add_column(col, justify="right")
        for k, v in engine_rss.items():
            mem.add_row(k, f"{v['after_load']:.0f}", f"{v['peak']:.0f}")
        console.print(mem)

        write(report(True, engine_rss))
        console.print(f"wrote {out}")
    finally:
        for w in workers.values():
            w.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if not agree:
        console.print("[bold red]engines disagree: see the table above")
        return 1
    return 0


def breakdown_table(results: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    t = Table(title="cohortd_rust, one profiled run per query: where the time goes (ms, % of profiled)")
    t.add_column("query")
    t.add_column("timed median", justify="right")
    t.add_column("profiled", justify="right")
    for k in BREAKDOWN:
        t.add_column(k, justify="right")
    for row in results:
        b = row["breakdown_rust"]
        total = b["profiled_ms"] or 1.0
        t.add_row(
            row["name"],
            f"{row['median_ms']['cohortd_rust']:.2f}",
            f"{b['profiled_ms']:.2f}",
            *(f"{b[k + '_ms']:.2f} ({100 * b[k + '_ms'] / total:.0f}%)" for k in BREAKDOWN),
        )
    return t


if __name__ == "__main__":
    sys.exit(main())
