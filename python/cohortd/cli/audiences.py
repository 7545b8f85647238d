"""``cohortd destination ...``, ``cohortd audience ...``, ``cohortd cohort upload`` and member exports.

Destinations and audiences are stored per project; deliveries run in the
server (``cohortd serve``), which starts every audience's worker, so with
``--data`` these commands only change what is stored (the next server start
delivers).  See docs/audiences.md for the delivery contract.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cohortd.audiences.model import FORMATS, parse_share
from cohortd.cli._common import UsageError, add_json, add_target, backend, console, emit_json, table
from cohortd.times import iso_ms, parse_as_of


def _api(b: Any) -> Any:
    """The object with the audience methods: the embedded Project or the SDK Client."""
    return b.project if hasattr(b, "project") else b.client


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("destination", help="delivery targets of audiences: webhooks and directories")
    dsub = p.add_subparsers(dest="destination_command", metavar="ACTION", required=True)
    c = dsub.add_parser("create", help="store a webhook or directory destination")
    add_target(c)
    c.add_argument("name")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--webhook", metavar="URL", help="POST JSON batches here (signed, X-Cohortd-Signature)")
    g.add_argument("--dir", metavar="PATH", help="write one file per delivery into this directory")
    c.add_argument(
        "--secret", metavar="S", help="webhook HMAC-SHA256 secret (default: generated, printed once)"
    )
    c.add_argument("--format", choices=FORMATS, default=None, help="file format of --dir (default jsonl)")
    c.add_argument(
        "--shape", choices=("cohortd", "meta"), default="cohortd",
        help="webhook payload: cohortd (the documented contract) or meta (custom-audience example)",
    )  # fmt: skip
    add_json(c)
    c.set_defaults(func=cmd_destination_create)
    c = dsub.add_parser("list", help="list destinations")
    add_target(c)
    add_json(c)
    c.set_defaults(func=cmd_destination_list)
    c = dsub.add_parser("delete", help="delete a destination no audience uses")
    add_target(c)
    c.add_argument("name")
    add_json(c)
    c.set_defaults(func=cmd_destination_delete)

    p = sub.add_parser("audience", help="cohorts synced to destinations: create, list, log, pause, resume")
    asub = p.add_subparsers(dest="audience_command", metavar="ACTION", required=True)
    c = asub.add_parser("create", help="bind a saved cohort to a destination")
    add_target(c)
    c.add_argument("name")
    c.add_argument("--cohort", required=True, metavar="C")
    c.add_argument("--destination", required=True, metavar="D")
    c.add_argument("--id", dest="identifier", default="user_id", metavar="user_id|user.PROP")
    c.add_argument("--hash", dest="hashing", choices=("none", "sha256"), default="none")
    c.add_argument(
        "--mode", nargs="+", default=["realtime"], metavar="MODE",
        help="realtime (default), once, or every DURATION (e.g. --mode every 1h)",
    )  # fmt: skip
    c.add_argument("--batch", type=int, default=1_000, help="users per batch (default 1000)")
    c.add_argument(
        "--holdout", default="0%", metavar="P%",
        help="hold this share of the members out (never delivered) to measure lift, e.g. 10%%",
    )  # fmt: skip
    add_json(c)
    c.set_defaults(func=cmd_audience_create)
    c = asub.add_parser("lift", help="outcome rate of delivered vs held-out entrants (needs --holdout)")
    add_target(c)
    c.add_argument("name")
    c.add_argument("--outcome", required=True, metavar="DEFINITION", help="a cohort definition")
    c.add_argument("--horizon", required=True, metavar="DURATION", help="measured from each entry, e.g. 30d")
    c.add_argument("--since", metavar="ISO", default=None, help="entries from this instant")
    c.add_argument("--until", metavar="ISO", default=None, help="entries before this instant")
    add_json(c)
    c.set_defaults(func=cmd_audience_lift)
    c = asub.add_parser("list", help="audiences with status, last success, lag and failing count")
    add_target(c)
    add_json(c)
    c.set_defaults(func=cmd_audience_list)
    c = asub.add_parser("log", help="an audience's delivery attempts, newest first")
    add_target(c)
    c.add_argument("name")
    c.add_argument("--limit", type=int, default=20)
    add_json(c)
    c.set_defaults(func=cmd_audience_log)
    for action, helptext in (
        ("pause", "stop delivering (changes collapse into one difference on resume)"),
        ("resume", "deliver again"),
        ("delete", "delete the audience and its sync log"),
    ):
        c = asub.add_parser(action, help=helptext)
        add_target(c)
        c.add_argument("name")
        add_json(c)
        c.set_defaults(func=cmd_audience_action, action=action)


def register_upload(csub: argparse._SubParsersAction) -> None:
    """``cohortd cohort upload NAME FILE.csv``."""
    c = csub.add_parser("upload", help="create or replace a static cohort from a CSV column of user ids")
    add_target(c)
    c.add_argument("name")
    c.add_argument("file", type=Path, metavar="FILE.csv")
    c.add_argument(
        "--column", default=None, help="header of the id column (default: user_id or id, else the first)"
    )
    c.add_argument("--description", default="")
    add_json(c)
    c.set_defaults(func=cmd_cohort_upload)


def add_export_options(p: argparse.ArgumentParser) -> None:
    """``cohortd members NAME --format csv|jsonl|parquet --out FILE [--id user.email] [--hash sha256]``."""
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="stream the members to a file")
    p.add_argument(
        "--format", choices=FORMATS, default=None, help="file format of --out (default: by suffix)"
    )
    p.add_argument("--id", dest="identifier", default="user_id", metavar="user_id|user.PROP")
    p.add_argument("--hash", dest="hashing", choices=("none", "sha256"), default="none")


# ------------------------------------------------------------------ commands
def _dest_dict(d: Any) -> dict[str, Any]:
    out = asdict(d)
    out["created"] = iso_ms(out.pop("created_ms"))
    return out


def _aud_dict(a: Any) -> dict[str, Any]:
    out = asdict(a)
    out["created"] = iso_ms(out.pop("created_ms"))
    out["last_success"] = iso_ms(out.pop("last_success_ms"))
    return out


def cmd_destination_create(args: argparse.Namespace) -> int:
    if args.format and not args.dir:
        raise UsageError("--format goes with --dir")
    if args.secret and not args.webhook:
        raise UsageError("--secret goes with --webhook")
    with backend(args) as b:
        dest, generated = _api(b).create_destination(
            args.name, webhook=args.webhook, directory=str(Path(args.dir).resolve()) if args.dir else None,
            secret=args.secret, fmt=args.format, shape=args.shape,
        )  # fmt: skip
    if args.json:
        emit_json({"destination": _dest_dict(dest), "secret": generated})
        return 0
    where = dest.url if dest.kind == "webhook" else f"{dest.path} ({dest.format})"
    console.print(f"created destination {dest.name!r}: {dest.kind} {where}")
    if generated:
        console.print(f"secret (shown once; verify X-Cohortd-Signature with it): {generated}")
    return 0


def cmd_destination_list(args: argparse.Namespace) -> int:
    with backend(args) as b:
        dests = _api(b).list_destinations()
    if args.json:
        emit_json({"destinations": [_dest_dict(d) for d in dests]})
        return 0
    rows = [[d.name, d.kind, d.url or d.path, d.format or d.shape, iso_ms(d.created_ms)] for d in dests]
    table(["name", "kind", "target", "format", "created"], rows)
    return 0


def cmd_destination_delete(args: argparse.Namespace) -> int:
    with backend(args) as b:
        _api(b).delete_destination(args.name)
    if args.json:
        emit_json({"deleted": args.name})
    else:
        console.print(f"deleted destination {args.name!r}")
    return 0


def cmd_audience_create(args: argparse.Namespace) -> int:
    with backend(args) as b:
        a = _api(b).create_audience(
            args.name, args.cohort, args.destination, args.identifier, args.hashing, " ".join(args.mode),
            args.batch, parse_share(args.holdout),
        )  # fmt: skip
    if args.json:
        emit_json(_aud_dict(a))
        return 0
    console.print(
        f"created audience {a.name!r}: {a.cohort!r} -> {a.destination!r}, id {a.identifier}"
        f"{' (sha256)' if a.hashing == 'sha256' else ''}, {a.mode}, batches of {a.batch_size:,}"
        + (f", {a.holdout:.0%} held out" if a.holdout else "")
    )
    return 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def cmd_audience_lift(args: argparse.Namespace) -> int:
    since, until = parse_as_of(args.since), parse_as_of(args.until)
    with backend(args) as b:
        r = _api(b).audience_lift(args.name, args.outcome, args.horizon, since, until)
    if args.json:
        doc = asdict(r)
        doc["since"], doc["until"] = iso_ms(doc.pop("since_ms")), iso_ms(doc.pop("until_ms"))
        for arm in ("delivered", "held_out"):
            doc[arm]["rate"] = getattr(r, arm).rate
        doc["ci95"] = list(r.ci95) if r.ci95 else None
        emit_json(doc)
        return 0
    table(
        ["arm", "users", "converted", "rate"],
        [
            ["delivered", f"{r.delivered.users:,}", f"{r.delivered.converted:,}", _pct(r.delivered.rate)],
            ["held out", f"{r.held_out.users:,}", f"{r.held_out.converted:,}", _pct(r.held_out.rate)],
        ],
        title=f"{r.audience}: {r.outcome} within {r.horizon} of entry ({r.holdout:.0%} holdout)",
        right=["users", "converted", "rate"],
    )
    ci = "-" if r.ci95 is None else f"[{r.ci95[0]:+.1%}, {r.ci95[1]:+.1%}]"
    lift = "-" if r.lift is None else f"{r.lift:.3f}x"
    diff = "-" if r.difference is None else f"{r.difference:+.1%}"
    p = "-" if r.p_value is None else f"{r.p_value:.4f}"
    console.print(f"lift {lift}  difference {diff}  95% CI {ci}  p {p}")
    console.print(f"left out (horizon not over yet): {r.inside_horizon:,}")
    return 0


def _lag(ms: int) -> str:
    return "-" if ms <= 0 else f"{ms / 1000:.1f}s"


def cmd_audience_list(args: argparse.Namespace) -> int:
    with backend(args) as b:
        auds = _api(b).list_audiences()
    if args.json:
        emit_json({"audiences": [_aud_dict(a) for a in auds]})
        return 0
    rows = [
        [a.name, a.cohort, a.destination, a.mode, a.status, iso_ms(a.last_success_ms) or "never",
         _lag(a.lag_ms), a.failing, f"{a.acknowledged_members:,}", a.last_error[:60]]
        for a in auds
    ]  # fmt: skip
    table(
        [
            "name",
            "cohort",
            "destination",
            "mode",
            "status",
            "last success",
            "lag",
            "failing",
            "held",
            "error",
        ],
        rows,
        right=["failing", "held"],
    )
    return 0


def cmd_audience_log(args: argparse.Namespace) -> int:
    with backend(args) as b:
        attempts = _api(b).audience_log(args.name, args.limit)
    if args.json:
        docs = []
        for s in attempts:
            d = asdict(s)
            d["time"] = iso_ms(d.pop("time_ms"))
            docs.append(d)
        emit_json({"audience": args.name, "attempts": docs})
        return 0
    rows = [
        [iso_ms(s.time_ms), f"{s.from_version}->{s.to_version}", "full" if s.full else "delta",
         f"{s.seq}/{s.of}", s.added, s.removed, f"{s.skipped} ({s.skip_reason})" if s.skipped else 0,
         s.status, s.http_status or "", s.error[:60], f"{s.latency_ms:.1f}"]
        for s in attempts
    ]  # fmt: skip
    table(
        ["time", "versions", "kind", "batch", "added", "removed", "skipped", "status", "http", "error", "ms"],
        rows,
        right=["added", "removed", "ms"],
    )
    return 0


def cmd_audience_action(args: argparse.Namespace) -> int:
    with backend(args) as b:
        api = _api(b)
        out = getattr(api, f"{args.action}_audience")(args.name)
    if args.json:
        emit_json({"deleted": args.name} if out is None else _aud_dict(out))
        return 0
    console.print(
        f"{args.action}d audience {args.name!r}" if args.action != "pause" else f"paused {args.name!r}"
    )
    return 0


def read_ids(path: Path, column: str | None) -> list[str]:
    """The id column of a CSV file: ``column`` by header, else a ``user_id``/``id`` header, else the first."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip() for c in rows[0]]
    wanted = [column] if column else ["user_id", "id"]
    for name in wanted:
        if name in header:
            i = header.index(name)
            return [r[i].strip() for r in rows[1:] if len(r) > i and r[i].strip()]
    if column:
        raise UsageError(f"{path}: no column named {column!r} (header: {', '.join(header)})")
    return [r[0].strip() for r in rows if r[0].strip()]


