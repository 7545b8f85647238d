"""Questions about a project's saved cohorts and inline definitions.

Questions about "now" (``as_of=None``) on a saved, non-archived cohort are
answered from its materialised members (``engine/maintain.py``), one version
per answer, after folding in any batch already acknowledged (read-your-writes).
Results at an explicit as-of time go through the :class:`ResultCache`.
``last_evaluated_ms`` in the catalog records real evaluations (cache misses),
not every cache hit, at most once a second per cohort, to keep SQLite writes
off the hot path.  ``check_membership`` returns one row per user, one column
per cohort; Jaccard of two empty sets is 0.0.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pyroaring import BitMap

from cohortd.engine.engine import CohortResult, Engine
from cohortd.engine.maintain import ChangeSet, Maintainer
from cohortd.errors import CohortError, InvalidArgumentError
from cohortd.lang.ast import Accounts, Expr
from cohortd.service.cache import ResultCache
from cohortd.service.membership import BatchPlan, SerializedMembers
from cohortd.service.registry import Registry
from cohortd.storage.catalog import Catalog
from cohortd.times import Instant, parse_as_of, wall_ms
from cohortd.types import Change, Overlap

log = logging.getLogger("cohortd.service")

if TYPE_CHECKING:
    from cohortd.analysis.know import KnowYourData

__all__ = ["AsOf", "Queries", "TOUCH_INTERVAL_MS"]

TOUCH_INTERVAL_MS = 1_000
"""How often a cohort's last-evaluated time is written to the catalog at most."""

MAX_BATCH_PLANS = 256
"""Lists of cohorts whose membership plans are kept (past that the cache starts over)."""

AsOf = Instant | None


def _kind(expr: Expr) -> str:
    """What a cohort's members are: users, or accounts of one group type."""
    return f"accounts({expr.group})" if isinstance(expr, Accounts) else "users"


