"""``cohortd cohort create|update|list|show|history|archive``: the saved-cohort catalog."""

from __future__ import annotations

import argparse
from typing import Any

from cohortd.cli import audiences, governance
from cohortd.cli._common import (
    UsageError,
    add_json,
    add_target,
    backend,
    console,
    emit_json,
    print_warnings,
    read_definition,
    table,
)
from cohortd.cli.schema import add_strict, check_strict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cohort", help="saved cohorts: create, update, list, show, history, archive")
    csub = p.add_subparsers(dest="cohort_command", metavar="ACTION", required=True)

    c = csub.add_parser("create", help="save a new cohort (prints lint warnings)")
    add_target(c)
    c.add_argument("name")
    c.add_argument("definition", metavar="DEFINITION", help="cohort definition ('-' reads standard input)")
    c.add_argument("--description", default="")
    c.add_argument("--note", default="", help="change note stored with version 1")
    add_strict(c)
    add_json(c)
    c.set_defaults(func=cmd_create)

    c = csub.add_parser("update", help="change a cohort's definition and/or description (new version)")
    add_target(c)
    c.add_argument("name")
    c.add_argument(
        "definition",
        metavar="DEFINITION",
        nargs="?",
        default=None,
        help="new definition ('-' reads standard input); omit to keep it",
    )
    c.add_argument("--description", default=None)
    c.add_argument("--note", default="", help="change note for the new version")
    add_strict(c)
    add_json(c)
    c.set_defaults(func=cmd_update)

    c = csub.add_parser("list", help="list saved cohorts")
    add_target(c)
    c.add_argument("--all", action="store_true", help="include archived cohorts")
    add_json(c)
    c.set_defaults(func=cmd_list)

    c = csub.add_parser("show", help="show one saved cohort")
    add_target(c)
    c.add_argument("name")
    c.add_argument("--size", action="store_true", help="also evaluate its current size")
    add_json(c)
    c.set_defaults(func=cmd_show)

    c = csub.add_parser("history", help="every version: who, when, note and a diff of what changed")
    add_target(c)
    c.add_argument("name")
    add_json(c)
    c.set_defaults(func=governance.cmd_history)

    c = csub.add_parser("archive", help="archive a cohort (hidden from lists; history kept)")
    add_target(c)
    c.add_argument("name")
    add_json(c)
    c.set_defaults(func=cmd_archive)

    audiences.register_upload(csub)
    governance.register(csub)


def _show_record(r: dict[str, Any]) -> None:
    rows = [
        ["name", r["name"]],
        ["description", r["description"]],
        ["definition", r["definition"]],
        ["version", r["version"]],
        ["created", r["created"]],
        ["updated", r["updated"]],
        ["last evaluated", r["last_evaluated"] or "never"],
        ["archived", "yes" if r["archived"] else "no"],
    ]
    if "size" in r:
        rows.append(["size", f"{r['size']:,}"])
    table(["field", "value"], rows)


def cmd_create(args: argparse.Namespace) -> int:
    args.source = read_definition(args.definition)
    with backend(args) as b:
        if args.strict:  # lint first: with warnings nothing is saved
            check_strict(args, b.lint(args.source, args.name))
        out = b.create_cohort(args.name, args.source, args.description, args.note)
    if args.json:
        emit_json(out)
        return 0
    rec = out["cohort"]
    console.print(f"created {rec['name']!r} version {rec['version']}: {rec['definition']}")
    print_warnings(out["warnings"])
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    if args.definition is None and args.description is None:
        raise UsageError("nothing to update: give a new DEFINITION and/or --description")
    args.source = read_definition(args.definition) if args.definition is not None else None
    with backend(args) as b:
        if args.strict and args.source is not None:
            check_strict(args, b.lint(args.source, args.name))
        out = b.update_cohort(args.name, args.source, args.description, args.note)
    if args.json:
        emit_json(out)
        return 0
    rec = out["cohort"]
    console.print(f"{rec['name']!r} is at version {rec['version']}: {rec['definition']}")
    print_warnings(out["warnings"])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with backend(args) as b:
        recs = b.list_cohorts(args.all)
    if args.json:
        emit_json({"cohorts": recs})
        return 0
    cols = ["name", "version", "updated", "definition"] + (["archived"] if args.all else [])
    rows = []
    for r in recs:
        row = [r["name"], r["version"], r["updated"], r["definition"]]
        if args.all:
            row.append("yes" if r["archived"] else "")
        rows.append(row)
    table(cols, rows, right=["version"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with backend(args) as b:
        rec = b.get_cohort(args.name)
        if args.size:
            res = b.evaluate(args.name, None, None, None)
            rec = {**rec, "size": res["size"], "size_as_of": res["as_of"]}
            rec["last_evaluated"] = b.get_cohort(args.name)["last_evaluated"]
    if args.json:
        emit_json(rec)
    else:
        _show_record(rec)
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    with backend(args) as b:
        rec = b.archive_cohort(args.name)
    if args.json:
        emit_json(rec)
    else:
        console.print(f"archived {rec['name']!r}")
    return 0
