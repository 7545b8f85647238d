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
class DuckDB:
    """DuckDB at its best layout: dense ``UINTEGER`` ids, table sorted by (event_type, uid, ts)."""

    name = "duckdb"

    def __init__(self, dense: DenseData) -> None:
        import duckdb

        self.version = duckdb.__version__
        self.ids = dense.ids
        self.con = duckdb.connect()
        self.con.sql("SET TimeZone = 'UTC'")
        self.con.sql(
            "CREATE TABLE events AS SELECT uid::UINTEGER AS uid, event_type, epoch_ms(time) AS ts, "
            "feature_area, revenue, platform, duration_s, plan "
            f"FROM read_parquet('{dense.events}') ORDER BY event_type, uid, ts"
        )
        self.con.sql(
            f"CREATE TABLE users AS SELECT uid::UINTEGER AS uid, plan, country, projects_created "
            f"FROM read_parquet('{dense.users}') ORDER BY uid"
        )
        self.threads = int(self.con.sql("SELECT current_setting('threads')").fetchall()[0][0])

    def members(self, q: Query, T: int) -> set[str]:
        uids = self.con.sql(members_sql(q, DUCK, T)).to_arrow_table()["uid"].to_pylist()
        return {self.ids[u] for u in uids}

    def count(self, q: Query, T: int) -> int:
        return int(self.con.sql(count_sql(q, DUCK, T)).fetchall()[0][0])

    def close(self) -> None:
        self.con.close()


class ChDB:
    """chDB at its best layouts: ``UInt32`` ids in a MergeTree ``ORDER BY (event_type, uid, time)``,
    and a second copy ``ORDER BY (uid, time)``; each query runs on whichever is faster (measured)."""

    name = "chdb"

    def __init__(self, dense: DenseData, workdir: Path) -> None:
        import chdb
        from chdb import session

        self.version = chdb.__version__
        self.ids = dense.ids
        self.sess = session.Session(str(workdir / "chdb"))
        self.dialect: dict[str, Dialect] = {}  # query name -> the layout chosen for it
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
        self.threads = int(str(q("SELECT getSetting('max_threads')", "CSV")).strip().strip('"'))

    def _uids(self, q: Query, T: int, d: Dialect) -> list[int]:
        table = self.sess.query(members_sql(q, d, T), "ArrowTable")
        return table.column(0).to_pylist() if table.num_rows else []

    def members(self, q: Query, T: int) -> set[str]:
        """Members on both layouts (they must agree); the faster one is kept for the timed runs."""
        got: dict[str, tuple[float, set[int]]] = {}
        for d in (CH, CH_BY_USER):
            self._uids(q, T, d)  # warm: the first run on a layout pays for cold caches
            t0 = time.perf_counter()
            uids = set(self._uids(q, T, d))
            got[d.events] = (time.perf_counter() - t0, uids)
        (ta, a), (tb, b) = got[CH.events], got[CH_BY_USER.events]
        if a != b:
            raise SystemExit(f"chdb {q.name}: the two layouts disagree ({len(a ^ b)} users)")
        self.dialect[q.name] = CH if ta <= tb else CH_BY_USER
        return {self.ids[u] for u in a}

    def layout(self, q: Query) -> str:
        return "by_type" if self.dialect.get(q.name, CH) is CH else "by_user"

    def count(self, q: Query, T: int) -> int:
        d = self.dialect.get(q.name, CH)
        return int(str(self.sess.query(count_sql(q, d, T), "CSV")).strip())

    def close(self) -> None:
        self.sess.close()


class Cohortd:
    """One open cohortd engine; ``kernel`` picks the Rust or the Numba kernel."""

    def __init__(self, events: Path, users: Path, workdir: Path, store: Path | None = None) -> None:
        from cohortd import Engine

        self.reused = store is not None and (store / "manifest.json").exists()
        self.eng = Engine.open(store if store is not None else workdir / "cohortd")
        if self.reused:  # a store this script loaded before from the same data (--cohortd-store)
            return
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


LOAD_FILE = "compare_engines_load.json"  # beside a --cohortd-store: how long its load took


