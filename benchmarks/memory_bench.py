#!/usr/bin/env python
"""The extra memory of one evaluation, against the number of users and the rows it touches.

Goal (issue 10): an evaluation's extra memory is proportional to the rows it
touches; a selective condition over 10M users must not allocate arrays over all
users.  This builds (or reuses, keyed by the arguments) a store of ``--users``
users, each with one ``Seen`` event, and ``--buyers`` users with a few
``Purchase`` events carrying ``revenue``; then, in this process, for each
condition below (each evaluated once to warm up, then measured):

- ``numpy_peak_bytes``: the peak of numpy / Python allocations during the
  evaluation (``tracemalloc``; numpy reports its buffers to it);
- ``rss_peak_extra_bytes``: the process's peak resident size during the evaluation
  above its resident size before (the kernel's peak counter is reset through
  ``/proc/self/clear_refs`` first), which also sees Rust and Arrow allocations;
- both per user and per touched row (rows of the condition's event types).

A selective condition whose peak is a few bytes per user allocates dense per-user
arrays; one proportional to its rows does not.  Numbers are reported, never
asserted.

With ``--store DIR`` it measures an existing store instead (e.g. compare_engines.py's
``--cohortd-store`` at 100M events): the resident bytes per event after open for user,
type and time (``ingest_bench.py --measure-resident`` in a child process: goal <= 24),
and the same peaks for compare_engines' seed cohorts at its as-of time.

    python benchmarks/memory_bench.py                    # 10M users
    python benchmarks/memory_bench.py --users 200000     # smoke size
    python benchmarks/memory_bench.py --store /work/scratch-big/store-generator-100m --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
PAGE = os.sysconf("SC_PAGE_SIZE")
DAY_MS = 86_400_000
NOW_MS = 1_780_000_000_000

CONDITIONS = {
    "selective sum": 'sum(revenue, "Purchase") > 500 in last 90d',
    "selective did": 'did("Purchase") >= 2 in last 30d',
    "selective and": 'did("Purchase") in last 90d and did("Seen") in last 90d',
    "broad did (every user)": 'did("Seen") in last 90d',
}
TOUCHED_TYPES: dict[str, tuple[str, ...] | None] = {
    "selective sum": ("Purchase",),
    "selective did": ("Purchase",),
    "selective and": ("Purchase", "Seen"),
    "broad did (every user)": ("Seen",),
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def build(path: Path, users: int, buyers: int, seed: int) -> None:
    """One Seen event per user over 90 days; buyers get 1-5 Purchases with revenue."""
    from cohortd import Engine

    rng = np.random.default_rng(seed)
    src = path.with_suffix(".parquet")
    ids = pa.array(np.char.add("u", np.arange(users).astype("U9")).astype(object), pa.string())
    seen = pa.table(
        {
            "user_id": ids,
            "event_type": pa.array(["Seen"] * users, pa.string()).dictionary_encode(),
            "time": pa.array(NOW_MS - rng.integers(0, 90 * DAY_MS, users), pa.int64()),
            "revenue": pa.nulls(users, pa.float64()),
        }
    )
    who = rng.choice(users, buyers, replace=False)
    count = rng.integers(1, 6, buyers)
    rows = np.repeat(who, count)
    buys = pa.table(
        {
            "user_id": ids.take(pa.array(rows)),
            "event_type": pa.array(["Purchase"] * len(rows), pa.string()).dictionary_encode(),
            "time": pa.array(NOW_MS - rng.integers(0, 90 * DAY_MS, len(rows)), pa.int64()),
            "revenue": pa.array(rng.uniform(1, 400, len(rows))),
        }
    )
    table = pa.concat_tables([seen, buys]).combine_chunks()
    table = table.set_column(1, "event_type", table.column("event_type").cast(pa.string()))
    pq.write_table(table, src)
    if path.exists():
        shutil.rmtree(path)
    eng = Engine.open(path, clock=lambda: NOW_MS)
    eng.ingest_file(src)
    eng.compact()
    eng.close()
    src.unlink()


def measure(
    path: Path,
    repeat: int,
    conditions: dict[str, str] = CONDITIONS,
    touched_types: dict[str, tuple[str, ...] | None] = TOUCHED_TYPES,
    now_ms: int = NOW_MS,
) -> dict[str, Any]:
    """Peaks of each condition's evaluation; ``touched_types[label]`` None = rows of every type."""
    from cohortd import Engine

    eng = Engine.open(path, clock=lambda: now_ms)
    snap = eng.store.snapshot()
    users = len(eng.store.users)
    names = sorted({t for types in touched_types.values() for t in types or ()})
    rows_of = {}
    for name in names:
        code = eng.store.types.get(name)
        rows_of[name] = sum(
            s.index[code].end - s.index[code].start
            for s in snap.segments
            if code is not None and code in s.index
        )
    all_rows = sum(s.num_rows for s in snap.segments)
    out: dict[str, Any] = {}
    for label, text in conditions.items():
        size = eng.evaluate(text).size  # warm-up: compiled kernels, caches of the snapshot
        types = touched_types[label]
        touched = all_rows if types is None else sum(rows_of[t] for t in types)
        runs = []
        for _ in range(repeat):
            base = rss_bytes()
            reset = reset_peak_rss()
            tracemalloc.start()
            t = time.perf_counter()
            got = eng.evaluate(text).size
            ms = (time.perf_counter() - t) * 1e3
            _, numpy_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss_extra = max(peak_rss_bytes() - base, 0) if reset else None
            assert got == size
            runs.append((numpy_peak, rss_extra, ms))
        numpy_peak = min(r[0] for r in runs)
        rss_extra = min(r[1] for r in runs) if runs[0][1] is not None else None
        out[label] = {
            "definition": text,
            "members": size,
            "touched_rows": touched,
            "numpy_peak_bytes": numpy_peak,
            "numpy_peak_bytes_per_user": numpy_peak / users,
            "numpy_peak_bytes_per_touched_row": numpy_peak / max(touched, 1),
            "rss_peak_extra_bytes": rss_extra,
            "rss_peak_extra_bytes_per_user": None if rss_extra is None else rss_extra / users,
            "ms_median": float(np.median([r[2] for r in runs])),
        }
    eng.close()
    return {"users": users, "rows": rows_of, "events": all_rows, "conditions": out}


