"""Lifecycle shorthands as exact expansions into existing constructs (docs/cohort-language.md).

The tree keeps the shorthand as written (``stopped("E", 30d)`` prints back as
itself); evaluation, maintenance and the peers read :func:`expand`, so a
shorthand means exactly its expansion and needs no kernel or edge of its own.
"""

from __future__ import annotations

from cohortd.lang import ast as A

MAX_REGULAR_PERIODS = 10_000  # the largest N of ``regularly(E, P, K of N)``


def _times(d: A.Duration, k: int) -> A.Duration:
    return A.Duration(d.value * k, d.unit)


def expand(node: A.Shorthand) -> A.Expr:
    """The existing constructs a shorthand stands for."""
    e, d = node.event, node.period
    if isinstance(node, A.Stopped):
        before = A.Did(e, None, A.Ago(_times(d, 2), d))
        return A.And(before, A.Not(A.Did(e, None, A.Last(d))))
    if isinstance(node, A.Restarted):
        now = A.Did(e, None, A.Last(d))
        gap = A.Not(A.Did(e, None, A.Ago(_times(d, 2), d)))
        return A.And(A.And(now, gap), A.Not(A.FirstDid(e, A.Last(_times(d, 2)))))
    if isinstance(node, A.Regularly):
        return A.ActivePeriods(e, d, A.Compare(">=", node.times), A.Last(_times(d, node.periods)))
    raise TypeError(f"not a shorthand: {node!r}")


SHORTHANDS = (A.Stopped, A.Restarted, A.Regularly)
