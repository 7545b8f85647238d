"""Funnels: entry is a step-1 event in ``[from, to)``; step k is reached when some chain
e1 < e2 < ... < ek (strictly increasing times, as in ``sequence``) has
``ek - e1 <= window`` and ``ek`` before the as-of time.

Per step: users reached, conversion from the previous step and from entry,
and the median and p90 of each user's time to convert (the shortest
``ek - e1`` over that user's chains, nearest-rank percentiles; None for the
first step).  A user counts once however many times they entered.  One kernel
call gives every entrant's per-step times; populations and splits are masks
over those rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cohortd.analysis.results import Funnel, FunnelGroup, FunnelSplit, FunnelStep, rate
from cohortd.analysis.scope import end_at
from cohortd.engine.evaluate import Evaluation
from cohortd.errors import DefinitionError
from cohortd.lang import ast

MAX_STEPS = 32
MAX_SPLIT_GROUPS = 50


def entrant_times(
    ev: Evaluation, steps: Sequence[ast.EventRef], start: int, end: int, window_ms: int
) -> tuple[np.ndarray, np.ndarray]:
    """(entrant user ids, their per-step shortest conversion times, -1 = not reached)."""
    if not 1 <= len(steps) <= MAX_STEPS:
        raise DefinitionError(f"a funnel has 1 to {MAX_STEPS} steps, got {len(steps)}")
    if start >= end:
        raise DefinitionError("the entry range is empty (from must be before to)")
    entry_end = end_at(end, ev.as_of)
    parts = []
    for j, step in enumerate(steps):
        p = ev.parts(step, start, entry_end if j == 0 else ev.as_of)
        parts.append((p.users, p.times))
    return ev.kernel.funnel(parts, start, entry_end, ev.as_of, window_ms, ev.n_users)


def nearest_rank(values: np.ndarray, num: int, den: int) -> int | None:
    """The value at rank ceil(num/den * n) (1-based) of the values in ascending order."""
    n = len(values)
    if n == 0:
        return None
    rank = max(1, -(-num * n // den))
    return int(np.partition(values, rank - 1)[rank - 1])


def summarise(labels: Sequence[str], times: np.ndarray) -> list[FunnelStep]:
    """Per-step rows of one group of entrants (``times``: entrants x steps)."""
    out = []
    entered = int(times.shape[0])
    previous = entered
    for j, label in enumerate(labels):
        reached = times[:, j][times[:, j] >= 0]
        users = len(reached)
        first = j == 0
        out.append(
            FunnelStep(
                event=label,
                users=users,
                from_previous=rate(users, previous),
                from_entry=rate(users, entered),
                median_ms=None if first else nearest_rank(reached, 1, 2),
                p90_ms=None if first else nearest_rank(reached, 9, 10),
            )
        )
        previous = users
    return out


@dataclass
class FunnelParts:
    """A funnel before it is summarised: every entrant's step times, whole and per split group.

    The rows of two disjoint sets of users concatenate into the rows of their
    union (``merge``), so a cluster's shards' parts give the one-process funnel,
    medians and p90s included.  Property groups are kept whole here; the 50
    largest are picked (the rest pooled as ``(other)``) when summarised.
    """

    labels: list[str]
    times: np.ndarray
    as_of_ms: int
    split_by: str | None = None  # "cohort" or "user.<property>"
    groups: list[tuple[str, np.ndarray]] = field(default_factory=list)

    @staticmethod
    def merge(parts: Sequence[FunnelParts]) -> FunnelParts:
        first = parts[0]
        groups: dict[str, list[np.ndarray]] = {}
        for p in parts:
            for label, rows in p.groups:
                groups.setdefault(label, []).append(rows)
        merged = [(label, np.concatenate(rows)) for label, rows in groups.items()]
        times = np.concatenate([p.times for p in parts])
        return FunnelParts(first.labels, times, first.as_of_ms, first.split_by, merged)

    def summary(self) -> Funnel:
        split = None
        if self.split_by == "cohort":
            split = FunnelSplit("cohort", [FunnelGroup(g, summarise(self.labels, t)) for g, t in self.groups])
        elif self.split_by is not None:
            groups = [(g, t) for g, t in self.groups if len(t)]
            groups.sort(key=lambda g: (-len(g[1]), g[0]))
            if len(groups) > MAX_SPLIT_GROUPS:
                rest = np.concatenate([t for _, t in groups[MAX_SPLIT_GROUPS - 1 :]])
                groups = [*groups[: MAX_SPLIT_GROUPS - 1], ("(other)", rest)]
            split = FunnelSplit(self.split_by, [FunnelGroup(g, summarise(self.labels, t)) for g, t in groups])
        return Funnel(summarise(self.labels, self.times), split, self.as_of_ms)