def resident(store: Path) -> dict[str, Any]:
    """Resident bytes per event after open for user, type and time: ``ingest_bench.py``'s
    measurement, in a fresh process so nothing else is resident."""
    child = subprocess.run(
        [sys.executable, str(HERE / "ingest_bench.py"), "--measure-resident", str(store)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def seed_cohorts() -> tuple[dict[str, str], dict[str, tuple[str, ...] | None], int]:
    """compare_engines.py's cohorts (definition, event types touched) and its as-of time."""
    sys.path.insert(0, str(HERE))
    import compare_engines as ce

    conditions, types = {}, {}
    for q in ce.QUERIES:
        if q.cohort is None:
            continue
        conditions[q.name] = q.cohort
        touched = [t.types for t in q.touches]
        types[q.name] = None if None in touched else tuple(sorted({x for t in touched for x in t or ()}))
    return conditions, types, ce.end_ms_of(ce.DEFAULT_END)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10_000_000)
    ap.add_argument("--buyers", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", default=os.environ.get("COHORTD_BENCH_DIR", "/tmp/cohortd-bench"))
    ap.add_argument("--out", default=str(HERE / "results" / "memory_bench.json"))
    ap.add_argument("--store", default=None, help="measure this existing store (compare_engines' cohorts)")
    ap.add_argument("--resident-only", action="store_true", help="with --store: no cohort evaluations")
    args = ap.parse_args()

    if args.store:
        store = Path(args.store)
        if not (store / "manifest.json").exists():
            raise SystemExit(f"--store {store}: no cohortd store there")
        conditions, types, as_of = seed_cohorts()
        build_s = 0.0
        res = resident(store)  # first: the child opens the store while this process holds nothing
        if args.resident_only:
            conditions = {}
        measured = measure(store, args.repeat, conditions, types, as_of)
        measured["resident"] = res
        measured["resident_bytes_per_event_user_type_time"] = res["resident_bytes_per_event"]
    else:
        store = Path(args.data_dir) / f"memory-u{args.users}-b{args.buyers}-s{args.seed}"
        t = time.perf_counter()
        if not (store / "manifest.json").exists():
            print(f"building {args.users:,} users -> {store}", flush=True)
            build(store, args.users, args.buyers, args.seed)
        build_s = time.perf_counter() - t
        measured = measure(store, args.repeat)
    result = {
        "benchmark": "memory_bench",
        "store": str(store),
        "build_s": build_s,
        **measured,
        "loadavg_1m": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['users']:,} users; rows {result['rows']}")
    for label, r in result["conditions"].items():
        rss = r["rss_peak_extra_bytes_per_user"]
        print(
            f"  {label:24s} {r['members']:>9,} members  numpy peak {r['numpy_peak_bytes'] / 1e6:8.2f} MB "
            f"({r['numpy_peak_bytes_per_user']:.3f} B/user, "
            f"{r['numpy_peak_bytes_per_touched_row']:.1f} B/row)  "
            f"RSS peak extra {'n/a' if rss is None else f'{rss:.3f} B/user'}  {r['ms_median']:.1f} ms"
        )
    if "resident" in result:
        per_event = result["resident_bytes_per_event_user_type_time"]
        print(f"  resident after open, user+type+time: {per_event:.1f} B/event (goal <= 24)")
    print(f"  -> {out}")


if __name__ == "__main__":
    main()
