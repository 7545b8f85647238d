#!/usr/bin/env python
"""Fault classes tried against the event store, with counts: trials, acknowledged, lost (must be 0).

Runs the harnesses of ``tests/test_storage_faults.py`` (injected write / fsync /
directory fsync / rename / open / truncate failures, ENOSPC and EIO) and
``tests/test_storage_powerloss.py`` (a power cut after every ``--cut-step``-th
file operation of the workload, with the directory rebuilt from what was
fsync'd, under both directory policies), and prints the table the durability
report quotes.  Nothing is timed; the JSON goes to ``--out``.

    python benchmarks/storage_faults.py                 # 20 trials per fault class
    python benchmarks/storage_faults.py --quick         # smoke size
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def power_loss_table(root: Path, step: int) -> list[dict]:
    import test_storage_powerloss as pl

    total = pl._total_ops(root / "measure")
    rows = []
    for policy in ("synced", "deletes"):
        stats = {"fault": f"power cut ({policy})", "trials": 0, "acknowledged": 0}
        stats |= {"lost": 0, "failed_open": 0}
        for cut in range(0, total + 1, step):
            layer, acked = pl._run(root / f"{policy}-{cut}", cut)
            out = root / f"{policy}-{cut}-after"
            layer.materialize(out, policy)
            stats["trials"] += 1
            stats["acknowledged"] += len(acked)
            try:
                pl._check(out, acked)
            except AssertionError:
                stats["lost"] += 1
            except Exception:  # noqa: BLE001 - an open that fails is counted, not hidden
                stats["failed_open"] += 1
        rows.append(stats)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20, help="trials per injected-fault class")
    ap.add_argument("--cut-step", type=int, default=3, help="power cut after every N-th operation")
    ap.add_argument("--quick", action="store_true", help="1 trial per class, a cut every 60 operations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results" / "storage_faults.json"))
    args = ap.parse_args()
    if args.quick:
        args.trials, args.cut_step = 1, 60
    logging.disable(logging.WARNING)  # expected seal retries would flood the output

    import test_storage_faults as tf
    from cohortd.storage import store as store_mod

    store_mod.SEAL_BATCHES, store_mod.MERGE_FANIN, store_mod.RETRY_MAX_S = 3, 2, 0.0
    with tempfile.TemporaryDirectory(prefix="cohortd-faults-") as tmp:
        faults = tf.fault_table(args.trials, Path(tmp) / "faults", args.seed)
        power = power_loss_table(Path(tmp) / "power", args.cut_step)
    rows = faults + power
    head = ("fault class", "trials", "injected", "acked", "errored", "lost", "resurr.")
    print(f"{head[0]:<28} {head[1]:>6} {head[2]:>8} {head[3]:>6} {head[4]:>7} {head[5]:>4} {head[6]:>7}")
    for r in rows:
        print(
            f"{r['fault']:<28} {r['trials']:>6} {r.get('injected', r['trials']):>8} {r['acknowledged']:>6} "
            f"{r.get('errored', 0):>7} {r['lost']:>4} {r.get('resurrected', 0) + r.get('failed_open', 0):>7}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {"trials": args.trials, "cut_step": args.cut_step, "quick": args.quick, "seed": args.seed}
    out.write_text(json.dumps({"params": params, "rows": rows}, indent=1))
    lost = sum(r["lost"] + r.get("resurrected", 0) + r.get("failed_open", 0) for r in rows)
    print(f"wrote {out}; lost + resurrected + failed opens = {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
