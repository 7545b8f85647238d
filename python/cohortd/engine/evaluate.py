"""Cohort tree → user bitmap at an as-of time.

Each condition becomes one kernel call over the parts of the segments it can
touch (pruned by event type through the type index and by time through
min/max bounds), yielding a dense per-user array that is compared and turned
into a roaring bitmap.  ``did(E) >= k`` (k >= 1) and sum/avg/min/max aggregates,
active days / periods (>= 1), ``first did`` / ``nth did`` of an event type and
sequences, which only select users with rows, take a sparse path instead when they
touch fewer rows than there are users: the kernels return the sorted ids of the users
with rows (and their figures), so work and memory follow the rows touched.
``and``/``or``/``not`` are bitmap operations; ``not`` is the complement within
the users known at ``T`` (first event before ``T``).  The operands of ``and`` run
in order of their bound on members (rows in the indexes), so the next ones are
evaluated for the first one's members only.
Equal conditions are evaluated once per evaluation (memoised by tree value).
"""

from __future__ import annotations

import math
import operator
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
from pyroaring import BitMap

from cohortd._native import rows_of_users
from cohortd.engine import cancel
from cohortd.engine.filters import ValueLookups, arrow_column, filter_mask, predicate_mask
from cohortd.engine.kernels import holds
from cohortd.engine.kernels.part_list import PartListLike
from cohortd.engine.user_history import had_mask, values_as_of
from cohortd.errors import DefinitionError
from cohortd.lang import ast, walk
from cohortd.lang.shorthand import SHORTHANDS
from cohortd.lang.shorthand import expand as expand_shorthand
from cohortd.storage.segment import Segment, TypeRange, bitmap_from_ids
from cohortd.storage.store import EventStore, Snapshot
from cohortd.times import (
    DAY_MS,
    MIN_TIME,
    UTC_ZONE,
    add_calendar,
    calendar_start,
    local_day_numbers,
    months_before,
)
from cohortd.types import PlanStep

Resolver = Callable[[str], "ast.Expr | None"]


@dataclass
class Parts:
    """Aligned per-part arrays selected for one event reference and window."""

    users: list[np.ndarray] = field(default_factory=list)
    times: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)


def window_bounds(window: ast.Window, as_of: int, zone: str = UTC_ZONE) -> tuple[int, int]:
    """Half-open ``[start, end)`` in epoch ms, cut at the as-of time (calendar windows in ``zone``)."""
    if isinstance(window, ast.Ever):
        return MIN_TIME, as_of
    if isinstance(window, ast.Last):
        return as_of - window.duration.ms, as_of
    if isinstance(window, ast.Ago):
        return as_of - window.start.ms, as_of - window.end.ms
    if isinstance(window, ast.Dates):
        return window.start_ms, min(window.end_ms, as_of)
    if isinstance(window, ast.Since):
        return window.start_ms, as_of
    if isinstance(window, ast.ThisPeriod):
        return calendar_start(as_of, window.unit, zone), as_of
    if isinstance(window, ast.LastCalendar):
        current = calendar_start(as_of, window.unit, zone)
        return add_calendar(current, window.unit, -window.count, zone), current
    if isinstance(window, ast.LastSpan):
        months = window.count * (12 if window.unit == "year" else 1)
        return months_before(as_of, months, zone), as_of
    raise TypeError(f"not a window: {window!r}")


def threshold(cmp: ast.Comparison | None) -> tuple[str, float, float]:
    """A comparison as the kernels' ``(op, lo, hi)`` (``cohortd.engine.kernels.holds``)."""
    if cmp is None:
        return (">=", 1, 0)
    if isinstance(cmp, ast.Range):
        return ("between", cmp.lo, cmp.hi)
    return (cmp.op, cmp.value, 0)


def compare(values: np.ndarray, cmp: ast.Comparison | None) -> np.ndarray:
    """Mask of ``values`` satisfying a comparison (None: at least one)."""
    return holds(values, *threshold(cmp))


def needs_a_row(cmp: ast.Comparison | None) -> bool:
    """Whether a count comparison is false at 0 (so only users with rows can satisfy it)."""
    return not bool(compare(np.zeros(1, np.uint32), cmp)[0])


def any_row(cmp: ast.Comparison | None) -> bool:
    """Whether a count comparison holds exactly for the counts >= 1 (``did(E)``, ``>= 1``, ``> 0``)."""
    if cmp is None:
        return True
    if isinstance(cmp, ast.Range):
        return False
    return (
        (cmp.op == ">=" and 0 < cmp.value <= 1)
        or (cmp.op == ">" and 0 <= cmp.value < 1)
        or (cmp.op == "!=" and cmp.value == 0)
    )


_NO_BOUND = 2**63 - 1


def count_bounds(cmp: ast.Comparison | None) -> tuple[int, int]:
    """The inclusive count range ``[lo, hi]`` (``lo >= 1``) of a per-period comparison that rejects 0."""
    if cmp is None:
        return 1, _NO_BOUND
    if isinstance(cmp, ast.Range):
        return int(math.ceil(cmp.lo)), int(math.floor(cmp.hi))
    v = cmp.value
    if cmp.op == ">=":
        return int(math.ceil(v)), _NO_BOUND
    if cmp.op == ">":
        return int(math.floor(v)) + 1, _NO_BOUND
    if cmp.op == "==":
        return int(v), int(v)
    if cmp.op == "!=" and v == 0:
        return 1, _NO_BOUND
    raise DefinitionError(f"a per-period count must reject 0, got {cmp.op} {v}")


def percentile_threshold_rank(percent: float, n: int) -> int:
    """``ceil(P/100 * N)`` computed exactly on the decimal value of P."""
    return math.ceil(Fraction(repr(float(percent))) * n / 100)


