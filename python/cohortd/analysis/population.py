"""Population over time: a cohort's size at each step of a range, each exactly as ``evaluate`` would give.

Why not N evaluations: a count condition ``did(E) OP n <window>`` is, at every
as-of time ``t``, ``C(hi(t)) - C(lo(t))`` where ``C(x)`` counts each user's
matching events before ``x``, and both window edges only move forward as ``t``
does (true of every window kind).  So one pass over ``E``'s rows sorted by
time, adding the rows that cross each edge, gives every step's counts: each
row is added at most twice, whatever the number of steps.  ``and``, ``or``,
``not`` combine per-step masks; any other condition (percentiles, sequences,
aggregates, ...) is evaluated at each step by the engine itself.  All steps
read one snapshot.

Each point carries ``entered`` and ``exited``: users in it and not in the
previous point, and the reverse (0 at the first point).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pyroaring import BitMap

from cohortd.engine.evaluate import MIN_TIME, Evaluation, compare, window_bounds
from cohortd.engine.kernels import get_kernel
from cohortd.engine.schema import iso_ms
from cohortd.errors import DefinitionError, NotFoundError
from cohortd.lang import ast

__all__ = ["MAX_POINTS", "Point", "Population", "population_masks", "step_points"]

MAX_POINTS = 10_000


@dataclass(frozen=True)
class Point:
    as_of_ms: int
    size: int
    entered: int
    exited: int


@dataclass(frozen=True)
class Population:
    cohort: str
    points: list[Point]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the contract: ``{cohort, points: [{as_of, size, entered, exited}]}``."""
        return {
            "cohort": self.cohort,
            "points": [
                {"as_of": iso_ms(p.as_of_ms), "size": p.size, "entered": p.entered, "exited": p.exited}
                for p in self.points
            ],
        }


def step_points(start_ms: int, end_ms: int, step_ms: int) -> list[int]:
    """``start, start + step, ...`` up to and including ``end``."""
    if step_ms <= 0:
        raise DefinitionError("--step must be a positive duration")
    if end_ms < start_ms:
        raise DefinitionError("--to is before --from")
    count = (end_ms - start_ms) // step_ms + 1
    if count > MAX_POINTS:
        raise DefinitionError(f"{count} points asked for; at most {MAX_POINTS} (use a longer --step)")
    return [start_ms + i * step_ms for i in range(count)]


class _Series:
    """Per-step boolean masks (over dense ids, within the users known at each step) of a tree."""

    def __init__(self, engine: Any, points: list[int], resolve: Any, kernel: str | None) -> None:
        self.engine = engine
        self.store = engine.store
        self.snap = self.store.snapshot()
        self.points = points
        self.resolve = resolve
        self.kernel = get_kernel(kernel or engine.kernel)
        self.n = len(self.snap.first_seen)
        self.known = [self.snap.first_seen < t for t in points]
        self._evaluations: dict[int, Evaluation] = {}
        self._stack: list[str] = []

    def masks(self, expr: ast.Expr) -> list[np.ndarray]:
        if isinstance(expr, ast.And):
            return [a & b for a, b in zip(self.masks(expr.left), self.masks(expr.right), strict=True)]
        if isinstance(expr, ast.Or):
            return [a | b for a, b in zip(self.masks(expr.left), self.masks(expr.right), strict=True)]
        if isinstance(expr, ast.Not):
            return [k & ~m for k, m in zip(self.known, self.masks(expr.item), strict=True)]
        if isinstance(expr, ast.InCohort):
            return self._in_cohort(expr.name)
        if isinstance(expr, ast.Did):
            return self._did(expr)
        return [self._mask(self._evaluation(i).run(expr)) for i in range(len(self.points))]

    def _in_cohort(self, name: str) -> list[np.ndarray]:
        if name in self._stack:
            raise DefinitionError("in_cohort reference cycle: " + " -> ".join([*self._stack, name]))
        target = self.resolve(name) if self.resolve is not None else None
        if target is None:
            raise NotFoundError(f"in_cohort({name!r}): no saved cohort with that name")
        self._stack.append(name)
        try:
            return self.masks(target)
        finally:
            self._stack.pop()

    def _evaluation(self, i: int) -> Evaluation:
        ev = self._evaluations.get(i)
        if ev is None:
            ev = Evaluation(self.store, self.snap, self.points[i], self.kernel, self.resolve)
            self._evaluations[i] = ev
        return ev

    def _mask(self, bitmap: BitMap) -> np.ndarray:
        mask = np.zeros(self.n, bool)
        mask[np.asarray(bitmap.to_array(), dtype=np.int64)] = True
        return mask

    def _did(self, cond: ast.Did) -> list[np.ndarray]:
        """One pass: both window edges sweep the event's rows in time order (module docstring)."""
        last = self.points[-1]
        parts = self._evaluation(len(self.points) - 1).parts(cond.event, MIN_TIME, last)
        users = np.concatenate(parts.users) if parts.users else np.empty(0, np.uint32)
        times = np.concatenate(parts.times) if parts.times else np.empty(0, np.int64)
        order = np.argsort(times, kind="stable")
        users, times = users[order].astype(np.int64), times[order]
        below_hi = np.zeros(self.n, np.int64)  # per user: rows before the upper edge
        below_lo = np.zeros(self.n, np.int64)  # ... before the lower edge
        at_hi = at_lo = 0
        out = []
        for t, known in zip(self.points, self.known, strict=True):
            lo, hi = window_bounds(cond.window, t)
            new_hi = int(np.searchsorted(times, hi, "left"))
            new_lo = int(np.searchsorted(times, max(lo, MIN_TIME), "left"))
            _add(below_hi, users[at_hi:new_hi])
            _add(below_lo, users[at_lo:new_lo])
            at_hi, at_lo = new_hi, new_lo
            counts = below_hi - below_lo if lo < hi else np.zeros(self.n, np.int64)
            out.append(compare(counts, cond.cmp) & known)
        return out


def _add(counts: np.ndarray, users: np.ndarray) -> None:
    """``counts[u] += 1`` for each row (a scatter for few rows, a bincount for many)."""
    if len(users) * 8 < len(counts):
        np.add.at(counts, users, 1)
    elif len(users):
        counts += np.bincount(users, minlength=len(counts))


def population_masks(
    engine: Any, expr: ast.Expr, points: list[int], resolve: Any = None, kernel: str | None = None
) -> list[np.ndarray]:
    """The members (boolean masks over dense ids) of ``expr`` at each of ``points`` (ascending)."""
    if not points:
        return []
    if any(b < a for a, b in zip(points, points[1:], strict=False)):
        raise DefinitionError("population points must be in ascending order")
    return _Series(engine, points, resolve, kernel).masks(expr)


def population(
    engine: Any,
    cohort: str,
    expr: ast.Expr,
    points: list[int],
    resolve: Any = None,
    kernel: str | None = None,
) -> Population:
    """Size (and entered/exited) of ``expr`` at each as-of time of ``points``."""
    out = []
    prev: np.ndarray | None = None
    for t, mask in zip(points, population_masks(engine, expr, points, resolve, kernel), strict=True):
        entered = exited = 0
        if prev is not None:
            entered = int(np.count_nonzero(mask & ~prev))
            exited = int(np.count_nonzero(prev & ~mask))
        out.append(Point(t, int(np.count_nonzero(mask)), entered, exited))
        prev = mask
    return Population(cohort, out)
