"""``make demo``: the whole surface on a synthetic SaaS data set, over gRPC.

    python -m cohortd.demo                       # 200k users, ~10M events
    python -m cohortd.demo --users 20000 --events 1000000   # a smaller run

Steps: a fresh ``./demo-data``; ``cohortd serve`` on 127.0.0.1 (a free port)
as a subprocess; the synthetic data set (``cohortd.synth.generate``) streamed
into it over ``IngestStream`` as Arrow batches (``--ingest embedded`` writes it
through the service layer instead, before the server starts); user
properties upserted; the standard cohorts saved; their sizes, the overlap
matrix and the measured ``IsMember`` latency over gRPC printed; the server
stopped with SIGTERM (graceful: drained, log flushed).
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

STANDARD_COHORTS: dict[str, tuple[str, str]] = {
    "New Users L7": (
        'first did(any) in last 7d and did("Session Start") < 3 in last 7d',
        "first seen in the last 7 days, fewer than 3 sessions",
    ),
    "Activated": (
        'sequence("Signup Submitted", "First Feature Used") within 7d in last 90d',
        "signed up and used a first feature within 7 days (signups of the last 90 days)",
    ),
    "Power Users top 20%": ("top 20% by count(any) in last 30d", "top 20% by events in the last 30 days"),
    "Churning": (
        "did(any) between 90d ago and 60d ago and not did(any) in last 30d",
        "active 60-90 days ago, silent for the last 30",
    ),
    "Paid Converters": (
        'did("Subscription Started") in last 90d and user.plan == "paid"',
        "started a subscription in the last 90 days and are paying now",
    ),
    "Free-Trial At-Risk": (
        'user.plan == "trial" and did("Session Start") < 2 in last 7d',
        "on a trial with fewer than 2 sessions this week",
    ),
    "Upgrade-Ready": (
        'did("paywall_modal_viewed") >= 3 in last 14d and user.plan == "free" and user.projects_created > 4',
        "free users hitting the paywall who have built several projects",
    ),
}


def _start_server(data: Path) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "cohortd.cli.main", "serve", "--data", str(data), "--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"serving .* on (127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError("server did not start:\n" + "".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cohortd.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--users", type=int, default=200_000)
    p.add_argument("--events", type=int, default=10_000_000, help="approximate number of events")
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data", type=Path, default=Path("demo-data"))
    p.add_argument("--ingest", choices=("grpc", "embedded"), default="grpc")
    p.add_argument("--batch-rows", type=int, default=250_000)
    p.add_argument("--calls", type=int, default=3_000, help="IsMember calls for the latency figure")
    a = p.parse_args(argv)

    import pyarrow.parquet as pq
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from cohortd.client import Client
    from cohortd.synth import generate, users_path_for

    console = Console()
    t_all = time.perf_counter()
    if a.data.exists():
        shutil.rmtree(a.data)
    a.data.mkdir(parents=True)
    workspace = a.data / "workspace"

    step = itertools.count(1)  # section numbers, in the order the sections run
    console.rule(f"[bold]{next(step)}. synthetic SaaS data")
    events_path = a.data / "synth" / "events.parquet"
    summary = generate(a.users, a.days, a.seed, events_path, target_events=a.events)
    console.print(f"{summary.users:,} users, {summary.events:,} events in {summary.seconds:.1f}s")

    def batches(progress: Progress, task: object):  # noqa: ANN202
        for batch in pq.ParquetFile(events_path).iter_batches(batch_size=a.batch_rows):
            yield batch
            progress.update(task, advance=batch.num_rows)  # type: ignore[arg-type]

    cols = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    t_ingest = time.perf_counter()
    if a.ingest == "embedded":
        from cohortd.service import Workspace

        console.rule(f"[bold]{next(step)}. ingest (embedded service layer)")
        with Workspace(workspace) as ws, Progress(*cols, console=console) as progress:
            task = progress.add_task("events", total=summary.events)
            proj = ws.project("default")
            accepted = sum(proj.ingest(b).accepted for b in batches(progress, task))
            proj.upsert_user_properties(pq.read_table(users_path_for(events_path)))
        rate = accepted / (time.perf_counter() - t_ingest)
        console.print(f"{accepted:,} events accepted ({rate:,.0f}/s)")

    console.rule(f"[bold]{next(step)}. cohortd serve")
    proc, address = _start_server(workspace)
    console.print(f"serving on {address} (pid {proc.pid})")
    try:
        with Client(address, timeout=600) as client:
            client.wait_ready()
            if a.ingest == "grpc":
                console.rule(f"[bold]{next(step)}. ingest over gRPC (IngestStream, Arrow batches)")
                with Progress(*cols, console=console) as progress:
                    task = progress.add_task("events", total=summary.events)
                    res = client.ingest_stream(batches(progress, task), batch_rows=a.batch_rows)
                rate = res.accepted / (time.perf_counter() - t_ingest)
                console.print(
                    f"{res.accepted:,} events accepted, {len(res.rejections)} rejected ({rate:,.0f}/s)"
                )
                users = client.upsert_user_properties(pq.read_table(users_path_for(events_path)))
                console.print(f"{users.accepted:,} user property rows upserted")

            console.rule(f"[bold]{next(step)}. standard cohorts")
            sizes = Table("cohort", "definition", "members", "lint", title="saved cohorts")
            for name, (definition, description) in STANDARD_COHORTS.items():
                rec, warnings = client.create_cohort(name, definition, description=description, note="demo")
                size = client.evaluate(name).size
                sizes.add_row(name, rec.definition, f"{size:,}", ", ".join(w.code for w in warnings) or "-")
            console.print(sizes)

            names = list(STANDARD_COHORTS)
            ov = client.overlap(names)
            matrix = Table("", *[n.split(" ")[0] for n in names], title="overlap: Jaccard (intersection)")
            for i, n in enumerate(names):
                matrix.add_row(
                    n, *[f"{ov.jaccard[i][j]:.2f} ({ov.intersections[i][j]:,})" for j in range(len(names))]
                )
            console.print(matrix)

            console.rule(f"[bold]{next(step)}. IsMember latency over gRPC")
            rng = random.Random(a.seed)
            width = max(7, len(str(a.users - 1)))
            sample = [f"u{rng.randrange(a.users):0{width}d}" for _ in range(a.calls)]
            probe = client.members(names[2])[:1]  # a real id, to show the format matches
            if probe and not probe[0].startswith("u"):
                sample = [probe[0]] * a.calls
            for n in names:
                client.is_member(sample[0], n)  # warm the result cache
            lat = []
            hits = 0
            for i, uid in enumerate(sample):
                t = time.perf_counter()
                hits += client.is_member(uid, names[i % len(names)])
                lat.append(time.perf_counter() - t)
            lat.sort()
            p50, p99 = lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3
            console.print(
                f"{a.calls:,} sequential IsMember calls: p50 {p50:.3f} ms, p99 {p99:.3f} ms "
                f"({hits:,} members found)"
            )
    finally:
        console.rule(f"[bold]{next(step)}. stop")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(120)
        assert proc.stderr is not None
        tail = proc.stderr.read().strip()
        proc.stderr.close()
        console.print(f"server exited with {code}: {tail.splitlines()[-1] if tail else ''}")
    console.print(f"demo finished in {time.perf_counter() - t_all:.0f}s; data kept in {a.data}/")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
