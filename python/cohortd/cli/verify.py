"""``cohortd verify --data DIR [--json]``: check every file of a data directory, change nothing.

Exit status 0 when nothing is damaged or missing, 1 otherwise; torn log
tails, quarantined records, unverified (pre-checksum) files and debris are
listed but are not problems.  See ``cohortd.storage.verify``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from cohortd.cli._common import UsageError, add_json, console, emit_json, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check checksums, logs and catalogs of a data directory (read-only)")
    p.add_argument("--data", type=Path, required=True, metavar="DIR", help="data directory to check")
    p.add_argument("--all", action="store_true", help="list every file, not only those with findings")
    add_json(p)
    p.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from cohortd.storage.verify import verify_data_dir

    if not args.data.is_dir():
        raise UsageError(f"{args.data}: no such data directory")
    report = verify_data_dir(args.data)
    if args.json:
        emit_json(report.as_json())
        return 0 if report.ok else 1
    shown = [f for f in report.findings if args.all or f.status != "ok"]
    if shown:
        table(
            ["status", "kind", "file", "detail"],
            [[f.status, f.kind, escape(f.path), escape(f.detail)] for f in shown],
        )
    verdict = "[green]ok[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]"
    console.print(f"{verdict}: {len(report.findings)} files checked under {escape(str(args.data))}")
    return 0 if report.ok else 1
