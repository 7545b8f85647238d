"""``make demo``: the whole surface on a synthetic SaaS data set, over gRPC.

    python -m cohortd.demo                       # 200k users, ~10M events
    python -m cohortd.demo --users 20000 --events 1000000   # a smaller run

Steps: a fresh ``./demo-data``; ``cohortd serve`` on 127.0.0.1 (a free port)
as a subprocess; the synthetic data set (``cohortd.synth.generate``) streamed
into it over ``IngestStream`` as Arrow batches (``--ingest embedded`` writes it
through the service layer instead, before the server starts); user
properties upserted; the standard cohorts saved; their sizes, the overlap
matrix printed; then the product over the same connection (schema, a typo caught by
lint, a breakdown, size over time, a backtest, retention, a funnel, journeys,
personas with one saved as a cohort, an audience synced to a file destination);
the measured ``IsMember`` latency over gRPC printed; the server
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

STANDARD_COHORTS: dict[str, tuple[str, str]] = {
    "New Users L7": (
        'first did(any) in last 7d and did("Session Start") < 3 in last 7d',
        "first seen in the last 7 days, fewer than 3 sessions",
    ),
    "Activated 90d": (
        'sequence("Signup Submitted", "First Feature Used") within 7d in last 90d',
        "signed up and used a first feature within 7 days (signups of the last 90 days)",
    ),
    "Power Users top 20% 30d": ("top 20% by count(any) in last 30d", "top 20% by events in the last 30 days"),
    "Churning 60-90d": (
        "did(any) between 90d ago and 60d ago and not did(any) in last 30d",
        "active 60-90 days ago, silent for the last 30",
    ),
    "Paid Converters 90d": (
        'did("Subscription Started") in last 90d and user.plan == "paid"',
        "started a subscription in the last 90 days and are paying now",
    ),
    "Free-Trial At-Risk trial L7": (
        'did("Session Start") < 2 within 7d of first did("Trial Started") in last 14d '
        'and not did("Subscription Started") in last 14d',
        "in the 14-day trial period, fewer than 2 sessions in the trial's first 7 days",
    ),
    "Stopped Sessions 30d": (
        'stopped("Session Start", 30d)',
        "had sessions 30-60 days ago, none in the last 30",
    ),
    "Regular Weekly Users 6w": (
        'regularly("Session Start", 1w, 4 of 6) and did("Feature Used") >= 2 on 3 days in last 30d',
        "sessions in 4 of the last 6 weeks, features twice a day on 3 days of the last 30",
    ),
    "Free-Trial At-Risk plan L7": (
        'not had user.plan != "trial" in last 7d and user.plan == "trial" '
        'and did("Session Start") < 2 in last 7d',
        "in the trial period for all of the last 7 days (plan history), fewer than 2 sessions in them",
    ),
    "Upgrade-Ready 14d": (
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


def _product_tour(client: Any, console: Any, data: Path, next_step: Callable[[], int]) -> None:
    """Know the data, validate a cohort, discover personas and sync an audience, all over gRPC."""
    from rich.table import Table

    day = 86_400_000
    now = int(time.time() * 1000)

    console.rule(f"[bold]{next_step()}. know your data: schema, breakdown, population")
    schema = client.schema(top_values=3)
    events = Table("event type", "events", "users", "last 30d", "last seen", title="busiest event types")
    for e in sorted(schema["event_types"], key=lambda e: -e["events"])[:6]:
        events.add_row(e["name"], f"{e['events']:,}", f"{e['users']:,}", f"{e['last_30d']:,}", e["last_seen"])
    console.print(events)
    typo = client.lint('did("Purchse") >= 1 in last 30d')
    console.print("lint of a typo: " + "; ".join(w.message for w in typo))
    by_plan = client.breakdown("Upgrade-Ready 14d", by="user.country", top=5)
    rows = Table("country", "members", "share", "base share", "index", title="Upgrade-Ready 14d by country")
    for r in by_plan["rows"]:
        index = "-" if r["index"] is None else f"{r['index']:.2f}"
        shares = f"{r['share']:.1%}", f"{r['base_share']:.1%}"
        rows.add_row(str(r["value"]), f"{r['members']:,}", *shares, index)
    console.print(rows)
    series = client.population("Power Users top 20% 30d", start=now - 28 * day, end=now, step="1w")
    console.print(
        "Power Users top 20% 30d, weekly size: "
        + ", ".join(f"{p['as_of'][:10]} {p['size']:,}" for p in series["points"])
    )

    console.rule(f"[bold]{next_step()}. validate: backtest, retention, funnel, journeys")
    bt = client.backtest(
        "Upgrade-Ready 14d",
        outcome='did("Subscription Started") in last 30d',
        horizon="30d",
        as_of=now - 45 * day,
    ).runs[0]
    lo, hi = bt.ci95 if bt.ci95 else (float("nan"), float("nan"))
    console.print(
        f"backtest of Upgrade-Ready 14d 45 days ago -> Subscription Started within 30d: "
        f"{bt.cohort.converted:,}/{bt.cohort.size:,} vs baseline "
        f"{bt.baseline.converted:,}/{bt.baseline.size:,}; "
        f"lift {bt.lift or 0:.2f}, difference 95% CI [{lo:+.3f}, {hi:+.3f}], p = {bt.p_value or 0:.2g}"
    )
    ret = client.retention(
        '"Signup Submitted"', '"Session Start"', now - 90 * day, now - 60 * day, period="1w"
    )
    console.print(
        "weekly retention after signup: "
        + ", ".join(f"w{p.period} {p.rate:.0%}" for p in ret.population.curve if p.rate is not None)
    )
    steps = ['"Signup Submitted"', '"Onboarding Completed"', '"First Feature Used"', '"Subscription Started"']
    fun = client.funnel(steps, now - 90 * day, now - 30 * day, window="14d")
    console.print(
        "funnel (14d window): "
        + " -> ".join(
            f"{s.event} {s.users:,}" + ("" if s.from_entry is None else f" ({s.from_entry:.0%})")
            for s in fun.steps
        )
    )
    jr = client.journeys('"paywall_modal_viewed"', now - 30 * day, now, depth=3, top=3)
    for path in jr.after:
        console.print(f"after the paywall: {' -> '.join(path.path)}  ({path.share:.0%} of {jr.users:,})")

    console.rule(f"[bold]{next_step()}. discover: personas, one saved as an exact cohort")
    report = client.personas("all", "30d", "3..6", seed=1, cluster=0, save_cohort="Persona 0 30d")
    cards = Table("persona", "size", "share", "rule (F1)", title=f"K = {report.k} ({report.k_criterion})")
    for persona in report.personas:
        rule = persona.rule
        cards.add_row(
            persona.name, f"{persona.size:,}", f"{persona.share:.0%}",
            "-" if rule is None else f"{rule.definition} ({rule.f1:.2f})",
        )  # fmt: skip
    console.print(cards)

    console.rule(f"[bold]{next_step()}. act: an audience synced to a file destination")
    out = (data / "audience-files").resolve()
    client.create_destination("demo files", directory=str(out), fmt="csv")
    client.create_audience("Upgrade-Ready to files", "Upgrade-Ready 14d", "demo files", mode="realtime")
    deadline = time.monotonic() + 60
    log: list[Any] = []
    while time.monotonic() < deadline and not any(x.status == "ok" for x in log):
        time.sleep(0.5)
        log = client.audience_log("Upgrade-Ready to files", limit=10)
    for x in log[:3]:
        console.print(
            f"sync {x.status}: {'full' if x.full else 'delta'} batch {x.seq}/{x.of}, "
            f"+{x.added:,} -{x.removed:,} in {x.latency_ms:.0f} ms"
        )
    console.print(f"files written: {sorted(f.name for f in out.glob('*'))[:3]}")


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

            _product_tour(client, console, a.data, next_step=lambda: next(step))

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
