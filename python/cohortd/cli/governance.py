"""``cohortd cohort unarchive|rename|delete`` and the changelog behind ``cohortd cohort history``.

Embedded (``--data``) these call :mod:`cohortd.governance` through the
project; remote (``--server``) the ``Governance`` RPCs.  ``history`` prints
who made each version, when, its note and a unified diff of the canonical
definition (and description) against the version before.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from cohortd.cli._common import add_json, add_target, backend, console, emit_json
from cohortd.cli.backend import EmbeddedBackend, cohort_dict, record_dict
from cohortd.times import iso_ms


def register(csub: argparse._SubParsersAction) -> None:
    c = csub.add_parser("unarchive", help="make an archived cohort active again (within the project's cap)")
    add_target(c)
    c.add_argument("name")
    add_json(c)
    c.set_defaults(func=cmd_unarchive)

    c = csub.add_parser("rename", help="rename a cohort; in_cohort references to it follow")
    add_target(c)
    c.add_argument("name")
    c.add_argument("new_name", metavar="NEW_NAME")
    add_json(c)
    c.set_defaults(func=cmd_rename)

    c = csub.add_parser("delete", help="delete a cohort and its history (refused while referenced)")
    add_target(c)
    c.add_argument("name")
    add_json(c)
    c.set_defaults(func=cmd_delete)


def _on(b: Any) -> tuple[Any, Any]:
    """(the object with the governance methods, a record → dict converter) for a backend."""
    if isinstance(b, EmbeddedBackend):
        return b.project, record_dict
    return b.client, cohort_dict


def cmd_unarchive(args: argparse.Namespace) -> int:
    with backend(args) as b:
        target, as_dict = _on(b)
        rec = as_dict(target.unarchive_cohort(args.name))
    if args.json:
        emit_json(rec)
    else:
        console.print(f"{rec['name']!r} is active again (version {rec['version']})")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    with backend(args) as b:
        target, as_dict = _on(b)
        rec, followed = target.rename_cohort(args.name, args.new_name)
        rec = as_dict(rec)
    if args.json:
        emit_json({"cohort": rec, "followed": followed})
        return 0
    console.print(f"renamed {args.name!r} to {rec['name']!r} (version {rec['version']})")
    for name in followed:
        console.print(f"  in_cohort reference followed in {name!r}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with backend(args) as b:
        target, _ = _on(b)
        target.delete_cohort(args.name)
    if args.json:
        emit_json({"deleted": args.name})
    else:
        console.print(f"deleted {args.name!r}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """Every version: who, when, note, and what changed (diff of the canonical text)."""
    with backend(args) as b:
        target, _ = _on(b)
        versions = [{**asdict(v), "time": iso_ms(v.time_ms)} for v in target.cohort_changelog(args.name)]
    if args.json:
        emit_json({"name": args.name, "versions": versions})
        return 0
    for v in versions:
        who = v["author"] or "unknown author"
        note = f"  {v['note']}" if v["note"] else ""
        console.print(
            f"[bold]version {v['version']}[/]  {v['time']}  {who}{note}", markup=True, highlight=False
        )
        for diff in (v["definition_diff"], v["description_diff"]):
            for line in diff.splitlines():
                console.print(f"    {line}", markup=False, highlight=False)
    return 0
