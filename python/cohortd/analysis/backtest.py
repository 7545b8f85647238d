"""Backtest: "had we used this cohort on date A, how many of its members did the outcome by A + horizon?"

The cohort (and a baseline) are evaluated as of A; the outcome, any cohort
expression, as of A + horizon (so ``did("Subscription Started") in last 30d``
with a 30d horizon means the event happened in ``[A, A + 30d)``).  Converted
users are members at A that are in the outcome at A + horizon.  Baselines:
``rest`` (known users at A outside the cohort, the default), ``all`` (every
known user at A) or ``cohort`` (another cohort at A).  Every set here is a
roaring bitmap produced by the normal evaluation path.
"""

from __future__ import annotations

from collections.abc import Callable

from pyroaring import BitMap

from cohortd.analysis.results import USER_PROPERTY_NOTE, BacktestRun, Group
from cohortd.analysis.stats import two_proportions
from cohortd.errors import DefinitionError
from cohortd.lang import ast
from cohortd.lang.walk import leaves as conditions

BASELINES = ("rest", "all", "cohort")

At = Callable[[int], BitMap]
"""A set of users as of an instant (epoch ms)."""


def uses_user_properties(expr: ast.Expr, resolve: Callable[[str], ast.Expr | None]) -> bool:
    """Whether ``expr`` (through saved cohorts it references) has a ``user.`` condition."""
    stack, seen = [expr], set()
    while stack:
        for cond, _ in conditions(stack.pop()):
            if isinstance(cond, ast.UserProp | ast.HadUserProp):
                return True
            if isinstance(cond, ast.InCohort) and cond.name not in seen:
                seen.add(cond.name)
                target = resolve(cond.name)
                if target is not None:
                    stack.append(target)
    return False


def run_dates(start: int, end: int, every_ms: int, limit: int = 1000) -> list[int]:
    """``start, start + every, ...`` up to and including ``end``."""
    if every_ms <= 0:
        raise DefinitionError("every must be a positive duration")
    if end < start:
        raise DefinitionError("the backtest range ends before it starts")
    count = (end - start) // every_ms + 1
    if count > limit:
        raise DefinitionError(f"{count} backtest dates: at most {limit} (use a longer --every)")
    return [start + i * every_ms for i in range(count)]


def backtest_run(
    cohort: At,
    outcome: At,
    known: At,
    as_of: int,
    horizon: ast.Duration,
    baseline_kind: str = "rest",
    baseline: At | None = None,
    now: int | None = None,
    user_properties: bool = False,
) -> BacktestRun:
    """One backtest at ``as_of``; ``baseline`` is required for ``baseline_kind == "cohort"``."""
    if baseline_kind not in BASELINES:
        raise DefinitionError(f"baseline must be one of {', '.join(BASELINES)}, not {baseline_kind!r}")
    members = cohort(as_of)
    reached = outcome(as_of + horizon.ms)
    if baseline_kind == "rest":
        others = known(as_of) - members
    elif baseline_kind == "all":
        others = known(as_of)
    else:
        if baseline is None:
            raise DefinitionError("baseline 'cohort' needs a baseline cohort")
        others = baseline(as_of)
    mine = Group(len(members), members.intersection_cardinality(reached))
    theirs = Group(len(others), others.intersection_cardinality(reached))
    stats = two_proportions(mine.converted, mine.size, theirs.converted, theirs.size)
    warnings = []
    if user_properties:
        warnings.append(USER_PROPERTY_NOTE)
    if now is not None and as_of + horizon.ms > now:
        warnings.append("the outcome window has not ended yet: later conversions are not counted")
    return BacktestRun(
        as_of_ms=as_of,
        horizon=f"{horizon.value}{horizon.unit}",
        cohort=mine,
        baseline=theirs,
        lift=stats.lift,
        difference=stats.difference,
        ci95=stats.ci95,
        p_value=stats.p_value,
        baseline_kind=baseline_kind,
        warnings=tuple(warnings),
    )
