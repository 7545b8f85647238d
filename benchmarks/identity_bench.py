#!/usr/bin/env python
"""Identity resolution and user deletion at scale: ingest throughput and delete latency, beside DuckDB.

Data (deterministic by ``--seed``): ``--users`` people; each first does
``--anon-events`` events under an anonymous id only (``d<i>``), then one event
carrying both ids (the identify link), then ``--user-events`` events under the
user id; event types ``view`` / ``buy``.  Rows are shuffled within each phase and
ingested in ``--batch`` row Arrow batches, so links arrive after the anonymous
events they merge (the merge folds past events).

Measured, never asserted:

1. **Ingest** events/s into a fresh engine directory, then ``compact()``:
   identity-resolved (the rows above) and a baseline of the same row count with
   every row under its user id (no anonymous ids, no links);
2. **DuckDB equivalent** of the resolved ingest: load the raw rows, resolve each
   anonymous id to the first user id it appeared beside (cohortd's rule), and
   write the resolved table sorted by ``(event_type, uid, ts)`` with dense
   integer ids (its best layout); the ratio is cohortd / DuckDB wall time;
3. **Agreement**: ``did("buy") >= 2`` and ``did(any) >= 3`` member counts from
   cohortd and from the resolved DuckDB table must match (exit 1 otherwise);
4. **Delete latency**: ``delete_users`` of 1 and of ``--delete-batch`` users
   (the tombstone: durable, every answer changed), then the purge
   (``compact()``: segments, dictionaries, log); DuckDB peer: ``DELETE ... WHERE
   uid IN (...)`` followed by ``CHECKPOINT`` on a file database.

Writes JSON to ``--out`` (default ``benchmarks/results/identity_bench.json``)::

    python benchmarks/identity_bench.py                     # 1M users (~5M events)
    python benchmarks/identity_bench.py --users 20000       # quick
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
T0 = 1_780_000_000_000
DAY = 86_400_000


def make_rows(users: int, anon_events: int, user_events: int, seed: int) -> dict[str, pa.Table]:
    """The three phases as Arrow tables (anonymous, links, identified) and the baseline table."""
    rng = np.random.default_rng(seed)
    types = np.array(["view", "buy"])

    def phase(n_per_user: int, start_day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        who = np.repeat(np.arange(users), n_per_user)
        rng.shuffle(who)
        times = T0 - start_day * DAY + rng.integers(0, DAY, len(who))
        return who, types[rng.integers(0, 2, len(who))], times

    a_who, a_type, a_time = phase(anon_events, 20)
    l_who, _, l_time = phase(1, 10)
    u_who, u_type, u_time = phase(user_events, 5)
    ids = np.char.add("u", np.arange(users).astype(str))
    devices = np.char.add("d", np.arange(users).astype(str))
    anon = pa.table({"anonymous_id": devices[a_who], "event_type": a_type, "time": a_time})
    links = pa.table(
        {
            "user_id": ids[l_who],
            "anonymous_id": devices[l_who],
            "event_type": np.full(users, "view"),
            "time": l_time,
        }
    )
    named = pa.table({"user_id": ids[u_who], "event_type": u_type, "time": u_time})
    every = np.concatenate((a_who, l_who, u_who))
    baseline = pa.table(
        {
            "user_id": ids[every],
            "event_type": np.concatenate((a_type, np.full(users, "view"), u_type)),
            "time": np.concatenate((a_time, l_time, u_time)),
        }
    )
    return {"anon": anon, "links": links, "named": named, "baseline": baseline}


def batches(table: pa.Table, size: int) -> list[pa.Table]:
    return [table.slice(i, size) for i in range(0, table.num_rows, size)]


def ingest(directory: Path, tables: list[pa.Table], batch: int) -> tuple[Any, dict[str, float]]:
    from cohortd import Engine

    engine = Engine.open(directory, clock=lambda: T0)
    started = time.perf_counter()
    rows = 0
    for table in tables:
        for part in batches(table, batch):
            report = engine.ingest(part)
            if report.rejected:
                raise SystemExit(f"rejected rows: {report.rejected[:3]}")
            rows += part.num_rows
    ingested = time.perf_counter() - started
    engine.compact()
    total = time.perf_counter() - started
    return engine, {"rows": rows, "ingest_s": ingested, "compact_s": total - ingested, "total_s": total,
                    "events_per_s": rows / total}  # fmt: skip


def duckdb_resolved(tables: dict[str, pa.Table], path: Path) -> tuple[Any, dict[str, float]]:
    """Load the raw rows, resolve ids (first user id beside each anonymous id), sorted dense layout."""
    import duckdb

    con = duckdb.connect(str(path))
    anon, links, named = tables["anon"], tables["links"], tables["named"]
    started = time.perf_counter()
    con.register("anon_rows", anon)
    con.register("link_rows", links)
    con.register("named_rows", named)
    con.execute(
        """
        CREATE TABLE raw AS
            SELECT NULL::VARCHAR AS user_id, anonymous_id, event_type, time, 0 AS phase FROM anon_rows
            UNION ALL SELECT user_id, anonymous_id, event_type, time, 1 FROM link_rows
            UNION ALL SELECT user_id, NULL, event_type, time, 2 FROM named_rows;
        CREATE TABLE idmap AS
            SELECT anonymous_id, first(user_id ORDER BY phase) AS user_id FROM raw
            WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY anonymous_id;
        CREATE TABLE people AS
            SELECT row_number() OVER () - 1 AS uid, person FROM (
                SELECT DISTINCT coalesce(r.user_id, m.user_id, '$anon:' || r.anonymous_id) AS person
                FROM raw r LEFT JOIN idmap m USING (anonymous_id));
        CREATE TABLE events AS
            SELECT r.event_type, p.uid::UINTEGER AS uid, r.time AS ts
            FROM raw r LEFT JOIN idmap m USING (anonymous_id)
            JOIN people p ON p.person = coalesce(r.user_id, m.user_id, '$anon:' || r.anonymous_id)
            ORDER BY r.event_type, uid, ts;
        DROP TABLE raw;
        CHECKPOINT;
        """
    )
    total = time.perf_counter() - started
    rows = anon.num_rows + links.num_rows + named.num_rows
    return con, {"rows": rows, "total_s": total, "events_per_s": rows / total}


def duckdb_count(con: Any, sql_type: str | None, k: int) -> int:
    where = "" if sql_type is None else f"WHERE event_type = '{sql_type}'"
    q = f"SELECT count(*) FROM (SELECT uid FROM events {where} GROUP BY uid HAVING count(*) >= {k})"
    return int(con.execute(q).fetchone()[0])


def timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--anon-events", type=int, default=2)
    ap.add_argument("--user-events", type=int, default=2)
    ap.add_argument("--batch", type=int, default=500_000)
    ap.add_argument("--delete-batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "identity_bench.json")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    tables = make_rows(args.users, args.anon_events, args.user_events, args.seed)
    work = Path(tempfile.mkdtemp(prefix="identity-bench-"))
    out: dict[str, Any] = {
        "users": args.users,
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    try:
        engine, resolved = ingest(
            work / "resolved", [tables["anon"], tables["links"], tables["named"]], args.batch
        )
        base_engine, baseline = ingest(work / "baseline", [tables["baseline"]], args.batch)
        base_engine.close()
        con, duck = duckdb_resolved(tables, work / "duck.db")
        out["ingest"] = {
            "identity_resolved": resolved,
            "baseline_user_ids_only": baseline,
            "duckdb_resolved": duck,
            "resolved_vs_baseline": resolved["total_s"] / baseline["total_s"],
            "cohortd_vs_duckdb": resolved["total_s"] / duck["total_s"],
        }
        checks = {"buy_2": ('did("buy") >= 2', "buy", 2), "any_3": ("did(any) >= 3", None, 3)}
        agree = {}
        for name, (text, sql_type, k) in checks.items():
            mine = engine.evaluate(text, as_of=T0).size
            theirs = duckdb_count(con, sql_type, k)
            agree[name] = {"cohortd": mine, "duckdb": theirs, "agree": mine == theirs}
        out["agreement"] = agree
        victims = [f"u{i}" for i in range(1, 1 + args.delete_batch)]
        one_ms = timed(lambda: engine.delete_users(["u0"]))
        many_ms = timed(lambda: engine.delete_users(victims))
        after = engine.evaluate("did(any)", as_of=T0).size
        purge_ms = timed(engine.compact)
        engine.close()
        dense = [0, *range(1, 1 + args.delete_batch)]  # DuckDB: the same people by their dense ids
        uids = con.execute(
            "SELECT uid FROM people WHERE person IN (SELECT unnest($1))", [["u0", *victims]]
        ).fetchall()
        ids = [r[0] for r in uids]
        duck_one = timed(lambda: con.execute(f"DELETE FROM events WHERE uid = {ids[0]}; CHECKPOINT;"))
        rest = ",".join(str(i) for i in ids[1:])
        duck_many = timed(lambda: con.execute(f"DELETE FROM events WHERE uid IN ({rest}); CHECKPOINT;"))
        out["delete"] = {
            "ids": len(dense),
            "cohortd_one_ms": one_ms,
            "cohortd_batch_ms": many_ms,
            "cohortd_batch_size": args.delete_batch,
            "cohortd_purge_ms": purge_ms,
            "known_users_after": after,
            "duckdb_one_ms": duck_one,
            "duckdb_batch_ms": duck_many,
            "one_vs_duckdb": one_ms / duck_one,
            "batch_vs_duckdb": many_ms / duck_many,
            "purge_vs_duckdb_batch": purge_ms / duck_many,
        }
        con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["agree"] = all(v["agree"] for v in out["agreement"].values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    if not args.quiet:
        ing, dele = out["ingest"], out["delete"]
        print(f"ingest: resolved {ing['identity_resolved']['events_per_s']:,.0f} ev/s, "
              f"user ids only {ing['baseline_user_ids_only']['events_per_s']:,.0f} ev/s, "
              f"DuckDB resolve+load {ing['duckdb_resolved']['events_per_s']:,.0f} ev/s "
              f"(cohortd/DuckDB time {ing['cohortd_vs_duckdb']:.2f}x)")  # fmt: skip
        print(f"delete: 1 user {dele['cohortd_one_ms']:.1f} ms (DuckDB {dele['duckdb_one_ms']:.1f} ms), "
              f"{args.delete_batch} users {dele['cohortd_batch_ms']:.1f} ms "
              f"(DuckDB {dele['duckdb_batch_ms']:.1f} ms), "
              f"purge {dele['cohortd_purge_ms']:.0f} ms; agree={out['agree']}")  # fmt: skip
        print(f"wrote {args.out}")
    return 0 if out["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
