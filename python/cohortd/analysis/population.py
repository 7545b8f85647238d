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

Work per step follows what changed: every node of the tree keeps its current
membership and, moving to the next point, recomputes only the users whose
inputs moved (rows that crossed a window edge, users first seen since the
previous point, users a child node flipped).  Each point carries ``entered``
and ``exited``: users in it and not in the previous point, and the reverse
(0 at the first point).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cohortd.engine.evaluate import MIN_TIME, Evaluation, compare, window_bounds
from cohortd.engine.kernels import get_kernel
from cohortd.errors import DefinitionError, NotFoundError
from cohortd.lang import ast
from cohortd.times import iso_ms

__all__ = ["MAX_POINTS", "Point", "Population", "population", "step_points"]

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


class _Node:
    """One node of the tree, stepped through the points in order; ``mask`` is its membership now.

    ``step(i)`` moves the node to point ``i`` and returns the users whose
    membership flipped, so work per step follows what changed, not the
    number of users.  Shared subtrees (memoised by value) step once per point.
    """

    def __init__(self, series: _Series) -> None:
        self.series = series
        self.mask = np.zeros(series.n, bool)
        self._at = -1
        self._flipped = np.empty(0, np.int64)

    def step(self, i: int) -> np.ndarray:
        if i != self._at:
            self._at = i
            self._flipped = self._step(i)
        return self._flipped

    def _step(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def _update(self, ids: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Set ``mask[ids] = new``; the ids that changed."""
        flipped = ids[new != self.mask[ids]]
        self.mask[flipped] = ~self.mask[flipped]
        return flipped


class _Combine(_Node):
    """``and`` / ``or`` / ``not``: recomputed only where a child flipped (and, for ``not``, new users)."""

    def __init__(self, series: _Series, op: str, children: list[_Node]) -> None:
        super().__init__(series)
        self.op, self.children = op, children

    def _step(self, i: int) -> np.ndarray:
        parts = [c.step(i) for c in self.children]
        if self.op == "not":
            parts.append(self.series.newly_known(i))
        ids = _union(parts)
        if self.op == "and":
            new = self.children[0].mask[ids] & self.children[1].mask[ids]
        elif self.op == "or":
            new = self.children[0].mask[ids] | self.children[1].mask[ids]
        else:
            new = self.series.known_at(ids, i) & ~self.children[0].mask[ids]
        return self._update(ids, new)


class _Count(_Node):
    """``did(E) OP n <window>`` whose comparison rejects 0, for every point from one sort of E's rows.

    Row ``r`` is counted at point ``i`` iff ``lo_i <= time_r < hi_i``, i.e. for
    ``enter_r <= i < leave_r`` (both found by binary search in the points'
    edges, which only move forward).  A +1 at ``enter`` and a -1 at ``leave``
    per row, summed per (user, point) and accumulated per user, give every
    user's count wherever it changes; a membership flip is where the
    comparison's answer changes.  A count > 0 implies the user is known, so
    no known-users test is needed (zero-accepting comparisons are negated and
    wrapped in ``not`` by the builder).
    """

    def __init__(self, series: _Series, event: ast.EventRef, window: ast.Window, accept: Any) -> None:
        super().__init__(series)
        zone = series.evaluation(len(series.points) - 1).zone
        bounds = [window_bounds(window, t, zone) for t in series.points]
        his = np.array([hi for _, hi in bounds], np.int64)
        los = np.array([min(max(lo, MIN_TIME), hi) for lo, hi in bounds], np.int64)
        parts = series.evaluation(len(series.points) - 1).parts(event, int(los.min()), int(his.max()))
        users = np.concatenate(parts.users).astype(np.int64) if parts.users else np.empty(0, np.int64)
        times = np.concatenate(parts.times) if parts.times else np.empty(0, np.int64)
        enter = np.searchsorted(his, times, "right")
        leave = np.searchsorted(los, times, "right")
        keep = enter < leave
        users, enter, leave = users[keep], enter[keep], leave[keep]
        steps = len(series.points)
        u = np.concatenate((users, users))
        at = np.concatenate((enter, leave))
        delta = np.concatenate((np.ones(len(users), np.int64), -np.ones(len(users), np.int64)))
        key = u * (steps + 1) + at
        order = np.argsort(key, kind="stable")
        key, delta = key[order], delta[order]
        first = (
            np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1]))) if len(key) else np.empty(0, int)
        )
        net = np.add.reduceat(delta, first) if len(first) else np.empty(0, np.int64)
        key = key[first]
        who, when = key // (steps + 1), key % (steps + 1)
        running = np.cumsum(net)
        starts = np.concatenate(([True], who[1:] != who[:-1])) if len(who) else np.empty(0, bool)
        group_start = np.maximum.accumulate(np.where(starts, np.arange(len(who)), 0)) if len(who) else who
        count = running - (running - net)[group_start]  # the running sum within each user
        state = accept(count)
        before = np.concatenate(([False], state[:-1])) if len(state) else state
        before = np.where(starts, False, before)
        flip = (state != before) & (when < steps)
        who, when = who[flip], when[flip]
        by_step = np.argsort(when, kind="stable")
        self._who = who[by_step]
        self._edges = np.searchsorted(when[by_step], np.arange(steps + 1), "left")

    def _step(self, i: int) -> np.ndarray:
        flipped = self._who[self._edges[i] : self._edges[i + 1]]
        self.mask[flipped] = ~self.mask[flipped]
        return flipped


class _Evaluated(_Node):
    """Any other condition: evaluated by the engine at each point (a percentile needs every user)."""

    def __init__(self, series: _Series, expr: ast.Expr) -> None:
        super().__init__(series)
        self.expr = expr

    def _step(self, i: int) -> np.ndarray:
        bitmap = self.series.evaluation(i).run(self.expr)
        new = np.zeros(self.series.n, bool)
        new[np.asarray(bitmap.to_array(), dtype=np.int64)] = True
        ids = np.flatnonzero(new != self.mask)
        self.mask = new
        return ids


def _union(parts: list[np.ndarray]) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.empty(0, np.int64)
    return np.unique(np.concatenate(parts).astype(np.int64, copy=False))


class _Series:
    """One snapshot, the points, and the tree as stepped nodes."""

    def __init__(self, engine: Any, points: list[int], resolve: Any, kernel: str | None) -> None:
        self.engine = engine
        self.store = engine.store
        self.snap = self.store.snapshot()
        self.points = points
        self.resolve = resolve
        self.kernel = get_kernel(kernel or engine.kernel)
        self.first_seen = self.snap.first_seen
        self.n = len(self.first_seen)
        self._evaluations: dict[int, Evaluation] = {}
        self._nodes: dict[ast.Expr, _Node] = {}
        self._stack: list[str] = []
        self._by_first_seen: tuple[np.ndarray, np.ndarray] | None = None

    def node(self, expr: ast.Expr) -> _Node:
        found = self._nodes.get(expr)
        if found is None:
            found = self._nodes[expr] = self._build(expr)
        return found

    def _build(self, expr: ast.Expr) -> _Node:
        if isinstance(expr, ast.And):
            return _Combine(self, "and", [self.node(expr.left), self.node(expr.right)])
        if isinstance(expr, ast.Or):
            return _Combine(self, "or", [self.node(expr.left), self.node(expr.right)])
        if isinstance(expr, ast.Not):
            return _Combine(self, "not", [self.node(expr.item)])
        if isinstance(expr, ast.InCohort):
            return self._in_cohort(expr.name)
        if isinstance(expr, ast.Did):
            cmp = expr.cmp
            if compare(np.zeros(1, np.int64), cmp)[0]:  # e.g. did(E) < 3: known and not did(E) >= 3
                inner = _Count(self, expr.event, expr.window, lambda c: ~compare(c, cmp))
                return _Combine(self, "not", [inner])
            return _Count(self, expr.event, expr.window, lambda c: compare(c, cmp))
        return _Evaluated(self, expr)

    def _in_cohort(self, name: str) -> _Node:
        if name in self._stack:
            raise DefinitionError("in_cohort reference cycle: " + " -> ".join([*self._stack, name]))
        target = self.resolve(name) if self.resolve is not None else None
        if target is None:
            raise NotFoundError(f"in_cohort({name!r}): no saved cohort with that name")
        self._stack.append(name)
        try:
            return self._build(target)
        finally:
            self._stack.pop()

    def evaluation(self, i: int) -> Evaluation:
        ev = self._evaluations.get(i)
        if ev is None:
            self._evaluations = {}  # points are visited in order: keep one
            ev = Evaluation(self.store, self.snap, self.points[i], self.kernel, self.resolve)
            self._evaluations[i] = ev
        return ev

    # ------------------------------------------------------- known users
    def known_at(self, ids: np.ndarray, i: int) -> np.ndarray:
        return self.first_seen[ids] < self.points[i]

    def newly_known(self, i: int) -> np.ndarray:
        """Users whose first event is in ``[points[i-1], points[i])`` (before ``points[0]`` for i = 0)."""
        if self._by_first_seen is None:
            order = np.argsort(self.first_seen, kind="stable")
            self._by_first_seen = (order, self.first_seen[order])
        order, sorted_times = self._by_first_seen
        lo = 0 if i == 0 else int(np.searchsorted(sorted_times, self.points[i - 1], "left"))
        hi = int(np.searchsorted(sorted_times, self.points[i], "left"))
        return order[lo:hi]


def population(
    engine: Any,
    cohort: str,
    expr: ast.Expr,
    points: list[int],
    resolve: Any = None,
    kernel: str | None = None,
) -> Population:
    """Size (and entered/exited) of ``expr`` at each as-of time of ``points`` (ascending)."""
    if any(b < a for a, b in zip(points, points[1:], strict=False)):
        raise DefinitionError("population points must be in ascending order")
    if not points:
        return Population(cohort, [])
    series = _Series(engine, points, resolve, kernel)
    root = series.node(expr)
    out = []
    size = 0
    for i, t in enumerate(points):
        flipped = root.step(i)
        entered = int(np.count_nonzero(root.mask[flipped]))
        exited = len(flipped) - entered
        size += entered - exited
        out.append(Point(t, size, entered if i else 0, exited if i else 0))
    return Population(cohort, out)
