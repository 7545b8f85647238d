#!/usr/bin/env python
"""Bulk ingest from Parquet and gRPC streaming ingest: events/s, bytes/event on disk and resident.

1. Generates (or reuses) a synthetic Parquet stream of ``--events`` events with
   :func:`cohortd.synth.generate` under ``--data-dir`` (keyed by the arguments).
2. Ingests it into a fresh data directory with ``cohortd ingest FILE --data DIR``
   in a child process (the bulk pipeline, ``Engine.ingest_chunks``, with the CLI's
   allocator settings, ``storage/allocator.py``) and ends with ``compact()``; the
   rate is events / (the load's seconds as the CLI reports them + compact) wall time,
   with the two phases reported separately too.
3. Measures bytes per event on disk (data directory size / events).
4. In a fresh child process: RSS after imports, then after ``Engine.open`` and
   touching the ``user``, ``type`` and ``time`` columns of every segment
   (a reduction over each, so every page is faulted in); the delta / events is
   the resident cost of those three columns (plus dictionaries and indexes).

5. gRPC streaming ingest: a real server (``python -m cohortd.server``, started by
   the tests' launcher) on a fresh data directory; the same events, as Arrow IPC
   requests of ``--stream-batch`` rows (the client's default), go over one
   ``IngestStream`` call.  The requests are encoded before the clock starts; the
   rate is events / (first request sent .. response received), the response
   coming only once every event is durable.  The server's CPU seconds are
   reported beside it.  ``--no-stream`` skips it.

Writes JSON to ``--out`` and prints a summary.  ``--profile`` runs the ingest
under cProfile and prints where the time goes (and saves the ``.prof``).
Goals (issue 10): >= 2M events/s from Parquet, >= 1M events/s over the gRPC
stream, <= 24 resident bytes per event for user, type and time.  Numbers are
reported, never asserted: on a shared machine compare them with the load average
and the CPU seconds reported beside them.

    python benchmarks/ingest_bench.py                       # 10M events
    python benchmarks/ingest_bench.py --events 1000000 --profile
    python benchmarks/ingest_bench.py --events 100000000    # opt-in, needs ~20 GB free disk
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def source_file(args: argparse.Namespace) -> Path:
    from cohortd.synth import generate

    if args.source:
        return Path(args.source)
    users = args.users or max(args.events // 50, 1)
    path = Path(args.data_dir) / f"events-{args.events}-u{users}-d{args.days}-s{args.seed}.parquet"
    if not path.exists():
        print(f"generating {args.events:,} events for {users:,} users over {args.days} days -> {path}")
        t = time.perf_counter()
        generate(users, args.days, args.seed, path, progress=not args.quiet, target_events=args.events)
        print(f"  generated in {time.perf_counter() - t:.1f}s")
    return path


def ingest(path: Path, data_dir: Path, profile: bool) -> dict[str, Any]:
    """Load ``path`` into a fresh data directory (``_load_with_cli``, or with ``--profile``
    ``_load_profiled``), then ``compact()`` its project here."""
    from cohortd import Engine

    if data_dir.exists():
        shutil.rmtree(data_dir)
    load_before = os.getloadavg()
    store_dir = data_dir / "projects" / "default" / "events"
    load = _load_profiled(path, store_dir) if profile else _load_with_cli(path, data_dir)
    eng = Engine.open(store_dir)
    c0 = time.process_time()
    t1 = time.perf_counter()
    eng.compact()
    t2 = time.perf_counter()
    compact_cpu = time.process_time() - c0
    segments = len(eng.store.sealed)
    eng.close()
    return {
        "accepted": load["accepted"],
        "rejected": load["rejected"],
        "ingest_s": load["seconds"],
        "compact_s": t2 - t1,
        "total_s": load["seconds"] + t2 - t1,
        "cpu_s": load["cpu_s"] + compact_cpu,
        "loadavg_1m_before_after": [load_before[0], os.getloadavg()[0]],
        "segments_after_compact": segments,
        "peak_rss_bytes_during_ingest": load["peak_rss_bytes"],
        "via": load["via"],
        **({"_profile": load["profile"]} if profile else {}),
    }


def _load_with_cli(path: Path, data_dir: Path) -> dict[str, Any]:
    """``cohortd ingest FILE --data DIR`` in a child process (its allocator settings and its
    bulk pipeline, nothing of this process's).  The time is the one the CLI reports (from
    the files opened to the last batch stored, without the interpreter's start); the CPU
    seconds are the child's, start included."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli = [sys.executable, "-m", "cohortd.cli.main", "ingest", "--data", str(data_dir), str(path)]
    report = json.loads(
        subprocess.run([*cli, "--json", "--quiet"], check=True, capture_output=True, text=True).stdout
    )
    loaded = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "accepted": report["accepted"],
        "rejected": report["rejected"],
        "seconds": report["seconds"],
        "cpu_s": (loaded.ru_utime + loaded.ru_stime) - (children.ru_utime + children.ru_stime),
        "peak_rss_bytes": loaded.ru_maxrss * 1024,  # the largest child so far: the load
        "via": "cohortd ingest FILE --data DIR --json (child process; its reported seconds), then compact()",
    }


