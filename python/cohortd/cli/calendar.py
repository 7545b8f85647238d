"""``cohortd time-zone [ZONE]``: show or set the project's time zone, embedded or over the server.

The zone (an IANA name) fixes calendar windows (``in this month``) and the
days of ``active_days``; setting it on a project that does not exist yet
creates the project with it.
"""

from __future__ import annotations

import argparse

from cohortd.cli._common import add_json, add_target, backend, console, emit_json
from cohortd.cli.backend import EmbeddedBackend, RemoteBackend


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "time-zone", help="show or set the project's time zone (calendar windows, active_days)"
    )
    add_target(p)
    p.add_argument("zone", nargs="?", metavar="ZONE", help="an IANA name such as America/New_York, or UTC")
    add_json(p)
    p.set_defaults(func=cmd_time_zone)


def cmd_time_zone(args: argparse.Namespace) -> int:
    with backend(args) as b:
        if isinstance(b, EmbeddedBackend):
            zone = b.project.set_time_zone(args.zone) if args.zone else b.project.time_zone
        else:
            assert isinstance(b, RemoteBackend)
            zone = b.client.set_time_zone(args.zone) if args.zone else b.client.time_zone()
    if args.json:
        emit_json({"time_zone": zone})
    else:
        console.print(zone)
    return 0
