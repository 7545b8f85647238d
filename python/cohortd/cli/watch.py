"""``cohortd watch NAME [NAME...]``: follow saved cohorts' entries and exits as they happen.

Text output is one line per user per change (``TIME VERSION ENTERED|EXITED
COHORT USER``, tab-separated, so it greps and cuts well); ``--json`` prints one
JSON object per change set and line (JSON Lines: cohort, version, time,
entered, exited).  The version the watch starts after is reported on standard
error; restart with ``--from-version`` set to the last version printed to
continue without losing or repeating anything.  Runs until interrupted.

With ``--server`` the stream resumes by itself after a broken connection or a
server restart; with ``--data`` it watches the data directory in this
process (time-driven changes, and ingests made by this process only).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from cohortd.cli._common import add_target, backend, err_console
from cohortd.times import iso_ms


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="print saved cohorts' entries and exits as they happen")
    add_target(p)
    p.add_argument("cohorts", metavar="NAME", nargs="+")
    p.add_argument(
        "--from-version",
        type=int,
        default=None,
        metavar="V",
        help="changes after this version (default: from now on)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per change set and line")
    p.set_defaults(func=cmd_watch)


def _lines(change: dict[str, Any]) -> Iterator[str]:
    when = iso_ms(change["time_ms"])
    for kind in ("entered", "exited"):
        for user in change[kind]:
            yield f"{when}\t{change['version']}\t{kind}\t{change['cohort']}\t{user}\n"


def cmd_watch(args: argparse.Namespace) -> int:
    out = sys.stdout
    with backend(args) as b:

        def started(version: int) -> None:
            err_console.print(f"watching {', '.join(args.cohorts)} after version {version}")

        for change in b.watch(list(args.cohorts), args.from_version, started):
            if args.json:
                doc = {**change, "time": iso_ms(change["time_ms"])}
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
            else:
                out.writelines(_lines(change))
            out.flush()
    return 0