def _load_profiled(path: Path, store_dir: Path) -> dict[str, Any]:
    """The same load (``Engine.ingest_chunks``, the CLI's allocator settings) in this process,
    under cProfile."""
    from cohortd import Engine
    from cohortd.storage.allocator import keep_freed_memory
    from cohortd.storage.readers import read_events

    keep_freed_memory()  # as `cohortd ingest FILE` (cli/data.py)
    store_dir.parent.mkdir(parents=True)
    prof = cProfile.Profile()
    prof.enable()
    c0 = time.process_time()
    t0 = time.perf_counter()
    eng = Engine.open(store_dir)
    report = eng.ingest_chunks(read_events(path))
    eng.close()
    seconds = time.perf_counter() - t0
    prof.disable()
    return {
        "accepted": report.accepted,
        "rejected": len(report.rejected),
        "seconds": seconds,
        "cpu_s": time.process_time() - c0,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "via": "Engine.ingest_chunks in the benchmark process, under cProfile, then compact()",
        "profile": prof,
    }


def stream(path: Path, work: Path, batch_rows: int) -> dict[str, Any]:
    """Stream the file's events over one IngestStream call to a real server; events/s and CPU."""
    import grpc
    import pyarrow as pa
    import pyarrow.parquet as pq
    from cohortd import wire
    from cohortd.v1 import cohortd_pb2 as pb
    from cohortd.v1 import cohortd_pb2_grpc as pb_grpc
    from support.server import ServerProcess  # the one launcher, shared with the tests

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    requests = [
        pb.IngestRequest(project="bench", arrow_ipc=wire.table_to_ipc(pa.Table.from_batches([b])))
        for b in pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
    ]
    sent = sum(len(r.arrow_ipc) for r in requests)
    server = ServerProcess(work, startup_timeout=300)
    try:
        options = [
            ("grpc.max_send_message_length", 256 << 20),
            ("grpc.max_receive_message_length", 256 << 20),
        ]
        with grpc.insecure_channel(server.address, options=options) as channel:
            grpc.channel_ready_future(channel).result(timeout=120)
            stub = pb_grpc.CohortdStub(channel)
            stub.Ingest(pb.IngestRequest(project="bench"), timeout=300)  # opens the project
            cpu0 = server.cpu_seconds()
            load_before = os.getloadavg()
            t0 = time.perf_counter()
            resp = stub.IngestStream(iter(requests), timeout=3600)
            wall = time.perf_counter() - t0
            cpu = server.cpu_seconds() - cpu0
    finally:
        server.stop()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "accepted": resp.accepted,
        "rejected": len(resp.rejections),
        "requests": len(requests),
        "rows_per_request": batch_rows,
        "bytes_sent": sent,
        "wall_s": wall,
        "events_per_s": resp.accepted / wall,
        "server_cpu_s": cpu,
        "events_per_server_cpu_s": resp.accepted / max(cpu, 1e-9),
        "loadavg_1m_before_after": [load_before[0], os.getloadavg()[0]],
    }


