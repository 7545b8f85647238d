"""``cohortd users delete ID...``: delete users (GDPR/CCPA), embedded or over the server.

The users leave every answer at once; ``--compact`` purges them from the
files now (else at the next compaction).  Prints the deletion report.
"""

from __future__ import annotations

import argparse

from cohortd.cli._common import add_json, add_target, backend, console, emit_json
from cohortd.cli.backend import EmbeddedBackend, RemoteBackend


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="user-level operations (deletion)")
    usub = p.add_subparsers(dest="users_command", required=True)
    d = usub.add_parser("delete", help="delete users: gone from every answer now, purged at compaction")
    add_target(d)
    d.add_argument("user_ids", nargs="+", metavar="ID")
    d.add_argument("--compact", action="store_true", help="purge from the files now")
    add_json(d)
    d.set_defaults(func=cmd_delete)


def cmd_delete(args: argparse.Namespace) -> int:
    with backend(args) as b:
        if isinstance(b, EmbeddedBackend):
            report = b.project.delete_users(args.user_ids, compact=args.compact).as_json()
        else:
            assert isinstance(b, RemoteBackend)
            report = b.client.delete_users(args.user_ids, compact=args.compact)
    if args.json:
        emit_json(report)
        return 0
    console.print(
        f"deleted {len(report['found'])} user(s) ({report['ids_deleted']} id(s) with merged ones, "
        f"{report['events_before']} event(s)); "
        + ("purged from the files" if report["purged"] else "purged at the next compaction")
    )
    for u in report["not_found"]:
        console.print(f"  not found: {u}")
    return 0
