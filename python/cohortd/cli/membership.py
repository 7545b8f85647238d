"""``cohortd members``, ``cohortd overlap`` and ``cohortd user-cohorts``: who is in what."""

from __future__ import annotations

import argparse

from cohortd.cli import audiences
from cohortd.cli._common import add_as_of, add_json, add_target, as_of_ms, backend, console, emit_json, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("members", help="members of a saved cohort (sorted external ids)")
    add_target(p)
    add_as_of(p)
    p.add_argument("cohort", metavar="NAME")
    p.add_argument("--limit", type=int, default=None, help="print at most this many")
    audiences.add_export_options(p)
    add_json(p)
    p.set_defaults(func=cmd_members)

    p = sub.add_parser("overlap", help="sizes, intersections and Jaccard of saved cohorts")
    add_target(p)
    add_as_of(p)
    p.add_argument("cohorts", metavar="NAME", nargs="+")
    add_json(p)
    p.set_defaults(func=cmd_overlap)

    p = sub.add_parser("user-cohorts", help="every saved cohort a user is in")
    add_target(p)
    add_as_of(p)
    p.add_argument("user_id", metavar="USER_ID")
    add_json(p)
    p.set_defaults(func=cmd_user_cohorts)


def cmd_members(args: argparse.Namespace) -> int:
    if args.out is not None:  # a streamed export to a file
        return audiences.cmd_export(args)
    with backend(args) as b:
        members = b.members(args.cohort, None, as_of_ms(args))
    total = len(members)
    if args.limit is not None:
        members = members[: max(args.limit, 0)]
    if args.json:
        emit_json({"cohort": args.cohort, "size": total, "members": members})
        return 0
    for m in members:
        console.print(m)
    return 0


def cmd_overlap(args: argparse.Namespace) -> int:
    with backend(args) as b:
        ov = b.overlap(list(args.cohorts), as_of_ms(args))
    if args.json:
        emit_json(ov)
        return 0
    names = ov["names"]
    table(
        ["cohort", "size"],
        [[n, f"{s:,}"] for n, s in zip(names, ov["sizes"], strict=True)],
        title=f"sizes as of {ov['as_of'] or 'now'}",
        right=["size"],
    )
    table(
        ["∩", *names],
        [[n, *(f"{v:,}" for v in row)] for n, row in zip(names, ov["intersections"], strict=True)],
        title="intersection sizes",
        right=names,
    )
    table(
        ["jaccard", *names],
        [[n, *(f"{v:.3f}" for v in row)] for n, row in zip(names, ov["jaccard"], strict=True)],
        title="Jaccard",
        right=names,
    )
    return 0


def cmd_user_cohorts(args: argparse.Namespace) -> int:
    with backend(args) as b:
        names = b.user_cohorts(args.user_id, as_of_ms(args))
    if args.json:
        emit_json({"user_id": args.user_id, "cohorts": names})
        return 0
    if not names:
        console.print(f"{args.user_id} is in no saved cohort")
    for n in names:
        console.print(n)
    return 0