class Evaluation:
    """State of one evaluation at one as-of time: snapshot, kernel, memo, plan."""

    def __init__(
        self,
        store: EventStore,
        snap: Snapshot,
        as_of: int,
        kernel: ModuleType,
        resolve: Resolver | None = None,
        explain: bool = False,
        restrict: UserSubset | None = None,
        known: tuple[np.ndarray, BitMap] | None = None,
    ) -> None:
        self.store = store
        self.snap = snap
        self.as_of = as_of
        self.zone = store.time_zone  # the project's, for calendar windows and active_days
        self.kernel = kernel
        self.resolve = resolve
        self.n_users = len(snap.first_seen)
        self.known_mask = snap.first_seen < as_of if known is None else known[0]
        # ``restrict`` evaluates only some users: every condition but a percentile
        # depends on a user's own events alone, which is what lets incremental
        # maintenance re-evaluate just the users that changed.
        self.restrict = restrict
        if restrict is not None:
            self._known_ids = restrict.ids[restrict.ids < self.n_users]
            self._known_ids = self._known_ids[snap.first_seen[self._known_ids] < as_of]
            self.known = bitmap_from_ids(self._known_ids)
        elif known is not None:
            self.known = known[1]
        else:
            self.known = bitmap_from_ids(np.flatnonzero(self.known_mask))
        self.lookups = _value_lookups(store)
        self.memo: dict[Any, BitMap] = {}
        self.cohort_stack: list[str] = []
        self.steps: list[PlanStep] | None = [] if explain else None
        self.top_thresholds: Mapping[ast.Top, float] | None = None
        """Percentile thresholds fixed from outside (a cluster's global ``q``, ``cohortd.cluster``)."""
        self._condition_bytes = 0
        self._depth = 0

    # ------------------------------------------------------------- algebra
    def run(self, expr: ast.Expr) -> BitMap:
        cached = self.memo.get(expr)
        if cached is not None and self.steps is None:
            return cached
        cancel.check()  # between kernel calls: a call whose client gave up stops here
        started = time.perf_counter()
        slot = None
        if self.steps is not None:
            slot = len(self.steps)
            self.steps.append(PlanStep(_text(expr), 0, 0.0, self._depth))
        self._depth += 1
        self._condition_bytes = 0  # kernel input gathered for the condition being evaluated
        try:
            result = cached if cached is not None else self._run(expr)
        finally:
            self._depth -= 1
        self.memo[expr] = result
        if self.steps is not None and slot is not None:
            self.steps[slot] = PlanStep(
                self.steps[slot].text,
                len(result),
                (time.perf_counter() - started) * 1000,
                self.steps[slot].depth,
            )
        return result

    def _run(self, expr: ast.Expr) -> BitMap:
        if isinstance(expr, ast.And):
            return self._and(expr)
        if isinstance(expr, ast.Or):  # a chain in a loop: hundreds of terms need no recursion
            return BitMap.union(*(self.run(item) for item in ast.chain(expr)))
        if isinstance(expr, ast.Not):
            return self.known - self.run(expr.item)
        if isinstance(expr, ast.InCohort):
            return self._in_cohort(expr.name)
        if isinstance(expr, ast.UserProp):
            if self.restrict is not None:  # the users asked about only, not a mask over everyone
                return bitmap_from_ids(self._known_ids[self._user_prop(expr.predicate, self._known_ids)])
            return self._mask_to_bitmap(self._user_prop(expr.predicate))
        if isinstance(expr, ast.HadUserProp):
            start, end = window_bounds(expr.window, self.as_of, self.zone)
            return self._mask_to_bitmap(
                had_mask(self.store, expr.predicate, start, end, self.n_users, self.lookups)
            )
        if isinstance(expr, ast.Sequence):
            return self._sequence(expr)
        if isinstance(expr, SHORTHANDS):  # exactly its expansion (cohortd.lang.shorthand)
            return self.run(expand_shorthand(expr))
        if isinstance(expr, ast.Accounts):
            return self._accounts(expr)
        if isinstance(expr, ast.Top):
            return self._top_members(expr)
        sparse = self._sparse_condition(expr)
        if sparse is not None:
            return sparse
        return self._mask_to_bitmap(self.condition_mask(expr))

    #: a condition that only selects users with rows runs the sparse kernels when the rows it
    #: touches x SPARSE_RATIO are fewer than the users (work and memory follow the rows then)
    SPARSE_RATIO = 1

    def _sparse_condition(self, cond: ast.Expr) -> BitMap | None:
        """Members of ``did(E) >= k`` (k >= 1) or an aggregate from the users with rows alone.

        Returns None for the conditions it does not handle; a touched-rows count that does not
        pay for it runs the dense kernel on the parts already gathered.
        """
        k, T, n = self.kernel, self.as_of, self.n_users
        if isinstance(cond, ast.Did) and needs_a_row(cond.cmp):
            start, end = window_bounds(cond.window, T, self.zone)
            if self.RANGE_USERS and self.restrict is None and cond.event.filter is None and any_row(cond.cmp):
                return self._users_with_rows(cond.event, start, end)
            listed = self._listed(cond.event, start, end)
            if listed is not None:
                return self.known & bitmap_from_ids(listed.count_members(start, end, *threshold(cond.cmp)))
            p = self.parts(cond.event, start, end)
            if not self._sparse_pays(p):
                return self._mask_to_bitmap(compare(k.count(p.users, p.times, start, end, n), cond.cmp))
            ids, counts = k.count_sparse(p.users, p.times, start, end)
            return self.known & bitmap_from_ids(ids[compare(counts, cond.cmp)])
        local_days = isinstance(cond, ast.ActiveDays) and self.zone != UTC_ZONE  # see active_days
        if isinstance(cond, ast.ActiveDays | ast.ActivePeriods) and needs_a_row(cond.cmp) and not local_days:
            start, end = window_bounds(cond.window, T, self.zone)
            origin, period = (0, DAY_MS) if isinstance(cond, ast.ActiveDays) else (T, cond.period.ms)
            p = self.parts(cond.event, start, end)
            if not self._sparse_pays(p):
                return self._mask_to_bitmap(
                    compare(k.distinct_buckets(p.users, p.times, start, end, origin, period, n), cond.cmp)
                )
            ids, counts = k.distinct_buckets_sparse(p.users, p.times, start, end, origin, period)
            return self.known & bitmap_from_ids(ids[compare(counts, cond.cmp)])
        if isinstance(cond, ast.FirstDid | ast.NthDid) and not _is_any(cond.event):
            start, end = window_bounds(cond.window, T, self.zone)
            p = self.parts(cond.event, MIN_TIME, T)
            nth = cond.n if isinstance(cond, ast.NthDid) else 1
            if not self._sparse_pays(p):
                times = (
                    k.first_time(p.users, p.times, T, n)
                    if nth == 1
                    else k.nth_time(p.users, p.times, T, nth, n)
                )
                return self._mask_to_bitmap((times >= start) & (times < end))
            ids, times = k.nth_time_sparse(p.users, p.times, T, nth)
            return self.known & bitmap_from_ids(ids[(times >= start) & (times < end)])
        if isinstance(cond, ast.Aggregate) and cond.func in ("sum", "avg", "min", "max"):
            start, end = window_bounds(cond.window, T, self.zone)
            listed = self._listed(cond.event, start, end, cond.prop)
            if listed is not None:
                members = listed.aggregate_members(start, end, cond.func, *threshold(cond.cmp))
                return self.known & bitmap_from_ids(members)
            p = self.parts(cond.event, start, end, value_prop=cond.prop)
            if not self._sparse_pays(p):
                metric = self.aggregate_metric(cond.func, cond.prop, cond.event, start, end, p)
                return self._mask_to_bitmap(compare_metric(metric, cond.cmp))
            func = "sum" if cond.func == "avg" else cond.func
            ids, values, counts = k.aggregate_sparse(p.users, p.times, p.values, start, end, func)
            if cond.func == "avg":
                values = values / counts
            return self.known & bitmap_from_ids(ids[compare(values, cond.cmp)])
        return None

    #: ``did(E) in W`` (at least one row) reads the users of the index's type ranges (whole
    #: segments for ``any``) that lie inside the window instead of scanning their rows
    RANGE_USERS = True

    def _users_with_rows(self, event: ast.EventRef, start: int, end: int) -> BitMap:
        """Known users with a row of ``event`` (no filter) in ``[start, end)``.

        A type range (a segment, for ``any``) whose times lie inside the window contributes
        the user bitmap its index already holds; only the type ranges the window cuts are
        scanned (sorted by user: the sparse count folds them without a sort).
        """
        if start >= end:
            return BitMap()
        type_id = None
        if event.event_type is not None:
            type_id = self.store.types.get(event.event_type)
            if type_id is None:
                return BitMap()
        whole: list[BitMap] = []
        cut = Parts()
        for seg in self._overlapping(start, end):
            if type_id is None and start <= seg.min_time and seg.max_time < end:
                whole.append(segment_users(seg))  # one bitmap for the segment's type ranges
                continue
            for r in _type_ranges(seg, type_id, start, end):
                if start <= r.min_time and r.max_time < end:
                    whole.append(r.users)
                else:
                    cut.users.append(seg.users[r.start : r.end])
                    cut.times.append(seg.times[r.start : r.end])
        if cut.users:
            k = self.kernel
            if self._sparse_pays(cut):
                ids, _ = k.count_sparse(cut.users, cut.times, start, end)
                whole.append(bitmap_from_ids(ids))
            else:
                whole.append(k.users_in_window(cut.users, cut.times, start, end, self.n_users))
        return self.known & BitMap.union(*whole) if whole else BitMap()

    #: selective conditions over an event type without a filter read its part list (``part_list``)
    PART_LISTS = True

    def _listed(
        self, event: ast.EventRef, start: int, end: int, value_prop: str | None = None
    ) -> PartListLike | None:
        """The part list of ``event`` when the rows its window touches pay for the sparse path."""
        if not self.PART_LISTS:
            return None
        listed = self.part_list(event, value_prop)
        if listed is None:
            return None
        rows = listed.rows(start, end)
        if rows * self.SPARSE_RATIO >= self.n_users:
            return None
        self._condition_bytes += rows * (12 if value_prop is None else 20)
        cancel.check_memory(self._condition_bytes, "one condition")
        return listed

    def _sparse_pays(self, *parts: Parts) -> bool:
        return sum(len(u) for p in parts for u in p.users) * self.SPARSE_RATIO < self.n_users

    #: ``a and b`` evaluates ``b`` only for a's members when a holds under 1/NARROW_RATIO of all users
    NARROW_RATIO = 32

    def _and(self, expr: ast.And) -> BitMap:
        items = ast.chain(expr)  # a loop over the chain, like ``or``
        if self.steps is None:  # explain lists the conditions as written
            # Cost-based order: the operand with the fewest possible members first, so the
            # next ones are narrowed to its members (``_and_step``); ``and`` commutes.
            items = sorted(items, key=self.members_bound)
        first, *rest = items
        result = self.run(first)
        for right in rest:
            result = self._and_step(result, right)
        return result

    def _and_step(self, left: BitMap, right: ast.Expr) -> BitMap:
        narrow = (
            self.restrict is None
            and self.steps is None  # explain shows every condition over every user
            and len(left) * self.NARROW_RATIO < self.n_users
            and self._per_user(right)
        )
        if not narrow:
            return left & self.run(right)
        if isinstance(right, ast.UserProp):
            # a user property of a few candidates: a lookup by id in its column, no sub-evaluation
            ids = np.asarray(left.to_array(), dtype=np.uint32)
            ids = ids[ids < self.n_users]
            ids = ids[self.known_mask[ids]]  # as the sub-evaluation's known users would be
            return bitmap_from_ids(ids[self._user_prop(right.predicate, ids)])
        # Membership outside percentiles is decided user by user (see ``restrict``), so the
        # right side only needs the left side's members: binary searches instead of scans.
        sub = Evaluation(
            self.store,
            self.snap,
            self.as_of,
            self.kernel,
            self.resolve,
            restrict=UserSubset(np.asarray(left.to_array(), dtype=np.uint32)),
            known=(self.known_mask, self.known),  # not a pass over every user's first-seen time again
        )
        sub.lookups = self.lookups  # value lookup tables built once per evaluation
        sub.cohort_stack = list(self.cohort_stack)
        return left & sub.run(right)

    def members_bound(self, expr: ast.Expr) -> int:
        """An upper bound of the members of ``expr``, from row counts in the indexes alone (no scan).

        A condition that needs a row of its event has at most that many members (and at most
        the rows its window can touch); anything else is bounded by the number of users.
        """
        T, n = self.as_of, self.n_users
        if isinstance(expr, ast.And):
            return min(self.members_bound(item) for item in ast.chain(expr))
        if isinstance(expr, ast.Or):
            return min(n, sum(self.members_bound(item) for item in ast.chain(expr)))
        if isinstance(expr, ast.Sequence):
            start, end = window_bounds(expr.window, T, self.zone)
            return min(self._rows_bound(step, start, end) for step in expr.steps)
        needs_row = (
            (isinstance(expr, ast.Did) and needs_a_row(expr.cmp))
            or (isinstance(expr, ast.Aggregate) and expr.func != "distinct")
            or (isinstance(expr, ast.ActiveDays | ast.ActivePeriods) and needs_a_row(expr.cmp))
            or isinstance(expr, ast.DidOnPeriods)  # at least one period with at least one row
        )
        if needs_row:
            start, end = window_bounds(expr.window, T, self.zone)  # type: ignore[union-attr]
            return self._rows_bound(expr.event, start, end)  # type: ignore[union-attr]
        if isinstance(expr, ast.FirstDid | ast.NthDid):
            start, end = window_bounds(expr.window, T, self.zone)
            return self._rows_bound(expr.event, MIN_TIME, T) if start < end else 0
        if isinstance(expr, ast.DidWithinOfFirst):  # needs an anchor event
            return self._rows_bound(expr.anchor, MIN_TIME, T)
        return n

    def _rows_bound(self, event: ast.EventRef, start: int, end: int) -> int:
        """Rows of ``event``'s type ranges (whole segments for ``any``) overlapping ``[start, end)``."""
        if start >= end:
            return 0
        type_id = None
        if event.event_type is not None:
            type_id = self.store.types.get(event.event_type)
            if type_id is None:
                return 0
        return min(self.n_users, sum(e - s for _, s, e in self._ranges(type_id, start, end)))

    def _per_user(self, expr: ast.Expr) -> bool:
        """Whether ``expr`` (through in_cohort references) has no percentile, which needs every user."""
        return not any(isinstance(leaf, ast.Top) for leaf in walk.expand(expr, self.resolve))

    def _mask_to_bitmap(self, mask: np.ndarray) -> BitMap:
        if self.restrict is not None:  # gather the few users asked about, not a pass over everyone
            return bitmap_from_ids(self._known_ids[mask[self._known_ids]])
        return self.kernel.mask_to_bitmap(mask, self.known_mask)

    def _in_cohort(self, name: str) -> BitMap:
        if name in self.cohort_stack:
            cycle = " -> ".join([*self.cohort_stack, name])
            raise DefinitionError(f"in_cohort reference cycle: {cycle}")
        target = self.resolve(name) if self.resolve is not None else None
        if target is None:
            from cohortd.errors import NotFoundError

            raise NotFoundError(f"in_cohort({name!r}): no saved cohort with that name")
        self.cohort_stack.append(name)
        try:
            return self.run(target)
        finally:
            self.cohort_stack.pop()

    # ------------------------------------------------------------ accounts
    def _accounts(self, expr: ast.Accounts) -> BitMap:
        """Accounts (group dense ids) of one type meeting ``expr.expr`` at ``T``.

        Known accounts are those with a member user known at ``T`` whose membership began
        before ``T``; ``count of users who X`` counts those members in X (user-level, all
        users); ``not`` is the complement within the known accounts.
        """
        if self._depth > 1:
            raise DefinitionError(
                f"accounts({expr.group}) is a cohort of accounts, not users: it cannot be used "
                "inside another definition (in_cohort)"
            )
        if self.restrict is not None:
            raise ValueError("an account cohort depends on every member: it cannot be evaluated for a subset")
        users, groups = self.store.group_members(expr.group, self.as_of, self.n_users)
        member = self.known_mask[users]
        users, groups = users[member], groups[member]
        known = bitmap_from_ids(np.unique(groups))
        return self._account_expr(expr.expr, users, groups, known)

    def _account_expr(self, node: ast.Expr, users: np.ndarray, groups: np.ndarray, known: BitMap) -> BitMap:
        if isinstance(node, ast.And | ast.Or):
            parts = [self._account_expr(item, users, groups, known) for item in ast.chain(node)]
            return BitMap.intersection(*parts) if isinstance(node, ast.And) else BitMap.union(*parts)
        if isinstance(node, ast.Not):
            return known - self._account_expr(node.item, users, groups, known)
        if isinstance(node, ast.UserCount):
            inside = np.zeros(self.n_users, bool)
            inside[np.asarray(self.run(node.cohort).to_array(), dtype=np.int64)] = True
            counts = np.bincount(groups[inside[users]], minlength=self.n_users)
            return bitmap_from_ids(np.flatnonzero(compare(counts, node.cmp))) & known
        if isinstance(node, ast.AccountProp):
            pred = node.predicate
            col = self.store.group_props.get(pred.prop, self.n_users)
            values, valid = col if col is not None else (None, None)
            kind = self.store.group_schema.get(pred.prop)
            mask = predicate_mask(pred, values, valid, kind, self.n_users, self.lookups)
            return bitmap_from_ids(np.flatnonzero(mask)) & known
        raise DefinitionError(f"not an account condition: {_text(node)}")

    # ---------------------------------------------------------- conditions
    def condition_mask(self, cond: ast.Expr) -> np.ndarray:
        """Dense boolean mask (over all user ids) of a leaf condition, before ``known``."""
        k, n, T = self.kernel, self.n_users, self.as_of
        if isinstance(cond, ast.Did):
            start, end = window_bounds(cond.window, T, self.zone)
            p = self.parts(cond.event, start, end)
            return compare(k.count(p.users, p.times, start, end, n), cond.cmp)
        if isinstance(cond, ast.Aggregate):
            start, end = window_bounds(cond.window, T, self.zone)
            return compare_metric(
                self.aggregate_metric(cond.func, cond.prop, cond.event, start, end), cond.cmp
            )
        if isinstance(cond, ast.ActiveDays):
            start, end = window_bounds(cond.window, T, self.zone)
            return compare(self.active_days(cond.event, start, end), cond.cmp)
        if isinstance(cond, ast.ActivePeriods):
            start, end = window_bounds(cond.window, T, self.zone)
            p = self.parts(cond.event, start, end)
            return compare(k.distinct_buckets(p.users, p.times, start, end, T, cond.period.ms, n), cond.cmp)
        if isinstance(cond, ast.FirstDid):
            start, end = window_bounds(cond.window, T, self.zone)
            # ``any``: the store's first event times as they are (a window ends at T at the latest)
            first = self.snap.first_seen if _is_any(cond.event) else self._first_times(cond.event)
            return (first >= start) & (first < end)
        if isinstance(cond, ast.NthDid):
            return self._nth_did(cond)
        if isinstance(cond, ast.CountCompare):
            return self._count_compare(cond)
        if isinstance(cond, ast.DidOnPeriods):
            return self._did_on_periods(cond)
        if isinstance(cond, ast.DidWithinOfFirst):
            return self._did_within_of_first(cond)
        if isinstance(cond, ast.Top):
            return self._top(cond)
        raise TypeError(f"not a condition: {cond!r}")

    def active_days(self, event: ast.EventRef, start: int, end: int) -> np.ndarray:
        """Distinct calendar days (in the project time zone) with a matching event in ``[start, end)``."""
        k, n = self.kernel, self.n_users
        p = self.parts(event, start, end)
        if self.zone == UTC_ZONE:
            return k.distinct_buckets(p.users, p.times, start, end, 0, DAY_MS, n)
        users, days, lo, hi = self._local_days(p, start, end)
        return k.distinct_buckets(users, days, lo, hi, 0, DAY_MS, n)

    def _local_days(
        self, p: Parts, start: int, end: int
    ) -> tuple[list[np.ndarray], list[np.ndarray], int, int]:
        """The rows of ``p`` in ``[start, end)`` with times replaced by their local midnight (as if UTC),
        and bounds holding them: UTC-day bucketing of these is day bucketing in the project zone."""
        users, days = [], []
        for u, t in zip(p.users, p.times, strict=True):
            inside = (t >= start) & (t < end)
            users.append(u[inside])
            days.append(local_day_numbers(t[inside], self.zone) * DAY_MS)
        lo = min((int(d.min()) for d in days if len(d)), default=0)
        hi = max((int(d.max()) for d in days if len(d)), default=0) + DAY_MS
        return users, days, lo, hi

    def _nth_did(self, cond: ast.NthDid) -> np.ndarray:
        """Users whose ``n``-th matching event of all data before ``T`` falls in the window."""
        start, end = window_bounds(cond.window, self.as_of, self.zone)
        p = self.parts(cond.event, MIN_TIME, self.as_of)
        nth = self.kernel.nth_time(p.users, p.times, self.as_of, cond.n, self.n_users)
        return (nth >= start) & (nth < end)

    def _count_compare(self, cond: ast.CountCompare) -> np.ndarray:
        """``count_A OP factor * count_B`` per user over one window, in int64 (exact)."""
        start, end = window_bounds(cond.window, self.as_of, self.zone)
        k, n = self.kernel, self.n_users
        a, b = (self.parts(ref, start, end) for ref in (cond.left, cond.right))
        left = k.count(a.users, a.times, start, end, n).astype(np.int64)
        right = k.count(b.users, b.times, start, end, n).astype(np.int64) * cond.factor
        return compare(left - right, ast.Compare(cond.op, 0))

    def _did_on_periods(self, cond: ast.DidOnPeriods) -> np.ndarray:
        """At least ``periods`` days (as ``active_days``) or periods (as ``active_periods``) whose count
        satisfies ``cmp``."""
        T = self.as_of
        start, end = window_bounds(cond.window, T, self.zone)
        p = self.parts(cond.event, start, end)
        origin, period = (0, DAY_MS) if cond.period is None else (T, cond.period.ms)
        lo, hi = count_bounds(cond.cmp)
        users, times = p.users, p.times
        if cond.period is None and self.zone != UTC_ZONE:  # days of the project time zone
            users, times, start, end = self._local_days(p, start, end)
        reached = self.kernel.bucket_counts_reaching(
            users, times, start, end, origin, period, lo, hi, self.n_users
        )
        return reached >= cond.periods

    def _did_within_of_first(self, cond: ast.DidWithinOfFirst) -> np.ndarray:
        """Users whose first anchor event ``a`` is in the window, with E counted in ``[a, min(a + D, T))``."""
        k, n, T = self.kernel, self.n_users, self.as_of
        start, end = window_bounds(cond.window, T, self.zone)
        first = self._first_times(cond.anchor)
        anchored = (first >= start) & (first < end)
        starts = np.where(anchored, first, 0)
        ends = np.where(anchored, np.minimum(np.where(anchored, first, 0) + cond.within.ms, T), 0)
        p = self.parts(cond.event, start, T)
        counts = k.count_per_user_window(p.users, p.times, starts, ends, n)
        return anchored & compare(counts, cond.cmp)

    def _first_times(self, event: ast.EventRef) -> np.ndarray:
        """Each user's first matching event before ``T`` (``2**63 - 1`` when none)."""
        T = self.as_of
        if event.event_type is None and event.filter is None:
            # the store keeps every user's first event time: no scan needed
            return np.where(self.snap.first_seen < T, self.snap.first_seen, np.iinfo(np.int64).max)
        p = self.parts(event, MIN_TIME, T)
        return self.kernel.first_time(p.users, p.times, T, self.n_users)

    def aggregate_metric(
        self, func: str, prop: str, event: ast.EventRef, start: int, end: int, p: Parts | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(metric, has_value) per user for sum/avg/min/max/distinct of ``prop`` (``p``: its parts)."""
        k, n = self.kernel, self.n_users
        if func == "distinct":
            p = self.parts(event, start, end, value_prop=prop, as_int=True)
            counts = k.distinct(p.users, p.times, p.values, start, end, n)
            return counts, np.ones(n, bool)
        if p is None:
            p = self.parts(event, start, end, value_prop=prop)
        values, counts = k.aggregate(
            p.users, p.times, p.values, start, end, n, "sum" if func == "avg" else func
        )
        has = counts > 0
        if func == "avg":
            values = np.divide(values, counts, out=np.zeros(n), where=has)
        return values, has

    def _top_members(self, cond: ast.Top) -> BitMap:
        """Members of a percentile: for an integer metric (counts, active days) the threshold and
        the members come from one kernel call (a histogram and a pass), no masks in between."""
        metric = self._top_metric(cond)
        fixed = self.top_thresholds is not None and cond in self.top_thresholds
        if fixed or metric.dtype != np.uint32:
            return self._mask_to_bitmap(self._top(cond, metric))
        rank = percentile_threshold_rank(cond.percent, len(self.known))
        return self.kernel.top_members(metric, self.known_mask, rank)

    def _top(self, cond: ast.Top, metric: np.ndarray | None = None) -> np.ndarray:
        if metric is None:
            metric = self._top_metric(cond)
        if self.top_thresholds is not None and cond in self.top_thresholds:
            return self.known_mask & (metric > 0) & (metric >= self.top_thresholds[cond])
        return top_percent_mask(metric, self.known_mask, cond.percent, len(self.known))

    def top_metric(self, cond: ast.Top) -> np.ndarray:
        """The metric of a percentile condition for every user (float64)."""
        return self._top_metric(cond).astype(np.float64, copy=False)

    def _top_metric(self, cond: ast.Top) -> np.ndarray:
        """The metric for every user: counts and active days stay integers (their threshold is a
        histogram look-up, not a selection)."""
        if self.restrict is not None:
            raise ValueError("a percentile depends on every user: it cannot be evaluated for a subset")
        start, end = window_bounds(cond.window, self.as_of, self.zone)
        m = cond.metric
        k, n = self.kernel, self.n_users
        if isinstance(m, ast.MetricCount):
            p = self.parts(m.event, start, end)
            return k.count(p.users, p.times, start, end, n)
        if isinstance(m, ast.MetricActiveDays):
            return self.active_days(m.event, start, end)
        metric, _ = self.aggregate_metric("sum", m.prop, m.event, start, end)
        return metric

    def _sequence(self, cond: ast.Sequence) -> BitMap:
        start, end = window_bounds(cond.window, self.as_of, self.zone)
        parts = [self.parts(step, start, end) for step in cond.steps]
        steps = [(p.users, p.times) for p in parts]
        within = cond.within.ms if cond.within is not None else -1
        if self._sparse_pays(*parts):
            return self.known & bitmap_from_ids(self.kernel.sequence_sparse(steps, start, end, within))
        return self._mask_to_bitmap(
            np.asarray(self.kernel.sequence(steps, start, end, within, self.n_users), bool)
        )

    def _user_prop(self, pred: ast.Predicate, ids: np.ndarray | None = None) -> np.ndarray:
        """Mask of a user-property predicate over all users, or over ``ids`` (aligned with it)."""
        kind = self.store.user_schema.get(pred.prop)
        col = values_as_of(self.store, pred.prop, self.as_of, self.n_users)  # as they were at T
        values, valid = col if col is not None else (None, None)
        if ids is not None and values is not None and valid is not None:
            values, valid = values[ids], valid[ids]
        n = self.n_users if ids is None else len(ids)
        return predicate_mask(pred, values, valid, kind, n, self.lookups)

    # --------------------------------------------------------------- parts
    def parts(
        self, event: ast.EventRef, start: int, end: int, value_prop: str | None = None, as_int: bool = False
    ) -> Parts:
        """Rows of ``event`` in ``[start, end)``-overlapping segments, filtered, as kernel parts."""
        out = Parts()
        if start >= end:
            return out
        type_id = None
        if event.event_type is not None:
            type_id = self.store.types.get(event.event_type)
            if type_id is None:
                return out
        value_kind = self.store.schema.get(value_prop) if value_prop is not None else None
        for seg, s, e in self._ranges(type_id, start, end):
            picked = None if self.restrict is None else self.restrict.pick(seg, s, e)
            if picked is not None and len(picked[0]) == 0:
                continue
            piece = self._piece(seg, s, e, picked, event.filter, value_prop, value_kind, as_int)
            if piece is not None and len(piece[0]):
                users, times, values = piece
                out.users.append(users)
                out.times.append(times)
                if values is not None:
                    out.values.append(values)
                self._condition_bytes += len(users) * (12 if values is None else 20)
                cancel.check_memory(self._condition_bytes, "one condition")
        return out

    def _piece(
        self,
        seg: Segment,
        s: int,
        e: int,
        picked: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        where: ast.Filter | None,
        value_prop: str | None,
        value_kind: str | None,
        as_int: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """Users, times (and values) of rows ``[s, e)`` of ``seg`` (the ``picked`` rows, users and
        times of them) passing ``where`` and having a value of ``value_prop``; None when the
        segment has no such property."""
        rows, users, times = (None, seg.users[s:e], seg.times[s:e]) if picked is None else picked
        mask = None
        if where is not None:
            columns = _segment_columns(self.store, seg, s, e, rows)
            mask = filter_mask(where, columns, len(users), self.lookups)
        values = None
        if value_prop is not None:
            col = seg.prop(value_prop)
            if col is None or value_kind is None:
                return None
            piece = col.slice(s, e - s)
            if piece.null_count == 0 and not pa.types.is_boolean(piece.type):
                # every row has a value: a zero-copy view, no validity mask to apply
                values = _kernel_values(_take(piece.to_numpy(zero_copy_only=False), rows), value_kind, as_int)
            else:
                values, valid = arrow_column(piece)
                values = _kernel_values(_take(values, rows), value_kind, as_int)
                valid = _take(valid, rows)
                mask = valid if mask is None else mask & valid
        if mask is not None:
            users, times = users[mask], times[mask]
            if values is not None:
                values = values[mask]
        return users, times, values

    def part_list(self, event: ast.EventRef, value_prop: str | None = None) -> PartListLike | None:
        """The part list of an event type without a filter (values: float64 ``value_prop``), built once
        per set of segments and kept; None where it does not apply (``any``, a filter, a subset)."""
        if self.restrict is not None or event.filter is not None or event.event_type is None:
            return None
        type_id = self.store.types.get(event.event_type)
        if type_id is None:
            return None
        segments = self.snap.segments
        key = (type_id, value_prop, self.kernel.__name__)
        kept = _PART_LISTS.get(self.store)
        if kept is None or not _same_segments(kept[0], segments):
            # new segments: the lists of the old ones go (they would keep merged-away segments alive)
            kept = _PART_LISTS[self.store] = (segments, {})
        lists = kept[1]
        found = lists.get(key)
        if found is not None:
            return found
        value_kind = self.store.schema.get(value_prop) if value_prop is not None else None
        if value_prop is not None and value_kind in ("string", "bool"):
            return None  # the parts path raises the error
        found_pieces = (self._type_piece(seg, type_id, value_prop, value_kind) for seg in segments)
        pieces = [p for p in found_pieces if p is not None]
        made = self.kernel.part_list(
            [p[0] for p in pieces],
            [p[1] for p in pieces],
            [p[3] for p in pieces],
            [p[4] for p in pieces],
            None if value_prop is None else [p[2] for p in pieces],
        )
        lists[key] = made
        return made

    def _type_piece(self, seg: Segment, type_id: int, value_prop: str | None, value_kind: str | None) -> Any:
        """(users, times, values, min_time, max_time) of ``seg``'s range of ``type_id``, kept per segment."""
        cache = _SEGMENT_PIECES.setdefault(seg, {})
        key = (type_id, value_prop)
        if key in cache:
            return cache[key]
        r = seg.index.get(type_id)
        found = None
        if r is not None and r.end > r.start:
            piece = self._piece(seg, r.start, r.end, None, None, value_prop, value_kind, False)
            if piece is not None and len(piece[0]):
                found = (*piece, r.min_time, r.max_time)
        cache[key] = found
        return found

    def _ranges(self, type_id: int | None, start: int, end: int) -> Iterator[tuple[Segment, int, int]]:
        """Row ranges to scan: ``[start, end)`` of each type range overlapping the window."""
        for seg in self._overlapping(start, end):
            for r in _type_ranges(seg, type_id, start, end):
                yield seg, r.start, r.end

    def _overlapping(self, start: int, end: int) -> Iterator[Segment]:
        for seg in self.snap.segments:
            if seg.num_rows and seg.max_time >= start and seg.min_time < end:
                yield seg


class UserSubset:
    """The users an incremental evaluation is restricted to, and where their rows are.

    Shared by every cohort evaluated in one maintenance step, so the rows of a type
    range are looked up and gathered once.  A type range is sorted by user: the
    native ``rows_of_users`` gallops from one id to the next.
    """

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.uint32)  # sorted, unique
        self._picked: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def pick(self, seg: Segment, s: int, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Offsets (from ``s``), users and times of the rows in the type range ``[s, e)`` that
        belong to these users."""
        key = (seg.name, s, e)
        found = self._picked.get(key)
        if found is None:
            rows = rows_of_users(seg.users[s:e], self.ids)
            found = self._picked[key] = (rows, seg.users[s:e][rows], seg.times[s:e][rows])
        return found


_SEGMENT_USERS: weakref.WeakKeyDictionary[Segment, BitMap] = weakref.WeakKeyDictionary()

#: per store: the segments of the latest snapshot and its part lists by (type id, value property, kernel)
_PART_LISTS: weakref.WeakKeyDictionary[EventStore, tuple[tuple[Segment, ...], dict[Any, PartListLike]]] = (
    weakref.WeakKeyDictionary()
)
#: per segment and (type id, value property): its type range's part, or None (segments never change)
_SEGMENT_PIECES: weakref.WeakKeyDictionary[Segment, dict[Any, Any]] = weakref.WeakKeyDictionary()

_VALUE_LOOKUPS: weakref.WeakKeyDictionary[EventStore, ValueLookups] = weakref.WeakKeyDictionary()


def _value_lookups(store: EventStore) -> ValueLookups:
    """The store's string lookup tables, kept while its value dictionary is unchanged.

    ``as_arrow`` returns the same array until a value is added, so a table built by one
    evaluation (``user.plan == "free"``: a pass over every distinct value) serves the next.
    """
    values = store.values.as_arrow()
    kept = _VALUE_LOOKUPS.get(store)
    if kept is None or kept.values is not values or len(kept) > ValueLookups.KEEP:
        kept = _VALUE_LOOKUPS[store] = ValueLookups(values)
    return kept


def segment_users(seg: Segment) -> BitMap:
    """Every user with a row in ``seg`` (the union of its type ranges' users; segments never change)."""
    found = _SEGMENT_USERS.get(seg)
    if found is None:
        found = _SEGMENT_USERS[seg] = BitMap.union(*(r.users for r in seg.index.values()))
    return found


def _type_ranges(seg: Segment, type_id: int | None, start: int, end: int) -> Iterator[TypeRange]:
    """The event type's range of ``seg`` if it overlaps ``[start, end)``; for ``any``, each of its
    type ranges that does.  A type range is sorted by user (a whole segment is not), so sparse
    kernels fold it without a sort and a few users' rows are found in it by galloping."""
    for r in seg.index.values() if type_id is None else filter(None, [seg.index.get(type_id)]):
        if r.max_time >= start and r.min_time < end:
            yield r


def _same_segments(a: tuple[Segment, ...], b: tuple[Segment, ...]) -> bool:
    """Whether two snapshots hold the very same segment objects (a part list of one serves the other)."""
    return len(a) == len(b) and all(map(operator.is_, a, b))


def _is_any(event: ast.EventRef) -> bool:
    """``any`` without a filter: every user's first event time is kept by the store."""
    return event.event_type is None and event.filter is None


def _take(arr: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return arr if rows is None else arr[rows]


def compare_metric(metric: tuple[np.ndarray, np.ndarray], cmp: ast.Comparison) -> np.ndarray:
    values, has = metric
    return has & compare(values, cmp)


def top_percent_mask(
    metric: np.ndarray, known: np.ndarray, percent: float, n_known: int | None = None
) -> np.ndarray:
    """Users with ``M > 0`` and ``M >= q``, q the value at rank ceil(P/100*N) among known users.

    Only positive metrics can be members, so q is looked for among them alone: when the rank
    lies past them, q <= 0 and every positive user is a member.  ``n_known``: N when known.
    """
    n = int(np.count_nonzero(known)) if n_known is None else n_known
    rank = percentile_threshold_rank(percent, n)
    if n == 0 or rank == 0:
        return np.zeros(len(metric), bool)
    positive = known & (metric > 0)
    vals = metric[positive]
    if rank > len(vals):
        return positive
    return positive & (metric >= kth_largest(vals, rank))


def kth_largest(values: np.ndarray, k: int) -> Any:
    """The ``k``-th largest of ``values`` (1-based): a histogram for small non-negative integers,
    else a selection (never a sort)."""
    small = values.dtype.kind in "ui" and len(values) and int(values.min()) >= 0
    if small and int(values.max()) < 4 * len(values) + 1024:
        hist = np.bincount(values)
        above = np.cumsum(hist[::-1])  # above[j]: values >= len(hist) - 1 - j
        return len(hist) - 1 - int(np.searchsorted(above, k))
    return np.partition(values, len(values) - k)[len(values) - k]


def _kernel_values(values: np.ndarray, kind: str, as_int: bool) -> np.ndarray:
    if as_int:
        if kind == "float":
            v = np.where(values == 0, 0.0, values).astype(np.float64)  # -0.0 and 0.0 are one value
            return v.view(np.int64)
        return values.astype(np.int64, copy=False)
    if kind in ("string", "bool"):
        raise DefinitionError(f"cannot aggregate a {kind} property numerically")
    return values.astype(np.float64, copy=False)


def _segment_columns(
    store: EventStore, seg: Segment, s: int, e: int, rows: np.ndarray | None
) -> Callable[[str], Any]:
    def column(prop: str) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
        col = seg.prop(prop)
        if col is None:
            return None, None, None
        values, valid = arrow_column(col.slice(s, e - s))
        return _take(values, rows), _take(valid, rows), store.schema.get(prop)

    return column


def _text(expr: ast.Expr) -> str:
    from cohortd.lang import to_text

    return to_text(expr)