def prepare_store(events: Path, users: Path, store: Path) -> int:
    """Load cohortd's store once (``--prepare``); later runs reuse it and report this load time."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="compare-engines-") as tmp:
        Cohortd(events, users, Path(tmp), store).close()
    seconds = time.perf_counter() - t0
    (store / LOAD_FILE).write_text(json.dumps({"seconds": round(seconds, 3), "events": str(events)}) + "\n")
    print(f"cohortd store loaded in {seconds:.1f}s -> {store} (peak RSS {process_memory_mib()[1]:.0f} MiB)")
    return 0


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
    skewed = getattr(args, "distribution", "synth") == "skewed"  # scripts without the flag: synth
    if skewed:
        key += "-skewed" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:10]
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


def skewed_events(args: argparse.Namespace, end_ms: int, events: Path, users: Path) -> int:
    """The second distribution: Zipf(1.3) event types (in a seeded random rank order over the
    generator's types), Pareto(1.2) activity per user, times uniform over the period and rounded
    down to the minute (so ties are common), properties drawn as the generator's vocabulary."""
    import numpy as np
    from cohortd.synth import generator as g

    rng = np.random.default_rng([args.seed, 2])
    types = np.array(g.EVENT_TYPES, dtype=object)
    rank = rng.permutation(len(types))
    p_type = 1.0 / np.arange(1, len(types) + 1) ** 1.3
    p_type = (p_type / p_type.sum())[np.argsort(rank)]  # type i gets the weight of its rank
    weight = rng.pareto(1.2, args.users) + 1.0
    per_user = rng.multinomial(args.events, weight / weight.sum())
    n = int(per_user.sum())
    user = np.repeat(np.arange(args.users, dtype=np.int64), per_user)
    etype = rng.choice(len(types), n, p=p_type)
    start_ms = end_ms - args.days * DAY
    t = (start_ms + rng.integers(0, args.days * DAY, n)) // 60_000 * 60_000
    order = np.lexsort((t, user))
    user, etype, t = user[order], etype[order], t[order]
    names = types[etype]
    is_feature = names == "Feature Used"
    paid = np.isin(names, ["Purchase", "Subscription Started", "Subscription Renewed"])
    ids = g.user_ids(0, args.users, len(str(args.users)))
    feature = rng.choice(len(g.FEATURE_AREAS), n)
    table = pa.Table.from_arrays(
        [
            pc.take(ids, pa.array(user)),
            pa.array(names.tolist(), pa.string()),
            pa.array(t, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            pa.array(
                np.array(g.FEATURE_AREAS, dtype=object)[feature].tolist(), pa.string(), mask=~is_feature
            ),
            pa.array(rng.integers(1, 400, n) * 0.25, pa.float64(), mask=~paid),
            pa.array(np.array(g.PLATFORMS, dtype=object)[rng.choice(4, n)].tolist(), pa.string()),
            pa.array(rng.integers(1, 3600, n), pa.int64(), mask=names != "Session End"),
            pa.array(np.array(g.TIERS, dtype=object)[rng.choice(3, n)].tolist(), pa.string(), mask=~paid),
        ],
        schema=g.EVENTS_SCHEMA,
    )
    events.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, events, row_group_size=1 << 20)
    projects = np.bincount(user[names == "Project Created"], minlength=args.users)
    plans = np.array(g.USER_PLANS, dtype=object)[rng.choice(3, args.users, p=[0.6, 0.15, 0.25])]
    pq.write_table(
        pa.Table.from_arrays(
            [
                ids,
                pa.array(plans.tolist(), pa.string()),
                pa.array(
                    np.array(g.COUNTRIES, dtype=object)[rng.choice(len(g.COUNTRIES), args.users)].tolist()
                ),
                pa.array(projects, pa.int64()),
            ],
            schema=g.USERS_SCHEMA,
        ),
        users,
    )
    return n


@dataclass(frozen=True)
class DenseData:
    """The peers' input: events and users keyed by dense integer ids (``ids[uid]`` = user id)."""

    events: Path
    users: Path
    ids: list[str]


def dense_data(events: Path, users: Path) -> DenseData:
    """Dense ``uid`` (position in the users table, then any event-only user) instead of string ids."""
    out_events, out_users = events.with_name("dense_events.parquet"), events.with_name("dense_users.parquet")
    u = pq.read_table(users)
    ev = pq.read_table(events)
    ids = pc.unique(pa.concat_arrays([u["user_id"].combine_chunks(), ev["user_id"].combine_chunks()]))
    if not (out_events.exists() and out_users.exists()):
        uid = pc.index_in(ev["user_id"], ids).cast(pa.uint32())
        pq.write_table(
            ev.drop_columns(["user_id"]).add_column(0, "uid", uid), out_events, row_group_size=1 << 20
        )
        pq.write_table(
            u.drop_columns(["user_id"]).add_column(0, "uid", pc.index_in(u["user_id"], ids)), out_users
        )
    return DenseData(out_events, out_users, ids.to_pylist())


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
    x (4 B user + 8 B time + property bytes), plus per-user state (first-seen times)."""
    import duckdb

    con = duckdb.connect()
    out: dict[str, tuple[int, int]] = {}

    def one(q: Query) -> tuple[int, int]:
        if q.overlap is not None:
            parts = [one(BY_NAME[n]) for n in q.overlap]
            return sum(p[0] for p in parts), sum(p[1] for p in parts)
        rows = nbytes = 0
        for t in q.touches:
            cond = [f"epoch_ms(time) >= {T - t.lo_days * DAY}", f"epoch_ms(time) < {T - t.hi_days * DAY}"]
            if t.types is not None:
                cond.append(
                    "event_type IN (" + ", ".join("'" + x.replace("'", "''") + "'" for x in t.types) + ")"
                )
            sql = f"SELECT count(*) FROM read_parquet('{dense.events}') WHERE {' AND '.join(cond)}"
            r = int(con.sql(sql).fetchall()[0][0])
            rows += r
            nbytes += r * (12 + t.extra_bytes)
        return rows, nbytes + q.per_user_bytes * n_users

    for q in queries:
        out[q.name] = one(q)
    con.close()
    return out


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


def process_memory_mib() -> tuple[float, float]:
    """(resident, peak resident) MiB of this process, from /proc (0, 0 where there is none)."""
    found = {"VmRSS": 0.0, "VmHWM": 0.0}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
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
    p.add_argument("--prepare", action="store_true", help="only generate the data and load --cohortd-store")
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


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=150)
    T = end_ms_of(args.end_date)
    wanted = [e for e in ENGINES if e in args.engines.split(",")]
    events, users, n_events = ensure_data(args, T)
    if args.prepare:
        if not args.cohortd_store:
            raise SystemExit("--prepare needs --cohortd-store")
        return prepare_store(events, users, Path(args.cohortd_store))
    dense = dense_data(events, users)
    names = set(filter(None, args.queries.split(",")))
    chosen = tuple(q for q in QUERIES if not names or q.name in names)
    touched = touched_bytes(dense, T, args.users, chosen)
    bandwidth = memory_bandwidth()
    console.print(f"memory bandwidth (one core, streaming read): {bandwidth / 1e9:.2f} GB/s")

    load_start = [round(x, 2) for x in os.getloadavg()]
    if load_start[0] > (os.cpu_count() or 1):
        console.print(
            f"[yellow]note: load average {load_start[0]} on {os.cpu_count()} cpus: "
            "other processes compete, timings will be noisy"
        )
    workdir = Path(tempfile.mkdtemp(prefix="compare-engines-"))
    loaded: dict[str, Any] = {}
    load_s: dict[str, float] = {}
    rss_mib: dict[str, float] = {}  # resident memory each engine's load added (one process)
    rss_before = process_memory_mib()[0]
    try:
        for name in wanted:
            t0 = time.perf_counter()
            if name == "duckdb":
                loaded[name] = DuckDB(dense)
            elif name == "chdb":
                loaded[name] = ChDB(dense, workdir)
            elif "cohortd" not in loaded:
                store = Path(args.cohortd_store) if args.cohortd_store else None
                loaded["cohortd"] = Cohortd(events, users, workdir, store)
            else:
                continue
            key = name if name in ("duckdb", "chdb") else "cohortd"
            load_s[key] = time.perf_counter() - t0
            if key == "cohortd" and loaded["cohortd"].reused:
                load_s[key] = json.loads((Path(args.cohortd_store) / LOAD_FILE).read_text())["seconds"]
            rss = process_memory_mib()[0]
            rss_mib[key] = round(rss - rss_before, 1)
            rss_before = rss
            console.print(f"load {key}: {load_s[key]:.2f}s, +{rss_mib[key]:.0f} MiB resident")

        def runner(name: str, q: Query, kind: str) -> Callable[[], Any]:
            if name in ("rust", "numba"):
                eng = loaded["cohortd"]
                return lambda: getattr(eng, kind)(q, T, name)
            eng = loaded[name]
            return lambda: getattr(eng, kind)(q, T)

        # 1. correctness: member sets (also the warm-up run of every query)
        members: dict[str, dict[str, set[str]]] = {}
        for q in chosen:
            members[q.name] = {e: runner(e, q, "members")() for e in wanted}
        ref = wanted[0]
        agree = True
        table = Table(title=f"cohort sizes at T = {datetime.fromtimestamp(T / 1000, UTC).isoformat()}")
        table.add_column("query")
        for e in wanted:
            table.add_column(COLUMN[e], justify="right")
        table.add_column("status")
        for q in chosen:
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
        for q in chosen:
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
                "rows_touched": touched[q.name][0],
                "bytes_touched": touched[q.name][1],
                "floor_ms": round(touched[q.name][1] / bandwidth * 1000.0, 6),
            }
            if "chdb" in loaded:
                row["chdb_layout"] = loaded["chdb"].layout(q)
            if "cohortd_rust" in med and row["floor_ms"] > 0:
                row["ratio_rust_over_floor"] = round(med["cohortd_rust"] / row["floor_ms"], 2)
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

        report = {
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
            },
            "environment": {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "duckdb": getattr(loaded.get("duckdb"), "version", None),
                "duckdb_threads": getattr(loaded.get("duckdb"), "threads", None),
                "chdb": getattr(loaded.get("chdb"), "version", None),
                "chdb_max_threads": getattr(loaded.get("chdb"), "threads", None),
                "memory_bandwidth_gb_s": round(bandwidth / 1e9, 3),
                "loadavg_start": load_start,
                "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            },
            "load_seconds": {k: round(v, 3) for k, v in load_s.items()},
            "cohortd_store_reused": bool(getattr(loaded.get("cohortd"), "reused", False)),
            "rss_added_by_load_mib": rss_mib,
            "peak_rss_mib": process_memory_mib()[1],
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
