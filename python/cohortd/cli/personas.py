"""``cohortd personas``: behavioural groups of a population, explained, with a rule for each.

    cohortd personas --data DIR --population all --window 30d --k auto [--properties plan,country]
        [--seed S] [--json] [--assignments FILE.parquet|FILE.csv] [--cluster I --save-cohort NAME]

Works embedded (``--data``) or against a server (``--server``, the
``Personas`` RPC); the JSON document is the same either way
(``PersonaReport.to_dict``).  ``--assignments`` writes one ``user_id, cluster``
row per clustered user.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cohortd.cli._common import (
    UsageError,
    add_as_of,
    add_json,
    add_target,
    backend,
    console,
    emit_json,
    table,
)
from cohortd.cli.backend import EmbeddedBackend


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("personas", help="discover behavioural groups, explain them, derive a cohort for one")
    add_target(p)
    add_as_of(p)
    p.add_argument("--population", default="all", metavar="COHORT|all", help="saved cohort or all (default)")
    p.add_argument("--window", default="30d", metavar="DURATION", help="behaviour window (default 30d)")
    p.add_argument("--k", default="auto", metavar="K|LO..HI|auto", help="clusters: 5, 3..10 or auto (3..10)")
    p.add_argument("--properties", default="", metavar="P1,P2", help="user properties to one-hot encode")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same answer)")
    p.add_argument("--top-events", type=int, default=100, metavar="N", help="event types used (default 100)")
    p.add_argument(
        "--assignments", metavar="FILE", default=None, help="write user_id,cluster (.parquet/.csv)"
    )
    p.add_argument("--cluster", type=int, default=None, metavar="I", help="the persona to save")
    p.add_argument("--save-cohort", metavar="NAME", default=None, help="save --cluster's rule as a cohort")
    add_json(p)
    p.set_defaults(func=cmd_personas)


def _writer(path: str) -> Any:
    suffix = Path(path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise UsageError(f"--assignments {path}: the file name must end in .parquet or .csv")
    return suffix


def write_assignments(path: str, user_ids: list[str], clusters: list[int]) -> None:
    """``user_id, cluster`` rows as Parquet or CSV (by the file's extension)."""
    import pyarrow as pa

    suffix = _writer(path)
    data = pa.table({"user_id": pa.array(user_ids, pa.string()), "cluster": pa.array(clusters, pa.int32())})
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(data, path)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(data, path)


def cmd_personas(args: argparse.Namespace) -> int:
    if args.save_cohort is not None and args.cluster is None:
        raise UsageError("--save-cohort needs --cluster I (which persona to save)")
    if args.assignments:
        _writer(args.assignments)
    options = {
        "properties": [p for p in args.properties.split(",") if p.strip()],
        "seed": args.seed,
        "as_of": args.as_of,
        "top_events": args.top_events,
        "cluster": args.cluster,
        "save_cohort": args.save_cohort,
        "assignments": bool(args.assignments),
    }
    with backend(args) as b:
        if isinstance(b, EmbeddedBackend):
            report = b.workspace.project(args.project).personas(
                args.population, args.window, args.k, **options
            )
        else:
            report = b.client.personas(args.population, args.window, args.k, **options)  # type: ignore[attr-defined]
    if args.assignments and report.assignments is not None:
        write_assignments(args.assignments, *report.assignments)
    doc = report.to_dict()
    if args.json:
        emit_json(doc)
        return 0
    _print(doc)
    return 0


def _print(doc: dict[str, Any]) -> None:
    stab = doc["stability"]
    console.print(
        f"{doc['clustered_users']:,} of {doc['population_size']:,} users of {doc['population']} "
        f"active in the last {doc['window']} (as of {doc['as_of']}); k = {doc['k']} ({doc['k_criterion']}); "
        f"stability ARI mean {stab['ari_mean']:.3f}, min {stab['ari_min']:.3f}"
    )
    rows = []
    for p in doc["personas"]:
        rule = p["rule"]
        rows.append(
            [
                p["cluster"],
                p["name"],
                f"{p['size']:,}",
                f"{p['share']:.1%}",
                ", ".join(f"{b['event_type']} x{b['ratio']:.2f}" for b in p["behaviours"][:3]),
                "-" if rule is None else f"{rule['f1']:.3f}",
            ]
        )
    table(["#", "name", "users", "share", "defining (ratio to population)", "rule F1"], rows, right=["users"])
    for p in doc["personas"]:
        if p["rule"] is not None:
            console.print(f"[bold]{p['cluster']}[/] {p['rule']['definition']}", markup=True)
    if doc["saved_cohort"]:
        console.print(f"saved cohort {doc['saved_cohort']!r}")
