"""``cohortd schema``, ``breakdown``, ``population`` and ``audit``: know your data.

Also the helpers ``query``/``explain``/``lint``/``cohort`` use for lint
warnings and ``--strict``.  Every command works embedded (``--data``) or
remote (``--server``) and prints the same ``--json`` document either way
(shapes in docs/know-your-data.md).  A ``COHORT`` argument is a saved
cohort's name when one has that name, else a definition.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from cohortd.cli._common import (
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
from cohortd.cli.backend import Backend, EmbeddedBackend, warning_dicts
from cohortd.errors import DefinitionError, NotFoundError

__all__ = ["add_strict", "check_strict", "explain_with_warnings", "register"]


def add_strict(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict", action="store_true", help="treat lint warnings as an error (exit 1)")


def check_strict(args: argparse.Namespace, warnings: Sequence[dict[str, Any]]) -> None:
    """With ``--strict``, lint warnings are an error: print them and fail before anything is saved."""
    if getattr(args, "strict", False) and warnings:
        print_warnings(warnings)
        raise DefinitionError(f"--strict: {len(warnings)} lint warning(s)")


def explain_with_warnings(
    b: Backend, name: str | None, definition: str | None, as_of: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The plan steps and the warnings an explain answer carries."""
    if isinstance(b, EmbeddedBackend):
        return b.explain(name, definition, as_of), warning_dicts(b.project.warnings(name, definition))
    from datetime import UTC, datetime

    when = None if as_of is None else datetime.fromtimestamp(as_of / 1000, tz=UTC)
    steps, warnings = b.client.explain_warnings(name, definition, as_of=when)  # type: ignore[attr-defined]
    return (
        [
            {"text": s.text, "size": int(s.size), "millis": float(s.millis), "depth": int(s.depth)}
            for s in steps
        ],
        warning_dicts(warnings),
    )


def _api(b: Backend) -> Any:
    """The object answering schema/breakdown/population/audit: the project or the SDK client."""
    return b.project if isinstance(b, EmbeddedBackend) else b.client  # type: ignore[attr-defined]


def _target(b: Backend, text: str) -> tuple[str | None, str | None]:
    """(saved name, definition) for a COHORT argument."""
    try:
        b.get_cohort(text)
    except NotFoundError:
        return None, text
    return text, None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="event types, event and user properties: counts, types, top values")
    add_target(p)
    p.add_argument("--top", type=int, default=10, help="top values per property (default 10)")
    add_json(p)
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("breakdown", help="a cohort's members by a property or by other cohorts")
    add_target(p)
    add_as_of(p)
    p.add_argument(
        "cohort", metavar="COHORT", help="saved cohort name or definition ('-' reads standard input)"
    )
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--by", help="user.<property> or 'event(\"<type>\").<property>'")
    g.add_argument("--by-cohorts", nargs="+", metavar="NAME", help="membership of these saved cohorts")
    p.add_argument("--window", default=None, help="event property: only events in the last D (e.g. 14d)")
    p.add_argument("--pick", choices=("last", "most"), default="last", help="event property: which value")
    p.add_argument("--top", type=int, default=10, help="values shown before (other) (default 10)")
    add_json(p)
    p.set_defaults(func=cmd_breakdown)

    p = sub.add_parser("population", help="a cohort's size at each step of a range (exact as-of evaluations)")
    add_target(p)
    p.add_argument(
        "cohort", metavar="COHORT", help="saved cohort name or definition ('-' reads standard input)"
    )
    p.add_argument("--from", dest="start", required=True, metavar="ISO", help="first as-of time")
    p.add_argument("--to", dest="end", required=True, metavar="ISO", help="last as-of time (included)")
    p.add_argument("--step", default="1d", help="duration between points, e.g. 1d or 1w (default 1d)")
    add_json(p)
    p.set_defaults(func=cmd_population)

    p = sub.add_parser(
        "audit", help="problems of the saved cohorts: stale events, shrinking, unread, duplicates"
    )
    add_target(p)
    p.add_argument(
        "--stale-days", type=int, default=30, help="an event silent this long is stale (default 30)"
    )
    p.add_argument(
        "--shrink", type=float, default=20.0, help="report shrinking by more than this %% in 30 days"
    )
    p.add_argument("--unread-days", type=int, default=60, help="report cohorts unread this long (default 60)")
    add_json(p)
    p.set_defaults(func=cmd_audit)


