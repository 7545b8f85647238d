"""``cohortd migration``: how users move between cohorts (transition matrices, entries by origin).

    cohortd migration --data D New Activated Engaged "At-Risk" Churned --from 2026-01-01 --to 2026-02-01
    cohortd migration --data D New Activated Engaged --from 2026-01-01 --to 2027-01-01 --step 1mo --json
    cohortd migration --data D New Activated Engaged --entries-into Engaged --since 2026-11-01

Cohorts are saved names or definitions.  ``--json`` prints one matrix
(``{"cohorts", "from", "to", "matrix": [{"from", "to", "users", "share"}], "overlaps"}``)
or, with ``--step``, a list of them.  When users are in several cohorts of the
set at one instant (the set is not exclusive) a warning says how many.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cohortd.cli._common import UsageError, add_json, add_target, backend, emit_json, table
from cohortd.times import iso_ms


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migration", help="transition matrix between cohorts at two instants (or a series)")
    add_target(p)
    p.add_argument("cohorts", metavar="COHORT", nargs="+", help="saved cohort names or definitions")
    p.add_argument("--from", dest="from_", metavar="ISO", help="first instant")
    p.add_argument("--to", metavar="ISO", help="last instant (default: now)")
    p.add_argument("--step", metavar="DURATION", help="a series: 1w, 30d, 1mo (calendar months), ...")
    p.add_argument(
        "--entries-into", metavar="NAME", help="entries into this saved cohort by where users came from"
    )
    p.add_argument("--since", metavar="ISO", help="with --entries-into: entries from this instant")
    p.add_argument("--until", metavar="ISO", help="with --entries-into: entries before this instant")
    add_json(p)
    p.set_defaults(func=cmd_migration)


def _api(b: Any) -> Any:
    return b.project if hasattr(b, "project") else b.client


def cmd_migration(args: argparse.Namespace) -> int:
    from cohortd.times import parse_as_of

    with backend(args) as b:
        api = _api(b)
        if args.entries_into:
            r = api.migration_entries(
                args.cohorts, args.entries_into, parse_as_of(args.since), parse_as_of(args.until)
            )
            return _print_entries(args, r)
        if not args.from_:
            raise UsageError("--from is required (or use --entries-into)")
        to = parse_as_of(args.to)
        if to is None:
            import time

            to = int(time.time() * 1000)
        matrices = api.migration(args.cohorts, parse_as_of(args.from_), to, args.step)
    for m in matrices:
        if not m.exclusive:
            sys.stderr.write(
                f"cohortd: warning: the cohorts overlap ({m.overlap_from:,} users in several at "
                f"{iso_ms(m.from_ms)}, {m.overlap_to:,} at {iso_ms(m.to_ms)}); "
                "such users are counted in each\n"
            )
            break
    if args.json:
        docs = [m.to_dict(iso_ms) for m in matrices]
        emit_json(docs if args.step else docs[0])
        return 0
    for m in matrices:
        targets = list(m.sizes_to)
        cells = {(c.source, c.target): c for c in m.cells}

        def fmt(c: Any) -> str:
            return f"{c.users:,}" + ("" if c.share is None else f" ({c.share:.0%})")

        rows = [[s, f"{m.sizes_from[s]:,}", *(fmt(cells[(s, t)]) for t in targets)] for s in m.sizes_from]
        table(["from \\ to", "users", *targets], rows, title=f"{iso_ms(m.from_ms)} -> {iso_ms(m.to_ms)}")
    return 0


def _print_entries(args: argparse.Namespace, r: Any) -> int:
    doc = {
        "cohort": r.cohort,
        "cohorts": r.cohorts,
        "since": iso_ms(r.since_ms),
        "until": iso_ms(r.until_ms),
        "entries": r.entries,
        "from": r.came_from,
        "log_from": iso_ms(r.log_from_ms),
    }
    if args.json:
        emit_json(doc)
        return 0
    table(
        ["came from", "users"],
        [[k, f"{v:,}"] for k, v in r.came_from.items()],
        title=f"{r.entries:,} entries into {r.cohort!r} (change log from {doc['log_from']})",
        right=["users"],
    )
    return 0
