"""Audience delivery under load: how soon a webhook hears about an ingested user, and a big first delivery.

    python benchmarks/audience_bench.py                 # 1M users, 20 realtime audiences, 100k events/s
    python benchmarks/audience_bench.py --quick         # CI: seconds, small data

Setup: the freshness benchmark's data set and 20 saved cohorts
(``freshness_bench.build_dataset``), a real server process, one webhook
destination pointing at a reference receiver on 127.0.0.1
(``cohortd.audiences.receiver``: verifies signatures, drops duplicate keys) and
one ``realtime`` audience per cohort.  Every audience's full first delivery is
awaited before the load starts.

Load: the freshness benchmark's paced ``Ingest`` threads; each batch carries one
new probe user who enters the first cohort.  Measured, with one ``Watch``
subscriber on the same cohorts as the in-run peer:

* delivery latency: from the client seeing ``Ingest`` return to the receiver
  getting the batch of audience ``A00`` that adds the probe (p50/p90/p99/max),
  and the same for the Watch message (the change notification the delivery is
  built on), with their ratio;
* probes never delivered, duplicate deliveries dropped by the receiver, and
  whether the receiver's set equals every audience's members at the end.

Then a full first delivery of ``--big``-member audience (``did(any)``; 1M at
full size): seconds until the destination acknowledged everything, batches/s,
and the server's resident memory (VmRSS sampled every 20 ms) before and at its
peak during the delivery.

Goals (reported, never asserted): p99 under 1 s.  Writes
``benchmarks/results/audience_bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cohortd import Client  # noqa: E402
from cohortd.audiences.receiver import Receiver  # noqa: E402
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc  # noqa: E402
from freshness_bench import COHORTS, Ingester, Subscriber, build_dataset, latency_summary  # noqa: E402
from support.server import ServerProcess  # noqa: E402  the one launcher, shared with the tests

RESULTS = Path(__file__).resolve().parent / "results" / "audience_bench.json"
SECRET = "bench-secret"


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def wait_synced(client: Client, names: list[str], timeout: float) -> bool:
    """Every audience acknowledged its cohort's current version."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        auds = {a.name: a for a in client.list_audiences()}
        if all(
            auds[n].acknowledged_version and auds[n].acknowledged_version == client.evaluate(c).version
            for n, c in names
        ):
            return True
        time.sleep(0.1)
    return False


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=20.0, help="measured ingest time")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--rate", type=float, default=100_000, help="offered events/s")
    p.add_argument("--batch", type=int, default=10_000, help="events per Ingest call")
    p.add_argument("--ingesters", type=int, default=2)
    p.add_argument("--audience-batch", type=int, default=1_000, help="users per webhook batch")
    p.add_argument("--drain", type=float, default=60.0, help="max seconds to wait for the last probes")
    p.add_argument("--quick", action="store_true", help="CI: 5k users, 2 s, 20k events/s offered")
    p.add_argument("--full-only", action="store_true", help="only the big first delivery (no streaming part)")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    if a.quick:
        a.users, a.seconds, a.warmup = min(a.users, 5_000), min(a.seconds, 2.0), min(a.warmup, 0.5)
        a.rate, a.batch = min(a.rate, 20_000), min(a.batch, 2_000)

    tmp = tempfile.mkdtemp(prefix="cohortd-aud-")
    data = Path(tmp)
    names = [n for n, _ in COHORTS]
    audiences = [(f"A{i:02d}", n) for i, n in enumerate(names)]
    results: dict[str, Any] = {
        "bench": "audience_bench",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "grpcio": grpc.__version__},
        "params": {
            "users": a.users, "audiences": len(audiences), "seconds": a.seconds, "rate": a.rate,
            "batch": a.batch, "ingesters": a.ingesters, "audience_batch": a.audience_batch, "quick": a.quick,
        },
    }  # fmt: skip
    rx = Receiver(SECRET)
    delivered: dict[str, float] = {}

    def on_batch(rec: Any) -> None:
        if rec.doc.get("audience") == "A00":
            t = time.monotonic()
            for u in rec.doc.get("added", ()):
                if u.startswith("probe-") and u not in delivered:
                    delivered[u] = t

    rx.on_batch = on_batch
    server = None
    try:
        t0 = time.perf_counter()
        build_dataset(data, a.users)
        results["setup_s"] = time.perf_counter() - t0
        server = ServerProcess(data, startup_timeout=600)
        with Client(server.address, timeout=600) as client:
            client.wait_ready(120)
            client.create_destination("bench-hook", webhook=rx.url, secret=SECRET)
            if not a.full_only:  # the realtime part (skipped to measure only the big delivery)
                t0 = time.perf_counter()
                for aud, cohort in audiences:
                    client.create_audience(aud, cohort, "bench-hook", batch_size=a.audience_batch)
                synced = wait_synced(client, audiences, 1_800)
                results["first_deliveries"] = {
                    "seconds": time.perf_counter() - t0,
                    "synced": synced,
                    "users": sum(a_.acknowledged_members for a_ in client.list_audiences()),
                    "requests": len(rx.requests),
                }
                print(f"20 first deliveries: {results['first_deliveries']}", flush=True)

                with grpc.insecure_channel(server.address) as channel:
                    stub = pb_grpc.CohortdStub(channel)
                    sub = Subscriber(stub, names)
                    if not sub.started.wait(120) or sub.error:
                        raise RuntimeError(f"watch did not start: {sub.error}")
                    ing = Ingester(stub, a.users, a.batch, a.rate, a.ingesters)
                    time.sleep(a.warmup)
                    with ing._lock:
                        m_start, acc0, before = time.monotonic(), ing.accepted, set(ing.acked)
                    time.sleep(a.seconds)
                    with ing._lock:
                        m_end, acc1 = time.monotonic(), ing.accepted
                    ing.join()
                    deadline = time.monotonic() + a.drain
                    while time.monotonic() < deadline and not set(ing.acked) <= set(delivered):
                        time.sleep(0.05)
                    sub.close()
                measured = [pr for pr in ing.acked if pr not in before and ing.acked[pr] <= m_end]
                lat = np.array([(delivered[pr] - ing.acked[pr]) * 1e3 for pr in measured if pr in delivered])
                wlat = np.array([(sub.seen[pr] - ing.acked[pr]) * 1e3 for pr in measured if pr in sub.seen])
                synced_end = wait_synced(client, audiences, a.drain)
                exact = all(rx.held.get(aud, set()) == set(client.members(c)) for aud, c in audiences)
                seconds = m_end - m_start
                results["ingest"] = {
                    "events_per_s": (acc1 - acc0) / seconds if seconds > 0 else None,
                    "measured_events": acc1 - acc0,
                    "batches": ing.batches,
                    "errors": ing.errors[:5],
                }
                results["delivery_ms"] = {
                    **latency_summary(lat),
                    "probes_sent": len(ing.acked),
                    "probes_never_delivered": len(set(ing.acked) - set(delivered)),
                }
                results["watch_ms"] = latency_summary(wlat)
                # server side, from A00's sync log: change committed (its version is a hybrid
                # timestamp: ms * 1000) -> batch acknowledged, and the HTTP round trip alone
                log = [
                    s for s in client.audience_log("A00", limit=100_000) if not s.full and s.status == "ok"
                ]
                results["server_side_ms"] = {
                    "commit_to_ack": latency_summary(
                        np.array([s.time_ms - s.to_version // 1000 for s in log], float)
                    ),
                    "http_round_trip": latency_summary(np.array([s.latency_ms for s in log], float)),
                }
                results["receiver"] = {
                    "requests": len(rx.requests),
                    "duplicates_dropped": rx.duplicates,
                    "bad_signatures": rx.bad_signatures,
                    "synced_at_end": synced_end,
                    "holds_exactly_the_members": exact,
                }

            # ---- a big full first delivery
            big = min(a.users, 1_000_000)
            client.create_cohort("Everyone", "did(any)")
            size = client.evaluate("Everyone").size
            pid = server.proc.pid
            rss0 = rss_bytes(pid)
            peak = [rss0]
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.02):
                    peak[0] = max(peak[0], rss_bytes(pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            reqs0 = len(rx.requests)
            t0 = time.perf_counter()
            client.create_audience("Everyone sync", "Everyone", "bench-hook", batch_size=a.audience_batch)
            ok = wait_synced(client, [("Everyone sync", "Everyone")], 3_600)
            full_s = time.perf_counter() - t0
            stop.set()
            sampler.join()
            batches = len(rx.requests) - reqs0
            results["full_delivery"] = {
                "members": size,
                "target_members": big,
                "seconds": full_s,
                "synced": ok,
                "batches": batches,
                "users_per_s": size / full_s if full_s else None,
                "server_rss_before_mb": rss0 / 2**20,
                "server_rss_peak_mb": peak[0] / 2**20,
                "server_rss_growth_mb": (peak[0] - rss0) / 2**20,
            }
        p99 = results.get("delivery_ms", {}).get("p99")
        wp99 = results.get("watch_ms", {}).get("p99")
        results["goals"] = {"p99_under_1s": p99 is not None and p99 < 1_000}
        results["ratios"] = {
            "p99_vs_1s_goal": None if p99 is None else p99 / 1_000,
            "delivery_p99_vs_watch_p99": None if not (p99 and wp99) else p99 / wp99,
        }
    finally:
        if server is not None:
            results["exit_code"] = server.stop()
        rx.close()
        shutil.rmtree(tmp, ignore_errors=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2))
    f = results["full_delivery"]
    if a.full_only:
        print(f"full delivery of {f['members']:,} users in {f['seconds']:.1f}s ({f['batches']} batches), "
              f"server RSS {f['server_rss_before_mb']:.0f} -> {f['server_rss_peak_mb']:.0f} MB")  # fmt: skip
        print(f"wrote {a.out}")
        return results
    d, w = results["delivery_ms"], results["watch_ms"]
    print(
        f"ingest {results['ingest']['events_per_s']:,.0f} events/s; Ingest -> webhook over {d['samples']} "
        f"batches: p50 {d['p50']:.1f} ms p99 {d['p99']:.1f} ms "
        f"(Watch p50 {w['p50']:.1f} p99 {w['p99']:.1f}); "
        f"never delivered {d['probes_never_delivered']}; full delivery of {f['members']:,} users in "
        f"{f['seconds']:.1f}s ({f['batches']} batches), server RSS +{f['server_rss_growth_mb']:.0f} MB",
        flush=True,
    )
    print(f"wrote {a.out}")
    return results


if __name__ == "__main__":
    main()
