"""The native string dictionary against the pure-Python one it replaced, in one process.

Measures, for ``--users`` distinct user ids (``u0000000``...):

* memory per entry: RSS delta of building each dictionary from an Arrow column (tracemalloc
  cannot see Rust's heap), and the native table's own ``heap_bytes``;
* encode throughput: ids of an ``--rows``-row Arrow column over those users (new values added);
* lookup throughput: ids of a Python list of str (the gRPC paths) and of an Arrow column;
* decode throughput and save / load times of the Arrow IPC file (the same format for both);
* with ``--store``: the open time of a prepared store (``EventStore.open``) with each.

    python benchmarks/dictionary_bench.py                       # 1M users, 10M rows
    python benchmarks/dictionary_bench.py --store /work/scratch-dict/store-generator-1m
    python benchmarks/dictionary_bench.py --users 2000 --rows 10000 --repeat 1   # smoke

Writes JSON to benchmarks/results/dictionary_bench.json (``--out``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the reference implementation lives with the tests

from cohortd.storage import store as store_module  # noqa: E402
from cohortd.storage.dictionary import StringDictionary  # noqa: E402
from support.py_dictionary import PyStringDictionary  # noqa: E402

IMPLS: dict[str, Any] = {"native": StringDictionary, "python": PyStringDictionary}


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def measure(name: str, users: pa.Array, column: pa.Array, names: list[str], repeat: int, tmp: Path) -> dict:
    cls = IMPLS[name]
    gc.collect()
    before = rss()
    d = cls()  # what a dictionary holds once built (the Python one: its strs too)
    d.encode_unique(users if name == "native" else users.to_pylist())
    gc.collect()
    grown = rss() - before
    out: dict[str, Any] = {"rss_bytes_per_entry": grown / len(users)}
    if hasattr(d, "heap_bytes"):
        out["heap_bytes_per_entry"] = d.heap_bytes() / len(users)
    wall, cpu = best(lambda: cls().encode_array(column), repeat)
    out["encode_rows_per_s"] = len(column) / wall
    out["encode_cpu_s"] = cpu
    wall, _ = best(lambda: d.ids(names), repeat)
    out["lookup_list_per_s"] = len(names) / wall
    wall, _ = best(lambda: d.ids(users), repeat)
    out["lookup_arrow_per_s"] = len(users) / wall
    ids = np.random.default_rng(1).integers(0, len(users), len(names)).astype(np.uint32)
    wall, _ = best(lambda: d.decode(ids), repeat)
    out["decode_per_s"] = len(ids) / wall
    path = tmp / f"{name}.arrow"
    out["save_s"], _ = best(lambda: d.save(path), repeat)
    out["load_s"], _ = best(lambda: cls.load(path), repeat)
    return out


def open_store(name: str, path: Path, repeat: int) -> dict:
    """``EventStore.open`` of a prepared store with one implementation (RSS grown, best time)."""
    store_module.StringDictionary = IMPLS[name]  # type: ignore[attr-defined]
    try:
        gc.collect()
        before = rss()
        s = store_module.EventStore.open(path)
        grown = rss() - before
        n = len(s.users)
        s.close()
        del s
        gc.collect()
        wall, cpu = best(lambda: store_module.EventStore.open(path).close(), repeat)
    finally:
        store_module.StringDictionary = StringDictionary  # type: ignore[attr-defined]
    return {"open_s": wall, "open_cpu_s": cpu, "open_rss_bytes": grown, "users": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--lookups", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", type=Path, help="a prepared store to open with each implementation")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/dictionary_bench.json")
    args = ap.parse_args()

    users = pa.array([f"u{i:07d}" for i in range(args.users)], pa.string())
    rng = np.random.default_rng(0)
    column = users.take(pa.array(rng.integers(0, args.users, args.rows)))
    names = users.take(pa.array(rng.integers(0, args.users, args.lookups))).to_pylist()
    result: dict[str, Any] = {
        "users": args.users,
        "rows": args.rows,
        "lookups": args.lookups,
        "load_average": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("native", "python"):
            result[name] = measure(name, users, column, names, args.repeat, Path(tmp))
    if args.store:
        result["store"] = str(args.store)
        for name in ("native", "python"):
            result[name].update(open_store(name, args.store, args.repeat))
    new, old = result["native"], result["python"]
    result["native_advantage"] = {  # > 1: the native one is that many times faster / smaller
        k: (new[k] / old[k] if k.endswith("per_s") else old[k] / new[k])
        for k in new
        if k in old and isinstance(new[k], float) and new[k] and old[k]
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