def _share(x: float) -> str:
    return f"{100 * x:.1f}%"


def cmd_schema(args: argparse.Namespace) -> int:
    with backend(args) as b:
        doc = _api(b).schema(top_values=args.top)
    if args.json:
        emit_json(doc)
        return 0
    table(
        ["event type", "events", "users", "first seen", "last seen", "last 7d", "last 30d"],
        [[e["name"], f"{e['events']:,}", f"{e['users']:,}", e["first_seen"], e["last_seen"],
          f"{e['last_7d']:,}", f"{e['last_30d']:,}"] for e in doc["event_types"]],
        right=["events", "users", "last 7d", "last 30d"],
    )  # fmt: skip
    rows = []
    for e in doc["event_types"]:
        for p in e["properties"]:
            rows.append([e["name"], p["name"], p["type"], _share(p["present"]), _top(p)])
    for p in doc["user_properties"]:
        rows.append(["(user)", p["name"], p["type"], _share(p["present"]), _top(p)])
    if rows:
        console.print()
        table(["on", "property", "type", "present", "top values"], rows, right=["present"])
    return 0


def _top(p: dict[str, Any]) -> str:
    return ", ".join(f"{v['value']!r} ({v['count']:,})" for v in p["top_values"][:5])


def cmd_breakdown(args: argparse.Namespace) -> int:
    args.source = read_definition(args.cohort)
    with backend(args) as b:
        name, definition = _target(b, args.source)
        kw = dict(window=args.window, pick=args.pick, top=args.top, by_cohorts=args.by_cohorts)
        res = _api(b).breakdown(name, definition, args.by, as_of=as_of_ms(args), **kw)
    doc = res if isinstance(res, dict) else res.to_dict()
    if args.json:
        emit_json(doc)
        return 0
    console.print(f"{doc['cohort']}: {doc['size']:,} members (as of {doc['as_of']})")
    table(
        ["value", "members", "share", "base share", "index"],
        [[r["value"], f"{r['members']:,}", _share(r["share"]), _share(r["base_share"]),
          "" if r["index"] is None else f"{r['index']:.2f}"] for r in doc["rows"]],
        right=["members", "share", "base share", "index"],
    )  # fmt: skip
    return 0


def cmd_population(args: argparse.Namespace) -> int:
    args.source = read_definition(args.cohort)
    with backend(args) as b:
        name, definition = _target(b, args.source)
        res = _api(b).population(name, definition, start=args.start, end=args.end, step=args.step)
    doc = res if isinstance(res, dict) else res.to_dict()
    if args.json:
        emit_json(doc)
        return 0
    console.print(doc["cohort"])
    table(
        ["as of", "size", "entered", "exited"],
        [[p["as_of"], f"{p['size']:,}", f"{p['entered']:,}", f"{p['exited']:,}"] for p in doc["points"]],
        right=["size", "entered", "exited"],
    )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    with backend(args) as b:
        doc = _api(b).audit(
            stale_days=args.stale_days, shrink_percent=args.shrink, unread_days=args.unread_days
        )
    if args.json:
        emit_json(doc)
        return 0
    if doc["stale_event_types"]:
        table(
            ["stale event type", "last seen", "days silent"],
            [[s["name"], s["last_seen"], s["days_silent"]] for s in doc["stale_event_types"]],
            right=["days silent"],
        )
    if doc["findings"]:
        table(
            ["cohort", "finding", "detail"], [[f["cohort"], f["code"], f["message"]] for f in doc["findings"]]
        )
    if not doc["stale_event_types"] and not doc["findings"]:
        console.print("no findings")
    return 0
