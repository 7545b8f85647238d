"""``cohortd init``, ``generate``, ``ingest`` and ``ingest-users``: getting data in.

``ingest --data DIR`` writes the data directory in this process (creating it on
first use; it fails at once, naming the holder, while a server writes it);
``ingest --server ADDR`` streams the same files to a running server.  Both go
through the same readers, progress bar and report.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from cohortd.cli._common import add_json, add_target, console, emit_json, err_console, table
from cohortd.storage.allocator import keep_freed_memory
from cohortd.times import iso_ms

MAX_SHOWN_REJECTIONS = 50


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create a data directory (and a project in it)")
    p.add_argument("dir", metavar="DIR", help="data directory to create")
    p.add_argument("--project", default="default", help="project to create in it (default: default)")
    p.add_argument(
        "--time-zone", help="the project's IANA time zone (calendar windows, active_days; default UTC)"
    )
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("generate", help="write a synthetic SaaS event stream (Parquet) and its user table")
    p.add_argument("--users", type=int, default=200_000, help="number of users (default 200000)")
    p.add_argument("--days", type=int, default=90, help="length of the period in days (default 90)")
    p.add_argument("--seed", type=int, default=1, help="random seed; same arguments give identical files")
    p.add_argument("--events", type=int, default=None, help="aim for about this many events in total")
    p.add_argument("--out", type=Path, required=True, help="events file to write (.parquet)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("ingest", help="load event files (.parquet, .csv, .jsonl/.ndjson, optionally .gz)")
    add_target(p)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json(p)
    p.set_defaults(func=cmd_ingest, users=False)

    p = sub.add_parser("ingest-users", help="load user properties (user_id + property columns)")
    add_target(p)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json(p)
    p.set_defaults(func=cmd_ingest, users=True)


def cmd_generate(args: argparse.Namespace) -> int:
    from cohortd.synth import generate

    summary = generate(
        args.users,
        args.days,
        args.seed,
        args.out,
        progress=not (args.quiet or args.json),
        target_events=args.events,
    )
    out = {
        "events_path": str(summary.events_path),
        "users_path": str(summary.users_path),
        "users": summary.users,
        "events": summary.events,
        "start": iso_ms(summary.start_ms),
        "end": iso_ms(summary.end_ms),
        "seed": summary.seed,
        "seconds": round(summary.seconds, 3),
    }
    if args.json:
        emit_json(out)
    else:
        console.print(
            f"wrote {summary.events:,} events for {summary.users:,} users "
            f"({iso_ms(summary.start_ms)} .. {iso_ms(summary.end_ms)}) in {summary.seconds:.1f}s"
        )
        console.print(f"  events: {summary.events_path}\n  users:  {summary.users_path}")
    return 0


class RateColumn(ProgressColumn):
    """Rows per second since the task started (rich's own speed is bytes-oriented)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{task.completed:>12,.0f} rows  {rate:>10,.0f} rows/s")


class _FileBar:
    """One file's line in the progress display: rows stored so far, complete at the end."""

    def __init__(self, bar: Progress, path: Path) -> None:
        self.bar, self.task = bar, bar.add_task(escape(path.name), total=None)

    def __call__(self, rows: int, _bytes: int) -> None:
        self.bar.update(self.task, completed=rows)

    def finish(self) -> None:
        self.bar.update(self.task, total=self.bar.tasks[self.task].completed)


@contextmanager
def _file_progress(quiet: bool) -> Iterator[Callable[[Path], _FileBar | None]]:
    """``track(path)``: the progress line of one file's load (None when quiet)."""
    if quiet:
        yield lambda path: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        RateColumn(),
        TimeElapsedColumn(),
        console=err_console,
    ) as bar:
        yield lambda path: _FileBar(bar, path)


def _chunks_with_progress(
    opened: list[tuple[Path, Iterator[Any]]], quiet: bool
) -> Iterator[tuple[Path, Any]]:
    """Every chunk of every (already opened) file, with a progress bar on standard error."""
    with _file_progress(quiet) as track:
        for path, chunks in opened:
            line, rows = track(path), 0
            for chunk in chunks:
                yield path, chunk
                rows += chunk.table.num_rows + len(chunk.rejections)
                if line is not None:
                    line(rows, 0)
            if line is not None:
                line.finish()


