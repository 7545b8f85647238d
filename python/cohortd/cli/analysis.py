"""``cohortd backtest``, ``retention``, ``funnel`` and ``journeys``: analyses of cohorts.

Each command calls the same method on the embedded project (``--data``) or
the SDK (``--server``), which return the same values; ``--json`` prints their
``to_json()`` (the shapes of issue 12).
"""

from __future__ import annotations

import argparse
from typing import Any

from cohortd.analysis.results import Backtest, Funnel, FunnelStep, JourneyPath, Journeys, Retention
from cohortd.cli._common import add_json, add_target, backend, console, emit_json, err_console, table
from cohortd.times import parse_as_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="had we used this cohort on a past date: outcome rate vs a baseline")
    _common(p, cohort_help="the cohort being tested")
    p.add_argument("--outcome", required=True, metavar="EXPR", help="the outcome, a cohort expression")
    p.add_argument("--horizon", required=True, metavar="DURATION", help="outcome evaluated at A + this (30d)")
    p.add_argument("--as-of", metavar="ISO", default=None, help="the backtest date A")
    p.add_argument(
        "--every", metavar="DURATION", default=None, help="repeat every this long (with --from/--to)"
    )
    p.add_argument(
        "--from", dest="start", metavar="ISO", default=None, help="first date of a repeated backtest"
    )
    p.add_argument("--to", dest="end", metavar="ISO", default=None, help="last date (inclusive)")
    p.add_argument("--baseline", choices=("rest", "all", "cohort"), default="rest",
                   help="rest: known users at A outside the cohort (default); all; or a cohort")  # fmt: skip
    _baseline_cohort(p)
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("retention", help="share of users returning in each period after their start")
    _common(p, cohort_help="the population (default: all known users)")
    p.add_argument("--start", dest="start_event", required=True, metavar="EVENT", help="start event")
    p.add_argument("--return", dest="return_event", required=True, metavar="EVENT", help="return event")
    _range(p, "starts")
    p.add_argument("--period", default="1w", metavar="DURATION", help="period length (default 1w)")
    p.add_argument("--periods", type=int, default=8, metavar="N", help="number of periods (default 8)")
    p.add_argument("--unbounded", action="store_true", help="returned in period k or later")
    p.add_argument("--baseline", choices=("all", "rest", "none", "cohort"), default=None,
                   help="baseline curve (default: all known users when a cohort is given)")  # fmt: skip
    _baseline_cohort(p)
    p.add_argument("--as-of", metavar="ISO", default=None, help="as of this instant (default: now)")
    p.set_defaults(func=cmd_retention)

    p = sub.add_parser("funnel", help="users reaching each step within a conversion window")
    _common(p, cohort_help="only these entrants")
    p.add_argument("--step", dest="steps", action="append", required=True, metavar="EVENT",
                   help="a step (repeat, in order)")  # fmt: skip
    _range(p, "entries (step 1 events)")
    p.add_argument(
        "--window", default="7d", metavar="DURATION", help="conversion window (default 7d; 'none')"
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--split-cohort", metavar="NAME", default=None, help="split: members vs non-members")
    g.add_argument("--split-definition", metavar="EXPR", default=None, help="split by an inline cohort")
    g.add_argument("--split-property", metavar="PROP", default=None, help="split by a user property")
    p.add_argument("--as-of", metavar="ISO", default=None, help="as of this instant (default: now)")
    p.set_defaults(func=cmd_funnel)

    p = sub.add_parser("journeys", help="top paths after and before an anchor event")
    _common(p, cohort_help="only these users")
    p.add_argument("--anchor", required=True, metavar="EVENT", help="the anchor event")
    _range(p, "anchors")
    p.add_argument("--after", default="30m", metavar="DURATION", help="after-window (default 30m)")
    p.add_argument("--before", default="30m", metavar="DURATION", help="before-window (default 30m)")
    p.add_argument("--depth", type=int, default=3, help="events per path (default 3)")
    p.add_argument("--top", type=int, default=10, help="paths shown (default 10)")
    p.add_argument("--keep-repeats", action="store_true", help="do not collapse consecutive repeats")
    p.add_argument("--returned-within", metavar="DURATION", default=None,
                   help="share with another anchor event within this long")  # fmt: skip
    p.add_argument("--did", action="append", default=[], metavar="EVENT",
                   help="share who did this within the after-window (repeatable)")  # fmt: skip
    p.add_argument("--as-of", metavar="ISO", default=None, help="as of this instant (default: now)")
    p.set_defaults(func=cmd_journeys)


def _common(p: argparse.ArgumentParser, cohort_help: str) -> None:
    add_target(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cohort", metavar="NAME", default=None, help=f"saved cohort: {cohort_help}")
    g.add_argument("--definition", metavar="EXPR", default=None, help=f"inline cohort: {cohort_help}")
    add_json(p)


def _baseline_cohort(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--baseline-cohort", metavar="NAME", default=None, help="saved baseline cohort")
    g.add_argument("--baseline-definition", metavar="EXPR", default=None, help="inline baseline cohort")


def _range(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--from", dest="start", required=True, metavar="ISO", help=f"{what} from (inclusive)")
    p.add_argument("--to", dest="end", required=True, metavar="ISO", help=f"{what} to (exclusive)")


def _api(b: Any) -> Any:
    """The embedded project or the SDK client: both have the analysis methods."""
    return b.project if hasattr(b, "project") else b.client


def _ms(text: str | None) -> int | None:
    return parse_as_of(text)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def cmd_backtest(args: argparse.Namespace) -> int:
    if args.cohort is None and args.definition is None:
        from cohortd.cli._common import UsageError

        raise UsageError("backtest needs --cohort NAME or --definition EXPR")
    with backend(args) as b:
        result: Backtest = _api(b).backtest(
            args.cohort,
            args.definition,
            outcome=args.outcome,
            horizon=args.horizon,
            as_of=_ms(args.as_of),
            baseline=args.baseline,
            baseline_cohort=args.baseline_cohort,
            baseline_definition=args.baseline_definition,
            every=args.every,
            start=_ms(args.start),
            end=_ms(args.end),
        )
    if args.json:
        emit_json(result.to_json())
        return 0
    rows = []
    for r in result.runs:
        j = r.to_json()
        ci = "-" if r.ci95 is None else f"[{100 * r.ci95[0]:+.1f}, {100 * r.ci95[1]:+.1f}] pp"
        rows.append([j["as_of"], f"{r.cohort.converted:,}/{r.cohort.size:,}", _pct(r.cohort.rate),
                     f"{r.baseline.converted:,}/{r.baseline.size:,}", _pct(r.baseline.rate),
                     _num(r.lift), ci, _num(r.p_value)])  # fmt: skip
    table(["as of", "cohort", "rate", f"baseline ({result.runs[0].baseline_kind})", "rate", "lift",
           "difference 95% CI", "p"], rows, right=["cohort", "rate", "lift", "p"])  # fmt: skip
    console.print(f"horizon {result.runs[0].horizon}; {result.runs[0].test}")
    for w in sorted({w for r in result.runs for w in r.warnings}):
        err_console.print(f"[yellow]note[/] {w}")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    with backend(args) as b:
        result: Retention = _api(b).retention(
            args.start_event,
            args.return_event,
            _ms(args.start),
            _ms(args.end),
            period=args.period,
            periods=args.periods,
            as_of=_ms(args.as_of),
            cohort=args.cohort,
            definition=args.definition,
            unbounded=args.unbounded,
            baseline=args.baseline,
            baseline_cohort=args.baseline_cohort,
            baseline_definition=args.baseline_definition,
        )
    if args.json:
        emit_json(result.to_json())
        return 0
    columns = ["period", "users", "retained", "rate"]
    rows = [[f"{p.period}", f"{p.users:,}", f"{p.retained:,}", _pct(p.rate)] for p in result.population.curve]
    if result.baseline is not None:
        columns += ["baseline users", "baseline rate"]
        for row, q in zip(rows, result.baseline.curve, strict=True):
            row += [f"{q.users:,}", _pct(q.rate)]
    title = f"{result.mode} retention per {result.period}: {result.population.users:,} users"
    table(columns, rows, title=title, right=columns)
    return 0


def _funnel_rows(steps: list[FunnelStep]) -> list[list[str]]:
    def dur(ms: int | None) -> str:
        return "-" if ms is None else f"{ms / 1000:,.1f}s"

    return [[s.event, f"{s.users:,}", _pct(s.from_previous), _pct(s.from_entry), dur(s.median_ms),
             dur(s.p90_ms)] for s in steps]  # fmt: skip


def cmd_funnel(args: argparse.Namespace) -> int:
    with backend(args) as b:
        result: Funnel = _api(b).funnel(
            args.steps,
            _ms(args.start),
            _ms(args.end),
            window=None if args.window.lower() == "none" else args.window,
            as_of=_ms(args.as_of),
            cohort=args.cohort,
            definition=args.definition,
            split_cohort=args.split_cohort,
            split_definition=args.split_definition,
            split_property=args.split_property,
        )
    if args.json:
        emit_json(result.to_json())
        return 0
    columns = ["step", "users", "from previous", "from entry", "median", "p90"]
    table(columns, _funnel_rows(result.steps), right=columns[1:])
    if result.split is not None:
        for g in result.split.groups:
            table(columns, _funnel_rows(g.steps), title=f"{result.split.by}: {g.group}", right=columns[1:])
    return 0


def cmd_journeys(args: argparse.Namespace) -> int:
    with backend(args) as b:
        result: Journeys = _api(b).journeys(
            args.anchor,
            _ms(args.start),
            _ms(args.end),
            after=args.after,
            before=args.before,
            depth=args.depth,
            top=args.top,
            keep_repeats=args.keep_repeats,
            as_of=_ms(args.as_of),
            cohort=args.cohort,
            definition=args.definition,
            returned_within=args.returned_within,
            did=args.did,
        )
    if args.json:
        emit_json(result.to_json())
        return 0

    def rows(paths: list[JourneyPath]) -> list[list[str]]:
        return [[" → ".join(p.path), f"{p.users:,}", _pct(p.share)] for p in paths]

    console.print(f"{result.users:,} users with {result.anchor}")
    table(["after", "users", "share"], rows(result.after), right=["users", "share"])
    table(["before", "users", "share"], rows(result.before), right=["users", "share"])
    if result.returned is not None:
        back = result.returned
        console.print(f"returned within {back.what}: {back.users:,} ({_pct(back.share)})")
    for d in result.did:
        console.print(f"did {d.what} within the after-window: {d.users:,} ({_pct(d.share)})")
    return 0