class Queries:
    """The read side of :class:`~cohortd.service.project.Project` (evaluate, members, overlap, ...)."""

    engine: Engine
    catalog: Catalog
    registry: Registry
    maintainer: Maintainer
    know: KnowYourData
    _clock: Callable[[], int]

    def _init_queries(self) -> None:
        self._cache = ResultCache()
        self._touched: dict[str, int] = {}
        self._serialized = SerializedMembers()
        self._plans: dict[tuple[str, ...], BatchPlan] = {}
        self.reads_to_stamp: set[str] = set()
        """Cohorts read without waiting whose read stamps are due for writing (``write_read_stamps``)."""
        self._stamps_queued = False

    # ------------------------------------------------------------ saved
    def _evaluate_saved(
        self, name: str, as_of: AsOf = None, kernel: str | None = None, viewed: bool = True
    ) -> CohortResult:
        if viewed and name in self.registry:  # a user read (not lint, audit or maintenance)
            self.know.viewed(name)
        ms = parse_as_of(as_of)
        if ms is None and kernel is None:
            current = self.maintainer.current(name)
            if current is not None:
                self._touch(name, current.as_of_ms)
                return CohortResult(current.members, current.as_of_ms, self.engine, current.version)
        closure = self.registry.closure(name)
        dv = self.engine.data_version
        ms = self._clock() if ms is None else ms
        result, computed = self._cache.get_or_compute(
            (name, closure, dv, ms, kernel),
            dv,
            lambda: self.engine.evaluate(
                self.registry.expr(name), as_of=ms, kernel=kernel, resolve=self.registry.resolve
            ),
        )
        if computed:
            self._touch(name, wall_ms())
        return result

    def forget_results(self) -> None:
        """Drop every cached result (after a rename or delete changes what names mean)."""
        self._cache.clear()
        self._serialized.clear()
        self._plans.clear()

    def _touch(self, name: str, ms: int) -> None:
        """Record the last evaluation, at most once a second per cohort (keeps SQLite off the hot path)."""
        if self._touch_due(name, ms):
            self._touched[name] = ms
            self.catalog.touch_evaluated(name, ms)

    def _touch_due(self, name: str, ms: int) -> bool:
        return ms - self._touched.get(name, -TOUCH_INTERVAL_MS) >= TOUCH_INTERVAL_MS

    # ------------------------------------------------------------- changes
    def changes(self, cohorts: Sequence[str], after_version: int, upto: int | None = None) -> list[Change]:
        """Entries and exits of saved cohorts after ``after_version`` (up to ``upto``), oldest first."""
        for c in cohorts:
            self.registry.expr(c)  # NOT_FOUND for unknown names
        return self.external_changes(cohorts, self.maintainer.changes(cohorts, after_version, upto))

    def external_changes(self, cohorts: Sequence[str], raw: Sequence[ChangeSet]) -> list[Change]:
        """The maintainer's change sets of saved ``cohorts`` with external user ids (NOT_FOUND
        for a cohort no longer saved): a Watch reads the log once and decodes where it fits."""
        for c in cohorts:
            self.registry.expr(c)
        return [self._external(c) for c in raw]

    def watch(
        self,
        cohorts: Sequence[str],
        after_version: int | None = None,
        stop: threading.Event | None = None,
        poll_s: float = 0.5,
    ) -> Iterator[Change]:
        """Every change of ``cohorts`` after ``after_version`` (None: from now on), as it happens.

        Runs until ``stop`` is set; raises ``ResyncRequired`` when the change log no
        longer reaches back to the version (the caller must re-read members).
        """
        for c in cohorts:
            self.registry.expr(c)
        version = self.maintainer.version if after_version is None else after_version
        while stop is None or not stop.is_set():
            for change in self.maintainer.changes(cohorts, version):
                version = change.version
                yield self._external(change)
            self.maintainer.wait(version, poll_s)

    def _external(self, c: ChangeSet) -> Change:
        return Change(
            c.cohort,
            c.version,
            c.time_ms,
            self.engine.external_ids(c.entered),
            self.engine.external_ids(c.exited),
        )

    # ------------------------------------------------------------ evaluate
    def evaluate(
        self,
        name: str | None = None,
        definition: str | Expr | None = None,
        as_of: AsOf = None,
        kernel: str | None = None,
    ) -> Any:
        """Evaluate a saved cohort (cached) or an inline definition; returns the engine's result."""
        if (name is None) == (definition is None):
            raise InvalidArgumentError("give exactly one of a saved cohort name or a definition")
        if name is not None:
            return self._evaluate_saved(name, as_of, kernel)
        expr = self.engine.definition(definition)
        self.registry.check_refs(expr, None)
        ms = parse_as_of(as_of)
        return self.engine.evaluate(
            expr, as_of=self._clock() if ms is None else ms, kernel=kernel, resolve=self.registry.resolve
        )

    def members(
        self, name: str | None = None, definition: str | Expr | None = None, as_of: AsOf = None
    ) -> list[str]:
        """External ids of the members, sorted (a stable order for paging)."""
        return self.evaluate(name, definition, as_of).members()

    def _bitmaps(self, cohorts: Sequence[str], as_of: AsOf) -> tuple[list[BitMap], int]:
        ms = parse_as_of(as_of)
        if ms is None and all(self.maintainer.membership(c) is not None for c in cohorts):
            # "now" is each cohort's maintained members, as evaluate and check_membership answer it
            now = [self._evaluate_saved(c) for c in cohorts]
            return [r.bitmap for r in now], max(r.as_of_ms for r in now)
        if ms is None:
            ms = self._clock()  # an archived cohort is evaluated: one instant for every cohort
        results = [self._evaluate_saved(c, ms) for c in cohorts]
        return [r.bitmap for r in results], ms

    # ---------------------------------------------------------- membership
    def is_member(self, user_id: str, cohort: str, as_of: AsOf = None) -> bool:
        """Whether the user is in the saved cohort at the as-of time (unknown users are in none)."""
        result = self._evaluate_saved(cohort, as_of)
        (entity,) = self.engine.entity_ids(self.registry.expr(cohort), [user_id])  # an account's key
        dense = self.engine.dense_id(entity)
        return dense is not None and dense in result.bitmap

    def check_membership(
        self, user_ids: Sequence[str], cohorts: Sequence[str], as_of: AsOf = None
    ) -> list[list[bool]]:
        """Membership matrix: one row per user, one column per cohort."""
        return self.membership_matrix(user_ids, cohorts, as_of).tolist()

    def membership_matrix(
        self, user_ids: Sequence[str], cohorts: Sequence[str], as_of: AsOf = None
    ) -> np.ndarray:
        """``check_membership`` as a bool array: one id lookup per user, one native call per batch."""
        ms = parse_as_of(as_of)
        if ms is None and any(self.maintainer.membership(c) is None for c in cohorts):
            ms = self._clock()  # an archived cohort is evaluated: one instant for all of them
        members = [self._evaluate_saved(c, ms).bitmap for c in cohorts]
        return self._plan(cohorts, members).matrix(user_ids, self._dense)  # not kept: as-of bitmaps

    # ------------------------------------------- membership without waiting
    def is_member_now(self, user_id: str, cohort: str) -> bool | None:
        """``is_member`` now, or None when answering would wait (see ``_members_now``)."""
        members = self._members_now((cohort,))
        if members is None:
            return None
        self._stamp_reads((cohort,), self._clock())
        (entity,) = self.engine.entity_ids(self.registry.expr(cohort), [user_id])
        dense = self.engine.dense_id(entity)
        return dense is not None and dense in members[0]

    def membership_matrix_now(self, user_ids: Sequence[str], cohorts: Sequence[str]) -> np.ndarray | None:
        """``membership_matrix`` now, or None when answering would wait (see ``_members_now``).

        A list of cohorts asked before reuses its :class:`BatchPlan` while it is current, so a
        repeated batch costs an identity check per cohort before the one native call.
        """
        ms = self._clock()
        plan = self._plans.get(tuple(cohorts))
        if plan is None or not plan.current(self.maintainer.cohorts) or not self.maintainer.settled():
            members = self._members_now(cohorts)
            if members is None:
                return None
            plan = self._plan(cohorts, members)
            if len(self._plans) >= MAX_BATCH_PLANS:
                self._plans.clear()
            self._plans[plan.names] = plan
        if ms >= plan.quiet_until:
            plan.quiet_until = self._stamp_reads(plan.names, ms)
        else:
            self.know.stats.viewed_in_memory(plan.names, ms)
        return plan.matrix(user_ids, self._dense)

    def _plan(self, cohorts: Sequence[str], members: list[BitMap]) -> BatchPlan:
        kinds: dict[str, tuple[Expr, list[int]]] = {}
        for j, cohort in enumerate(cohorts):
            expr = self.registry.expr(cohort)
            kinds.setdefault(_kind(expr), (expr, []))[1].append(j)
        return BatchPlan(
            names=tuple(cohorts),
            tracked=tuple(self.maintainer.cohorts.get(c) for c in cohorts),
            members=tuple(members),
            forms=tuple(self._serialized.get(c, m) for c, m in zip(cohorts, members, strict=True)),
            kinds=tuple((expr, tuple(cols)) for expr, cols in kinds.values()),
        )

    def _members_now(self, cohorts: Sequence[str]) -> list[BitMap] | None:
        """The maintained members of saved cohorts when getting them waits for nothing: no
        batch left to fold in (that takes the maintenance lock).  None sends the caller to the
        waiting path, which also gives the errors (unknown, broken or archived cohorts).
        """
        maintainer, registry = self.maintainer, self.registry
        if not maintainer.settled():
            return None
        members = []
        for name in cohorts:
            m = maintainer.membership(name)
            if m is None or name not in registry or name in registry.broken:
                return None
            members.append(m.members)
        return members

    def _stamp_reads(self, cohorts: Sequence[str], ms: int) -> int:
        """Stamp reads of maintained cohorts as ``_evaluate_saved`` does, in memory; a stamp due
        for SQLite is left in ``reads_to_stamp`` for :meth:`write_read_stamps` (on a worker).
        Returns the wall time before which no stamp of these cohorts is due again."""
        stats, maintainer = self.know.stats, self.maintainer
        quiet = ms + TOUCH_INTERVAL_MS
        for name in cohorts:
            m = maintainer.membership(name)
            if stats.view_write_due(name, ms) or (m is not None and self._touch_due(name, m.as_of_ms)):
                self.reads_to_stamp.add(name)  # not due again here: the worker writes it
                continue
            stats.viewed(name, ms)
            quiet = min(quiet, stats.next_view_write_ms(name))
            if m is not None:  # the touch is due by the members' as-of time, which trails the clock
                touch = self._touched.get(name, -TOUCH_INTERVAL_MS) + TOUCH_INTERVAL_MS
                quiet = min(quiet, ms + max(0, touch - m.as_of_ms))
        return quiet

    def stamps_to_queue(self) -> bool:
        """Whether a worker should be sent to :meth:`write_read_stamps`: stamps are due and no
        worker is queued for them yet (until one runs, every read finds the same stamps due, and
        a worker per read would cost more than the read)."""
        if not self.reads_to_stamp or self._stamps_queued:
            return False
        self._stamps_queued = True
        return True

    def write_read_stamps(self) -> None:
        """Write the read stamps the non-waiting answers left due (on a worker, never the event loop)."""
        self._stamps_queued = False  # first: a stamp due from now on queues another worker
        while self.reads_to_stamp:
            try:
                name = self.reads_to_stamp.pop()
            except KeyError:  # another worker took the last one
                return
            m = self.maintainer.membership(name)
            try:
                self.know.viewed(name)
                if m is not None:
                    self._touch(name, m.as_of_ms)
            except CohortError as exc:  # e.g. deleted meanwhile: the stamp has nothing left to mark
                log.debug("read stamp of %r not written: %s", name, exc)

    def _dense(self, expr: Expr | None, user_ids: Sequence[str]) -> np.ndarray:
        """Dense ids of the members a cohort of ``expr``'s kind would have (-1: never seen)."""
        if isinstance(expr, Accounts):
            return self.engine.dense_ids(self.engine.entity_ids(expr, user_ids))
        return self.engine.dense_ids(user_ids)

    def user_cohorts(self, user_id: str, as_of: AsOf = None) -> list[str]:
        """Names (sorted) of every non-archived saved cohort the user is in."""
        dense = self.engine.dense_id(str(user_id))
        if dense is None:
            return []
        return [n for n in self.registry.live_names() if dense in self._evaluate_saved(n, as_of).bitmap]

    def overlap(self, cohorts: Sequence[str], as_of: AsOf = None) -> Overlap:
        """Sizes, pairwise intersection sizes and Jaccard of saved cohorts at one as-of time."""
        if not cohorts:
            raise InvalidArgumentError("overlap needs at least one cohort")
        kinds = {_kind(self.registry.expr(c)) for c in cohorts}
        if len(kinds) > 1:
            raise InvalidArgumentError(
                f"overlap compares cohorts of one kind; these mix {', '.join(sorted(kinds))}"
            )
        bitmaps, ms = self._bitmaps(cohorts, as_of)
        sizes = [len(b) for b in bitmaps]
        n = len(bitmaps)
        # one intersection per pair (the matrix is symmetric, its diagonal the sizes); Jaccard from those
        inter = [[0] * n for _ in range(n)]
        for i in range(n):
            inter[i][i] = sizes[i]
            for j in range(i + 1, n):
                inter[i][j] = inter[j][i] = bitmaps[i].intersection_cardinality(bitmaps[j])
        union = [[sizes[i] + sizes[j] - inter[i][j] for j in range(n)] for i in range(n)]
        jac = [[inter[i][j] / union[i][j] if union[i][j] else 0.0 for j in range(n)] for i in range(n)]
        return Overlap(list(cohorts), sizes, inter, jac, ms)

    def explain(
        self, name: str | None = None, definition: str | Expr | None = None, as_of: AsOf = None
    ) -> list[Any]:
        """The plan with each step's size and time (engine ``PlanStep`` objects)."""
        if (name is None) == (definition is None):
            raise InvalidArgumentError("give exactly one of a saved cohort name or a definition")
        expr = self.registry.expr(name) if name is not None else self.engine.definition(definition)
        self.registry.check_refs(expr, None)
        ms = parse_as_of(as_of)
        return self.engine.explain(
            expr, as_of=self._clock() if ms is None else ms, resolve=self.registry.resolve
        )