def measure_resident(store_dir: Path) -> dict[str, Any]:
    """Run in a child process: RSS delta of opening the store and touching user/type/time."""
    import numpy as np
    from cohortd.engine.engine import Engine  # every import happens before the baseline

    # Warm up every code path on a tiny store first, so that lazy imports and
    # first-call allocations (e.g. pyarrow's numpy conversion) are in the baseline.

    with tempfile.TemporaryDirectory() as tiny:
        warm = Engine.open(tiny)
        warm.ingest([{"user_id": "u", "event_type": "e", "time": 1_600_000_000_000, "p": "x"}])
        warm.compact()
        warm.close()
        warm = Engine.open(tiny)
        for seg in warm.store.sealed:
            int(seg.users.sum(dtype=np.uint64)) + int(seg.types.sum(dtype=np.uint64)) + int(seg.times.max())
        warm.close()
        del warm

    base = rss_bytes()
    t = time.perf_counter()
    eng = Engine.open(store_dir)
    opened = rss_bytes()
    n = 0
    check = 0
    for seg in eng.store.sealed + eng.store.tail:
        check += int(seg.users.sum(dtype=np.uint64)) + int(seg.types.sum(dtype=np.uint64))
        check += int(seg.times.max()) if seg.num_rows else 0
        n += seg.num_rows
    touched = rss_bytes()
    open_s = time.perf_counter() - t
    eng.close()
    return {
        "events": n,
        "rss_base_bytes": base,
        "rss_after_open_bytes": opened,
        "rss_after_touch_bytes": touched,
        "resident_bytes_per_event": (touched - base) / max(n, 1),
        "resident_open_only_bytes_per_event": (opened - base) / max(n, 1),
        "open_and_touch_s": open_s,
        "checksum": check,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--users", type=int, default=0, help="default: events / 50")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--source", help="ingest this Parquet file instead of generating one")
    ap.add_argument("--data-dir", default=os.environ.get("COHORTD_BENCH_DIR", "/tmp/cohortd-bench"))
    ap.add_argument("--out", default=str(HERE / "results" / "ingest_bench.json"))
    ap.add_argument("--profile", action="store_true", help="run the ingest under cProfile")
    ap.add_argument("--keep", action="store_true", help="keep the ingested data directory")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--stream-batch", type=int, default=100_000, help="rows per IngestStream request")
    ap.add_argument("--no-stream", action="store_true", help="skip the gRPC streaming measurement")
    ap.add_argument("--measure-resident", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.measure_resident:
        print(json.dumps(measure_resident(Path(args.measure_resident))))
        return

    src = source_file(args)
    data_dir = Path(args.data_dir) / f"store-{args.events}"
    store_dir = data_dir / "projects" / "default" / "events"
    run = ingest(src, data_dir, args.profile)
    prof = run.pop("_profile", None)
    events = run["accepted"]
    disk = dir_bytes(store_dir)
    child = subprocess.run(
        [sys.executable, __file__, "--measure-resident", str(store_dir)],
        check=True,
        capture_output=True,
        text=True,
    )
    resident = json.loads(child.stdout.strip().splitlines()[-1])
    assert resident["events"] == events  # a sanity check of the benchmark itself, not a threshold
    if not args.keep:
        shutil.rmtree(data_dir)
    streamed = (
        None if args.no_stream else stream(src, Path(args.data_dir) / "stream-server", args.stream_batch)
    )
    if streamed is not None:
        assert streamed["accepted"] == events  # the same events stored both ways

    result = {
        "benchmark": "ingest_bench",
        "events": events,
        "source": {"path": str(src), "bytes": src.stat().st_size},
        "ingest": run,
        "events_per_s": events / run["total_s"],
        "events_per_s_without_compact": events / run["ingest_s"],
        "disk_bytes": disk,
        "disk_bytes_per_event": disk / max(events, 1),
        "resident": resident,
        "resident_bytes_per_event_user_type_time": resident["resident_bytes_per_event"],
        "stream": streamed,
        "stream_events_per_s": streamed["events_per_s"] if streamed else None,
        "goals": {
            "events_per_s": 2_000_000,
            "stream_events_per_s": 1_000_000,
            "resident_bytes_per_event": 24,
        },
        "profiled": bool(prof),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"ingest {events:,} events from {src.name} ({src.stat().st_size / 1e6:.0f} MB Parquet)")
    print(
        f"  rate      {result['events_per_s'] / 1e6:.2f} M events/s  "
        f"(load {run['ingest_s']:.2f}s + compact {run['compact_s']:.2f}s; "
        f"{result['events_per_s_without_compact'] / 1e6:.2f} M/s before compact)  goal >= 2 M/s"
        + ("  [under cProfile]" if prof else "")
    )
    print(
        f"  cpu       {run['cpu_s']:.2f}s ({events / run['cpu_s'] / 1e6:.2f} M events per CPU-second); "
        f"load average {run['loadavg_1m_before_after'][0]:.1f} -> {run['loadavg_1m_before_after'][1]:.1f} "
        f"on {os.cpu_count()} CPUs (other load makes the wall-clock rate pessimistic)"
    )
    print(f"  disk      {result['disk_bytes_per_event']:.1f} bytes/event ({disk / 1e6:.0f} MB)")
    print(
        f"  resident  {resident['resident_bytes_per_event']:.1f} bytes/event for user+type+time after open "
        f"({resident['resident_open_only_bytes_per_event']:.1f} after open alone)  goal <= 24"
    )
    print(f"  peak RSS during ingest {run['peak_rss_bytes_during_ingest'] / 1e9:.2f} GB")
    if streamed:
        print(
            f"  stream    {streamed['events_per_s'] / 1e6:.2f} M events/s over IngestStream "
            f"({streamed['requests']} requests of {streamed['rows_per_request']:,} rows, "
            f"{streamed['wall_s']:.2f}s; "
            f"server CPU {streamed['server_cpu_s']:.2f}s = "
            f"{streamed['events_per_server_cpu_s'] / 1e6:.2f} M events per CPU-second; load average "
            f"{streamed['loadavg_1m_before_after'][0]:.1f} -> {streamed['loadavg_1m_before_after'][1]:.1f})  "
            "goal >= 1 M/s"
        )
    print(f"  -> {out}")
    if prof:
        prof_path = out.with_suffix(".prof")
        prof.dump_stats(prof_path)
        for key in ("tottime", "cumulative"):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(22)
            print(f"\n--- cProfile by {key} ---")
            print("\n".join(line for line in buf.getvalue().splitlines() if line.strip())[:6000])
        print(f"profile -> {prof_path}")


if __name__ == "__main__":
    main()
