#!/usr/bin/env python
"""cohortd vs DuckDB vs chDB: the same cohorts, on the same data, in the same run.

1. Generates a synthetic SaaS stream with :func:`cohortd.synth.generate` (cached
   under ``benchmarks/.data/`` keyed by the arguments and the generator's source).
2. Loads it into DuckDB (an in-process table), chDB (a ``chdb.session.Session``
   MergeTree table ordered by ``(user_id, time)``) and cohortd (``Engine``:
   ingest, user properties, seal).
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


def et(name: str) -> str:
    return "event_type = '" + name.replace("'", "''") + "'"


def known(d: Dialect, T: int, having: str, since: int | None = None) -> str:
    """Users known at T (an event before T) whose conditional aggregates satisfy ``having``.

    ``since`` prunes rows before it: only valid when ``having`` looks at nothing earlier
    *and* implies at least one event at or after ``since`` (so the user is known anyway).
    """
    return f"SELECT user_id FROM {d.events} WHERE {d.win(since, T)} GROUP BY user_id HAVING {having}"


def users_with(d: Dialect, cond: str) -> str:
    """Users with at least one event matching ``cond`` (which includes its window)."""
    return f"SELECT DISTINCT user_id FROM {d.events} WHERE {cond}"


def percentile(d: Dialect, T: int, pct: int, metric: str) -> str:
    """``top pct% by metric``: N = known users, q = metric at ceil(pct/100*N), M > 0 and M >= q."""
    k = d.idiv(f"{pct} * count(*) + 99", "100")
    return (
        f"WITH m AS (SELECT user_id, {metric} AS metric FROM {d.events} WHERE {d.t} < {d.lit(T)} "
        f"GROUP BY user_id), "
        f"q AS (SELECT {d.kth_desc('metric', k)} AS q FROM m) "
        f"SELECT m.user_id FROM m, q WHERE m.metric > 0 AND m.metric >= q.q"
    )


def sequence(d: Dialect, T: int, steps: list[str], within: int | None, start: int) -> str:
    """Users with e1 < e2 < ... < en (strict), all in [start, T), and en - e1 <= within."""
    if d.name == "chdb":
        w = within if within is not None else T - start
        conds = ", ".join(f"{et(s)} AND {d.win(start, T)}" for s in steps)
        funnel = f"windowFunnel({w}, 'strict_increase')(toUInt64({d.ms()}), {conds})"
        return known(d, T, f"{funnel} = {len(steps)}", since=start)
    # DuckDB: chain ASOF joins; each step keeps the latest chain start reachable before it
    ctes = [f"w AS (SELECT user_id, event_type, ts FROM events WHERE {d.win(start, T)})"]
    for i, s in enumerate(steps, 1):
        ctes.append(f"e{i} AS (SELECT user_id, ts FROM w WHERE {et(s)})")
    ctes.append("c1 AS (SELECT user_id, ts, ts AS first FROM e1)")
    for i in range(2, len(steps) + 1):
        ctes.append(
            f"c{i} AS (SELECT e.user_id, e.ts, c.first FROM e{i} e "
            f"ASOF JOIN c{i - 1} c ON e.user_id = c.user_id AND e.ts > c.ts)"
        )
    limit = "" if within is None else f" WHERE ts - first <= {within}"
    return f"WITH {', '.join(ctes)} SELECT DISTINCT user_id FROM c{len(steps)}{limit}"


# -------------------------------------------------------------------- cohorts
@dataclass(frozen=True)
class Query:
    name: str
    cohort: str | None  # cohortd text; None for an overlap of two other queries
    sql: Callable[[Dialect, int], str] | None  # members SQL
    overlap: tuple[str, str] | None = None


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
        f"SELECT user_id FROM {d.events} WHERE {et('paywall_modal_viewed')} AND {d.win(T - 14 * DAY, T)} "
        f"GROUP BY user_id HAVING count(*) >= 3 AND user_id IN "
        f"(SELECT user_id FROM {d.users} WHERE plan = 'free' AND projects_created > 4)"
    )


def _activation(d: Dialect, T: int) -> str:
    seq = sequence(d, T, ["Signup Submitted", "First Feature Used"], 7 * DAY, T - 30 * DAY)
    # sequence members are known users, so "and not did(...)" is a plain anti-join here
    subscribed = users_with(d, f"{et('Subscription Started')} AND {d.win(T - 30 * DAY, T)}")
    return f"SELECT user_id FROM ({seq}) s WHERE user_id NOT IN ({subscribed})"


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
        f"SELECT user_id FROM {d.events} WHERE {et('Purchase')} AND {d.win(T - 90 * DAY, T)} "
        f"GROUP BY user_id HAVING sum(revenue) > 100"
    )


def _active_days(d: Dialect, T: int) -> str:
    return percentile(d, T, 5, d.cnt_distinct(d.idiv(d.ms(), str(DAY)), d.win(T - 30 * DAY, T)))


def _active_7d(d: Dialect, T: int) -> str:
    return users_with(d, d.win(T - 7 * DAY, T))


QUERIES: tuple[Query, ...] = (
    Query("active_7d", "did(any) in last 7d", _active_7d),
    Query("new_users_l7", 'first did(any) in last 7d and did("Session Start") < 3 in last 7d', _new_users),
    Query("power_users_top20", "top 20% by count(any) in last 30d", _power),
    Query("churning", "did(any) between 90d ago and 60d ago and not did(any) in last 30d", _churning),
    Query(
        "upgrade_ready",
        'did("paywall_modal_viewed") >= 3 in last 14d\nand user.plan == "free" and user.projects_created > 4',
        _upgrade,
    ),
    Query(
        "activation_sequence",
        'sequence("Signup Submitted", "First Feature Used") within 7d in last 30d\n'
        'and not did("Subscription Started") in last 30d',
        _activation,
    ),
    Query(
        "and_not_3",
        'did("Feature Used" where feature_area == "dashboard") >= 2 in last 30d\n'
        'and not did("Subscription Cancelled") in last 90d and did("Session Start") >= 3 in last 14d',
        _and_not,
    ),
    Query(
        "sequence_within_1h",
        'sequence("Session Start", "paywall_modal_viewed", "Upgrade Button Clicked") within 1h in last 30d',
        _seq_within,
    ),
    Query("revenue_sum_90d", 'sum(revenue, "Purchase") > 100 in last 90d', _revenue),
    Query("top5_active_days", "top 5% by active_days(any) in last 30d", _active_days),
    Query("overlap_power_activation", None, None, overlap=("power_users_top20", "activation_sequence")),
)
BY_NAME = {q.name: q for q in QUERIES}


def members_sql(q: Query, d: Dialect, T: int) -> str:
    if q.overlap is not None:
        a, b = (members_sql(BY_NAME[n], d, T) for n in q.overlap)
        return f"SELECT user_id FROM ({a}) a WHERE user_id IN ({b})"
    assert q.sql is not None
    return q.sql(d, T)


def count_sql(q: Query, d: Dialect, T: int) -> str:
    return f"SELECT count(*) FROM ({members_sql(q, d, T)}) r"


# -------------------------------------------------------------------- engines
class DuckDB:
    name = "duckdb"

    def __init__(self, events: Path, users: Path) -> None:
        import duckdb

        self.version = duckdb.__version__
        self.con = duckdb.connect()
        self.con.sql("SET TimeZone = 'UTC'")
        self.con.sql(
            "CREATE TABLE events AS SELECT user_id, event_type, epoch_ms(time) AS ts, feature_area, revenue, "
            f"platform, duration_s, plan FROM read_parquet('{events}')"
        )
        self.con.sql(f"CREATE TABLE users AS SELECT * FROM read_parquet('{users}')")
        self.threads = int(self.con.sql("SELECT current_setting('threads')").fetchall()[0][0])

    def members(self, q: Query, T: int) -> set[str]:
        return set(self.con.sql(members_sql(q, DUCK, T)).to_arrow_table()["user_id"].to_pylist())

    def count(self, q: Query, T: int) -> int:
        return int(self.con.sql(count_sql(q, DUCK, T)).fetchall()[0][0])

    def close(self) -> None:
        self.con.close()


class ChDB:
    name = "chdb"

    def __init__(self, events: Path, users: Path, workdir: Path) -> None:
        import chdb
        from chdb import session

        self.version = chdb.__version__
        self.sess = session.Session(str(workdir / "chdb"))
        q = self.sess.query
        q("CREATE DATABASE IF NOT EXISTS bench")
        q("DROP TABLE IF EXISTS bench.events")
        q("DROP TABLE IF EXISTS bench.users")
        q(
            "CREATE TABLE bench.events (user_id String, event_type LowCardinality(String), "
            "time DateTime64(3, 'UTC'), feature_area LowCardinality(Nullable(String)), "
            "revenue Nullable(Float64), platform LowCardinality(Nullable(String)), "
            "duration_s Nullable(Int64), "
            "plan LowCardinality(Nullable(String))) ENGINE = MergeTree ORDER BY (user_id, time)"
        )
        q(f"INSERT INTO bench.events SELECT * FROM file('{events}', Parquet)")
        q("OPTIMIZE TABLE bench.events FINAL")
        q(
            "CREATE TABLE bench.users (user_id String, plan LowCardinality(String), "
            "country LowCardinality(String), "
            "projects_created Int64) ENGINE = MergeTree ORDER BY user_id"
        )
        q(f"INSERT INTO bench.users SELECT * FROM file('{users}', Parquet)")
        self.threads = int(str(q("SELECT getSetting('max_threads')", "CSV")).strip().strip('"'))

    def members(self, q: Query, T: int) -> set[str]:
        table = self.sess.query(members_sql(q, CH, T), "ArrowTable")
        return set(table.column(0).to_pylist()) if table.num_rows else set()

    def count(self, q: Query, T: int) -> int:
        return int(str(self.sess.query(count_sql(q, CH, T), "CSV")).strip())

    def close(self) -> None:
        self.sess.close()


class Cohortd:
    """One open cohortd engine; ``kernel`` picks the Rust or the Numba kernel."""

    def __init__(self, events: Path, users: Path, workdir: Path) -> None:
        from cohortd import Engine

        self.eng = Engine.open(workdir / "cohortd")
        rejected = 0
        for batch in pq.ParquetFile(events).iter_batches(batch_size=1 << 20):
            report = self.eng.ingest(pa.Table.from_batches([batch]))
            rejected += _as_count(report.rejected)
        if rejected:
            raise SystemExit(f"cohortd rejected {rejected} generated events")
        self.eng.upsert_user_properties(pq.read_table(users))
        self.eng.seal()

    def _bitmap(self, q: Query, T: int, kernel: str) -> Any:
        assert q.cohort is not None
        return self.eng.evaluate(q.cohort, as_of=T, kernel=kernel).bitmap

    def members(self, q: Query, T: int, kernel: str) -> set[str]:
        if q.overlap is not None:
            a, b = (self.members(BY_NAME[n], T, kernel) for n in q.overlap)
            return a & b
        return set(self.eng.evaluate(q.cohort, as_of=T, kernel=kernel).members())

    def count(self, q: Query, T: int, kernel: str) -> int:
        if q.overlap is not None:
            # what Workspace.overlap does: both cohorts at one T, then the intersection cardinality
            a, b = (self._bitmap(BY_NAME[n], T, kernel) for n in q.overlap)
            return int(a.intersection_cardinality(b))
        return int(self.eng.evaluate(q.cohort, as_of=T, kernel=kernel).size)

    def close(self) -> None:
        self.eng.close()


def _as_count(x: Any) -> int:
    return x if isinstance(x, int) else len(x)


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
    events = root / key / "events.parquet"
    users = users_path_for(events)
    if events.exists() and users.exists():
        n = pq.ParquetFile(events).metadata.num_rows
        print(f"data: cached {events} ({n:,} events)")
        return events, users, n
    t0 = time.perf_counter()
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
    p.add_argument("--engines", default=",".join(ENGINES), help="comma list of " + ",".join(ENGINES))
    p.add_argument("--data-dir", default=str(HERE / ".data"), help="generated-data cache")
    p.add_argument("--out", default=str(HERE / "results" / "compare_engines.json"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    bad = set(args.engines.split(",")) - set(ENGINES)
    if bad:
        p.error(f"unknown engines: {', '.join(sorted(bad))}")
    return args


def end_ms_of(arg: str) -> int:
    from cohortd.synth import default_end_ms

    if arg == "today":
        return default_end_ms()
    dt = datetime.fromisoformat(arg)
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return int(dt.timestamp() * 1000)


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=150)
    T = end_ms_of(args.end_date)
    wanted = [e for e in ENGINES if e in args.engines.split(",")]
    events, users, n_events = ensure_data(args, T)

    load_start = [round(x, 2) for x in os.getloadavg()]
    if load_start[0] > (os.cpu_count() or 1):
        console.print(
            f"[yellow]note: load average {load_start[0]} on {os.cpu_count()} cpus: "
            "other processes compete, timings will be noisy"
        )
    workdir = Path(tempfile.mkdtemp(prefix="compare-engines-"))
    loaded: dict[str, Any] = {}
    load_s: dict[str, float] = {}
    try:
        for name in wanted:
            t0 = time.perf_counter()
            if name == "duckdb":
                loaded[name] = DuckDB(events, users)
            elif name == "chdb":
                loaded[name] = ChDB(events, users, workdir)
            elif "cohortd" not in loaded:
                loaded["cohortd"] = Cohortd(events, users, workdir)
            else:
                continue
            key = name if name in ("duckdb", "chdb") else "cohortd"
            load_s[key] = time.perf_counter() - t0
            console.print(f"load {key}: {load_s[key]:.2f}s")

        def runner(name: str, q: Query, kind: str) -> Callable[[], Any]:
            if name in ("rust", "numba"):
                eng = loaded["cohortd"]
                return lambda: getattr(eng, kind)(q, T, name)
            eng = loaded[name]
            return lambda: getattr(eng, kind)(q, T)

        # 1. correctness: member sets (also the warm-up run of every query)
        members: dict[str, dict[str, set[str]]] = {}
        for q in QUERIES:
            members[q.name] = {e: runner(e, q, "members")() for e in wanted}
        ref = wanted[0]
        agree = True
        table = Table(title=f"cohort sizes at T = {datetime.fromtimestamp(T / 1000, UTC).isoformat()}")
        table.add_column("query")
        for e in wanted:
            table.add_column(COLUMN[e], justify="right")
        table.add_column("status")
        for q in QUERIES:
            got = members[q.name]
            ok = all(got[e] == got[ref] for e in wanted)
            agree &= ok
            cells = []
            for e in wanted:
                diff = len(got[e] ^ got[ref])
                cells.append(f"{len(got[e]):,}" + ("" if diff == 0 else f" (Δ{diff})"))
            table.add_row(q.name, *cells, "[green]ok" if ok else "[bold red]MISMATCH")
        console.print(table)

        # 2. timing: warm count runs
        results = []
        for q in QUERIES:
            med: dict[str, float] = {}
            spread: dict[str, list[float]] = {}
            runs = time_round_robin({e: runner(e, q, "count") for e in wanted}, args.repeat)
            for e in wanted:
                times, value = runs[e]
                if value != len(members[q.name][e]):
                    agree = False
                    n = len(members[q.name][e])
                    console.print(f"[bold red]{e} {q.name}: count {value} != members {n}")
                med[COLUMN[e]] = round(statistics.median(times), 3)
                spread[COLUMN[e]] = [round(min(times), 3), round(max(times), 3)]
            row: dict[str, Any] = {
                "name": q.name,
                "cohort": q.cohort if q.cohort is not None else f"overlap({', '.join(q.overlap or ())})",
                "members": len(members[q.name][ref]),
                "median_ms": med,
                "min_max_ms": spread,
                "agree": all(members[q.name][e] == members[q.name][ref] for e in wanted),
            }
            sql = [med[c] for c in ("duckdb", "chdb") if c in med]
            if sql and "cohortd_rust" in med and med["cohortd_rust"] > 0:
                row["ratio_best_sql_over_rust"] = round(min(sql) / med["cohortd_rust"], 3)
            if "cohortd_rust" in med and "cohortd_numba" in med and med["cohortd_rust"] > 0:
                row["ratio_numba_over_rust"] = round(med["cohortd_numba"] / med["cohortd_rust"], 3)
            results.append(row)

        timing = Table(title=f"median of {args.repeat} warm runs (ms)")
        timing.add_column("query")
        for e in wanted:
            timing.add_column(COLUMN[e], justify="right")
        timing.add_column("best SQL / rust", justify="right")
        timing.add_column("numba / rust", justify="right")
        for row in results:
            timing.add_row(
                row["name"],
                *(f"{row['median_ms'][COLUMN[e]]:.2f}" for e in wanted),
                str(row.get("ratio_best_sql_over_rust", "-")),
                str(row.get("ratio_numba_over_rust", "-")),
            )
        console.print(timing)

        report = {
            "benchmark": "compare_engines",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": {
                "users": args.users,
                "target_events": args.events,
                "events": n_events,
                "days": args.days,
                "seed": args.seed,
                "repeat": args.repeat,
                "as_of_ms": T,
                "as_of": datetime.fromtimestamp(T / 1000, UTC).isoformat(),
                "engines": [COLUMN[e] for e in wanted],
            },
            "environment": {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "duckdb": getattr(loaded.get("duckdb"), "version", None),
                "duckdb_threads": getattr(loaded.get("duckdb"), "threads", None),
                "chdb": getattr(loaded.get("chdb"), "version", None),
                "chdb_max_threads": getattr(loaded.get("chdb"), "threads", None),
                "loadavg_start": load_start,
                "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            },
            "load_seconds": {k: round(v, 3) for k, v in load_s.items()},
            "agree": agree,
            "queries": results,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {out}")
    finally:
        for eng in loaded.values():
            eng.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if not agree:
        console.print("[bold red]engines disagree: see the table above")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