def cmd_init(args: argparse.Namespace) -> int:
    from cohortd.service import Workspace

    with Workspace(args.dir) as ws:
        project = ws.project(args.project)
        if args.time_zone:
            project.set_time_zone(args.time_zone)
    console.print(f"data directory {args.dir} ready (project {args.project!r})")
    return 0


@contextmanager
def _sender(args: argparse.Namespace) -> Iterator[Callable[[Any], Any]]:
    """The function that streams one chunk to ``--server``."""
    import os

    from cohortd.client import Client

    key = args.api_key or os.environ.get("COHORTD_API_KEY")
    with Client(args.server, api_key=key, project=args.project, tls_root_cert=args.tls_ca) as client:
        if args.users:
            yield client.upsert_user_properties
        else:
            yield lambda table: client.ingest_stream([table])


def _file_absolute(path: Path, rej: Any, first_row: int = 0) -> dict[str, Any]:
    return {"file": str(path), "row": first_row + rej.row + 1, "field": rej.field, "reason": rej.reason}


Loaded = tuple[int, list[dict[str, Any]], dict[str, int]]
"""(events accepted, rejections, events accepted per file)."""


def _send_files(args: argparse.Namespace, opened: list[tuple[Path, Iterator[Any]]]) -> Loaded:
    """Stream every chunk to the server."""
    accepted, rejected, per_file = 0, list[dict[str, Any]](), dict[str, int]()
    with _sender(args) as send:
        for path, chunk in _chunks_with_progress(opened, args.quiet or args.json):
            # rows the reader could not decode (file-absolute), then the engine's (chunk-relative)
            rejected += [_file_absolute(path, rej) for rej in chunk.rejections]
            if chunk.table.num_rows == 0:
                continue
            report = send(chunk.table)
            accepted += report.accepted
            per_file[str(path)] = per_file.get(str(path), 0) + report.accepted
            rejected += [_file_absolute(path, rej, chunk.first_row) for rej in report.rejected]
    return accepted, rejected, per_file


def _load_files(args: argparse.Namespace, opened: list[tuple[Path, Iterator[Any]]]) -> Loaded:
    """Bulk-load every file into the local project (``Engine.ingest_chunks``: read, validate
    and store on three threads, every row sorted and written once)."""
    from cohortd.service import Workspace

    keep_freed_memory()  # this process bulk-loads (storage/allocator.py)
    accepted, rejected, per_file = 0, list[dict[str, Any]](), dict[str, int]()
    with Workspace(args.data) as ws, _file_progress(args.quiet or args.json) as track:
        project = ws.project(args.project)  # the first ingest creates the project
        for path, chunks in opened:
            line = track(path)
            report = project.ingest_chunks(chunks, users=args.users, progress=line)
            if line is not None:
                line.finish()
            accepted += report.accepted
            per_file[str(path)] = report.accepted
            rejected += [_file_absolute(path, rej) for rej in report.rejected]  # rows of the file
    return accepted, rejected, per_file


def cmd_ingest(args: argparse.Namespace) -> int:
    from cohortd.storage.readers import read_events, read_users

    reader = read_users if args.users else read_events
    if args.data:  # the first ingest creates the data directory, even if a file then fails
        from cohortd.service.workspace import init_data_dir

        init_data_dir(args.data)
    # Open (and so check the format of) every file before writing anything:
    # a bad file on the command line must not leave the ones before it loaded.
    opened = [(path, reader(path)) for path in args.files]
    t0 = time.perf_counter()
    if args.server:
        accepted, rejected, per_file = _send_files(args, opened)
    else:
        accepted, rejected, per_file = _load_files(args, opened)
    seconds = time.perf_counter() - t0
    if args.json:
        emit_json(
            {
                "accepted": accepted,
                "rejected": len(rejected),
                "rejections": rejected,
                "files": per_file,
                "seconds": round(seconds, 3),
            }
        )
        return 0
    what = "user property rows" if args.users else "events"
    console.print(f"accepted {accepted:,} {what}, rejected {len(rejected):,} rows in {seconds:.1f}s")
    if rejected:
        shown = rejected[:MAX_SHOWN_REJECTIONS]
        table(
            ["file", "row", "field", "reason"],
            [[Path(r["file"]).name, r["row"], r["field"], r["reason"]] for r in shown],
            right=["row"],
        )
        if len(rejected) > len(shown):
            console.print(f"... and {len(rejected) - len(shown):,} more (use --json for all)")
    return 0
