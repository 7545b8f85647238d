"""Retention: each user's start is their first start event in ``[from, to)``; period k is
``[s + k*P, s + (k+1)*P)``.

"On period k": share of users with a return event in period k; "unbounded":
in period k or any later time before the as-of time.  A user counts in period
k only once that period is over (``s + (k+1)*P <= T``), otherwise they leave
that period's denominator.  A return event exactly at ``s`` is in period 0 (so
with the same start and return event, period 0 is 100%).  The work is two
kernel calls per curve (``first_in_window``, ``retention_curve``) over the
sorted segment parts.
"""

from __future__ import annotations

import numpy as np

from cohortd.analysis.results import RetentionCurve, RetentionPoint
from cohortd.analysis.scope import NONE, end_at, only
from cohortd.engine.evaluate import Evaluation
from cohortd.errors import DefinitionError
from cohortd.lang import ast

MAX_PERIODS = 1000


def starts(ev: Evaluation, start_event: ast.EventRef, start: int, end: int) -> np.ndarray:
    """Each user's first start event in ``[start, min(end, T))`` (NONE when none)."""
    end = end_at(end, ev.as_of)
    p = ev.parts(start_event, start, end)
    return ev.kernel.first_in_window(p.users, p.times, start, end, ev.n_users)


def curves(
    ev: Evaluation,
    start_event: ast.EventRef,
    return_event: ast.EventRef,
    start: int,
    end: int,
    period: ast.Duration,
    periods: int,
    groups: list[np.ndarray | None],
    unbounded: bool = False,
) -> list[RetentionCurve]:
    """One curve per group mask (None: every user with a start)."""
    if not 1 <= periods <= MAX_PERIODS:
        raise DefinitionError(f"periods must be between 1 and {MAX_PERIODS}, got {periods}")
    if start >= end:
        raise DefinitionError("the start range is empty (from must be before to)")
    first = starts(ev, start_event, start, end)
    back = ev.parts(return_event, start, ev.as_of)
    out = []
    for keep in groups:
        s = only(first, keep)
        users, retained, retained_unbounded = ev.kernel.retention_curve(
            s, back.users, back.times, ev.as_of, period.ms, periods
        )
        counts = retained_unbounded if unbounded else retained
        points = [RetentionPoint(k, int(users[k]), int(counts[k])) for k in range(periods)]
        out.append(RetentionCurve(int(np.count_nonzero(s != NONE)), points))
    return out
