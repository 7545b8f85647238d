"""Kernel microbench for `count` and `distinct_buckets` over rows in user-sorted runs.

The rows of `any` event in a 30-day window at 10M users / 100M events: parts (segments) of a few
dozen runs sorted by user (their type ranges). Reports CPU and wall time per call (the machine is
shared: CPU time is the figure to compare) and writes JSON.

    python benchmarks/user_blocks_bench.py --users 10000000 --rows 46000000 --out results/user_blocks.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from cohortd import _native

DAY = 86_400_000


def sorted_run_parts(users: int, rows: int, parts: int, runs: int, seed: int) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    per_run = max(1, rows // (parts * runs))
    us = [
        np.concatenate([np.sort(rng.integers(0, users, per_run, dtype=np.uint32)) for _ in range(runs)])
        for _ in range(parts)
    ]
    ts = [rng.integers(0, 35 * DAY, len(u)).astype(np.int64) for u in us]
    return us, ts


def timed(call: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median CPU and wall milliseconds of ``repeat`` calls after one warm-up."""
    call()
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        call()
        cpu.append(1e3 * (time.process_time() - c))
        wall.append(1e3 * (time.perf_counter() - w))
    return {"cpu_ms": round(float(np.median(cpu)), 3), "wall_ms": round(float(np.median(wall)), 3)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000_000)
    ap.add_argument("--rows", type=int, default=46_000_000)
    ap.add_argument("--parts", type=int, default=10)
    ap.add_argument("--runs", type=int, default=40, help="user-sorted runs per part")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    us, ts = sorted_run_parts(a.users, a.rows, a.parts, a.runs, a.seed)
    start, end = 5 * DAY, 35 * DAY
    result = {
        "benchmark": "user_blocks",
        "config": {**{k: v for k, v in vars(a).items() if k != "out"}, "rows": sum(len(u) for u in us)},
        "loadavg_start": list(os.getloadavg()),
        "count": timed(lambda: _native.count(us, ts, start, end, a.users), a.repeat),
        "distinct_buckets_days": timed(
            lambda: _native.distinct_buckets(us, ts, start, end, 0, DAY, a.users), a.repeat
        ),
        "loadavg_end": list(os.getloadavg()),
    }
    print(json.dumps(result, indent=2))
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
