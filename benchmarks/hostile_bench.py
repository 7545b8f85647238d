"""Cheap reads under a hostile load: IsMember latency with idle watchers and slow evaluations.

    python benchmarks/hostile_bench.py                       # 300 watchers, 8 slow Evaluates
    python benchmarks/hostile_bench.py --quick               # CI: seconds, small data
    python benchmarks/hostile_bench.py --server-pythonpath OLD/python --out before.json

One real server process (``python -m cohortd.server --workers W``) and three
phases, each measuring sequential ``IsMember`` calls (p50, p99, max, calls
that missed their 5 s deadline) and the server's thread count:

* ``idle``: nothing else running (the reference: every ratio is against it);
* ``watchers``: N idle ``Watch`` streams open;
* ``watchers_and_slow``: the same plus S slow ``Evaluate`` calls in flight.

``--server-pythonpath`` runs the server from another checkout (e.g. the
commit before the grpc.aio server) so before/after come from one script.
Writes JSON (default ``benchmarks/results/hostile_bench.json``); never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
from cohortd import Client
from cohortd.v1 import cohortd_pb2 as pb
from cohortd.v1 import cohortd_pb2_grpc as pb_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.server import ServerProcess  # noqa: E402  the one launcher, shared with the tests

DAY_MS = 86_400_000
CALL_TIMEOUT_S = 5.0
RESULTS = Path(__file__).resolve().parent / "results"


def _events(users: int, per_user: int, now: int) -> pa.Table:
    n = users * per_user
    return pa.table(
        {
            "user_id": [f"u{i % users}" for i in range(n)],
            "event_type": [f"T{i % 7}" for i in range(n)],
            "time": pa.array([now - (i % 50) * DAY_MS // 2 - 1000 for i in range(n)], pa.int64()),
        }
    )


def _slow_definition(seed: int, conditions: int) -> str:
    """Seconds of work that match no one: distinct sequences over every row."""
    return " or ".join(
        f'sequence(any, "T{i % 7}", any) within {seed * 1000 + i + 1}s in last {i % 40 + 5}d'
        for i in range(conditions)
    )


def _is_member_phase(address: str, calls: int, users: int) -> dict[str, Any]:
    latencies: list[float] = []
    missed = 0
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.CohortdStub(channel)
        for i in range(calls):
            started = time.perf_counter()
            try:
                stub.IsMember(
                    pb.IsMemberRequest(user_id=f"u{i % users}", cohort="active"), timeout=CALL_TIMEOUT_S
                )
                latencies.append((time.perf_counter() - started) * 1000)
            except grpc.RpcError:
                missed += 1
    latencies.sort()

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else None

    return {
        "calls": calls,
        "answered": len(latencies),
        "missed_deadline": missed,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] if latencies else None,
    }


async def _hold_watchers(address: str, n: int, opened: threading.Event, stop: threading.Event) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.CohortdStub(channel)
        calls = [stub.Watch(pb.WatchRequest(cohorts=["active"])) for _ in range(n)]
        reads = [asyncio.ensure_future(c.read()) for c in calls]  # the first message: the checkpoint
        if reads:
            await asyncio.wait(reads, timeout=30)
        opened.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for c in calls:
            c.cancel()
        for r in reads:
            r.cancel()
        await asyncio.gather(*reads, return_exceptions=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    now = int(time.time() * 1000)
    out: dict[str, Any] = {"params": vars(args) | {"python": platform.python_version()}}
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PYTHONPATH": args.server_pythonpath} if args.server_pythonpath else None
        srv = ServerProcess(Path(tmp), "--workers", str(args.workers), env=env)
        try:
            with Client(srv.address) as c:
                c.wait_ready(60)
                c.ingest(_events(args.users, args.events_per_user, now), timeout=600)
                c.create_cohort("active", "did(any) in last 7d")
                t = time.perf_counter()
                c.evaluate(definition=_slow_definition(0, args.slow_conditions), timeout=600)
                out["one_slow_evaluate_s"] = time.perf_counter() - t
            out["idle"] = _is_member_phase(srv.address, args.calls, args.users) | {"threads": srv.threads()}
            loop = asyncio.new_event_loop()
            opened, stop = threading.Event(), threading.Event()
            holder = threading.Thread(
                target=loop.run_until_complete,
                args=(_hold_watchers(srv.address, args.watchers, opened, stop),),
            )
            holder.start()
            opened.wait(60)
            out["watchers"] = _is_member_phase(srv.address, args.calls, args.users) | {
                "threads": srv.threads()
            }
            with grpc.insecure_channel(srv.address) as channel:
                stub = pb_grpc.CohortdStub(channel)
                slow = []
                for i in range(args.slow):
                    request = pb.EvaluateRequest()
                    request.target.definition.text = _slow_definition(i + 1, args.slow_conditions)
                    slow.append(stub.Evaluate.future(request, timeout=600))
                time.sleep(0.3)
                phase = _is_member_phase(srv.address, args.calls, args.users)
                phase["slow_still_running"] = sum(not f.done() for f in slow)
                out["watchers_and_slow"] = phase | {"threads": srv.threads()}
                for f in slow:
                    f.cancel()
            stop.set()
            holder.join(60)
            loop.close()
        finally:
            out["exit_code"] = srv.stop()
    idle = out["idle"]
    out["ratios"] = {  # each phase's latency over the idle server's
        phase: {
            k: (out[phase][k] / idle[k] if out[phase][k] is not None and idle[k] else None)
            for k in ("p50_ms", "p99_ms")
        }  # fmt: skip
        for phase in ("watchers", "watchers_and_slow")
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small data and counts (CI)")
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--events-per-user", type=int, default=20)
    p.add_argument("--watchers", type=int, default=300)
    p.add_argument("--slow", type=int, default=8, help="slow Evaluate calls in flight")
    p.add_argument("--slow-conditions", type=int, default=60)
    p.add_argument("--calls", type=int, default=200, help="IsMember calls per phase")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--server-pythonpath", default=None)
    p.add_argument("--out", type=Path, default=RESULTS / "hostile_bench.json")
    args = p.parse_args(argv)
    if args.quick:
        args.users, args.events_per_user, args.watchers, args.slow = 1_000, 5, 20, 2
        args.slow_conditions, args.calls = 5, 20
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: result[k] for k in ("idle", "watchers", "watchers_and_slow", "ratios")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
