"""``cohortd query``, ``cohortd explain`` and ``cohortd lint``: ad-hoc definitions."""

from __future__ import annotations

import argparse

from cohortd.cli._common import (
    UsageError,
    add_as_of,
    add_json,
    add_target,
    as_of_ms,
    backend,
    console,
    emit_json,
    print_warnings,
    read_definition,
    table,
)
from cohortd.cli.schema import add_strict, check_strict, explain_with_warnings
from cohortd.times import parse_as_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="evaluate a definition: size (and members)")
    add_target(p)
    add_as_of(p)
    p.add_argument(
        "--kernel", choices=("rust", "numba"), default=None, help="evaluation kernel (embedded only)"
    )
    p.add_argument("--members", action="store_true", help="also print the members (sorted external ids)")
    add_strict(p)
    add_json(p)
    p.add_argument("expr", metavar="EXPR", help="cohort definition ('-' reads standard input)")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("explain", help="show the plan of a definition with each step's size and time")
    add_target(p)
    add_as_of(p)
    add_strict(p)
    add_json(p)
    p.add_argument("expr", metavar="EXPR", help="cohort definition ('-' reads standard input)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("lint", help="warnings for a definition (and a prospective name), nothing saved")
    add_target(p)
    p.add_argument("--name", default=None, help="the name it would be saved under")
    add_strict(p)
    add_json(p)
    p.add_argument("expr", metavar="EXPR", help="cohort definition ('-' reads standard input)")
    p.set_defaults(func=cmd_lint)


def cmd_query(args: argparse.Namespace) -> int:
    args.source = read_definition(args.expr)
    if args.kernel and args.server:
        raise UsageError("--kernel applies to embedded evaluation (--data) only")
    when = as_of_ms(args)  # a malformed --as-of is reported before anything is opened
    with backend(args) as b:
        res = b.evaluate(None, args.source, when, args.kernel)
        check_strict(args, res["warnings"])
        members = None
        if args.members:  # at the very instant the size was computed for
            members = sorted(b.members(None, args.source, parse_as_of(res["as_of"])))
    if args.json:
        out = {"size": res["size"], "as_of": res["as_of"]}
        if res["warnings"]:  # only when there are some: the document stays as it was otherwise
            out["warnings"] = res["warnings"]
        if members is not None:
            out["members"] = members
        emit_json(out)
        return 0
    console.print(f"size {res['size']:,}  (as of {res['as_of']})")
    print_warnings(res["warnings"])
    if members is not None:
        for m in members:
            console.print(m)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    args.source = read_definition(args.expr)
    with backend(args) as b:
        steps, warnings = explain_with_warnings(b, None, args.source, as_of_ms(args))
    check_strict(args, warnings)
    if args.json:
        emit_json({"steps": steps, **({"warnings": warnings} if warnings else {})})
        return 0
    print_warnings(warnings)
    table(
        ["step", "size", "ms"],
        [["  " * s["depth"] + s["text"], f"{s['size']:,}", f"{s['millis']:.2f}"] for s in steps],
        right=["size", "ms"],
    )
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    args.source = read_definition(args.expr)
    with backend(args) as b:
        warnings = b.lint(args.source, args.name)
    check_strict(args, warnings)
    if args.json:
        emit_json({"warnings": warnings})
    elif warnings:
        print_warnings(warnings)
    else:
        console.print("no warnings")
    return 0