def cmd_cohort_upload(args: argparse.Namespace) -> int:
    ids = read_ids(args.file, args.column)
    with backend(args) as b:
        r = _api(b).upload_cohort(args.name, ids, args.description)
    if args.json:
        emit_json(asdict(r))
        return 0
    console.print(
        f"static cohort {r.cohort!r} version {r.version}: {r.ids:,} ids, {r.members:,} members, "
        f"{r.unknown:,} unknown to the engine"
    )
    if r.unknown:
        more = (
            "" if r.unknown <= len(r.unknown_sample) else f" (and {r.unknown - len(r.unknown_sample):,} more)"
        )
        console.print("unknown: " + ", ".join(r.unknown_sample) + more)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``cohortd members NAME --out FILE``: streamed, chunk by chunk, to a file (atomic rename)."""
    from cohortd.audiences.export import column_name, write_ids

    fmt = args.format or args.out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format: give one of {', '.join(FORMATS)} (or an --out file with that suffix)")
    totals: dict[str, int] = {}
    with backend(args) as b:
        api = _api(b)
        if hasattr(b, "project"):
            ex = api.export_members(args.cohort, args.identifier, args.hashing)
            totals.update(total=ex.total, skipped=ex.skipped)
            chunks = ex.chunks
        else:
            chunks = api.export_members(
                args.cohort, args.identifier, args.hashing,
                on_totals=lambda t, s: totals.update(total=t, skipped=s),
            )  # fmt: skip
        rows = write_ids(args.out, fmt, column_name(args.identifier, args.hashing), chunks)
    doc = {"cohort": args.cohort, "out": str(args.out), "format": fmt, "rows": rows, **totals}
    if args.json:
        emit_json(doc)
    else:
        skipped = totals.get("skipped", 0)
        note = f", {skipped:,} skipped (no {args.identifier})" if skipped else ""
        sys.stderr.write(f"wrote {rows:,} ids to {args.out}{note}\n")
    return 0
