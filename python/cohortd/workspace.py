"""The service layer: projects, saved cohorts and queries over one data directory.

Both the gRPC servicer and the embedded CLI (``--data DIR``) call this, so the
meaning of every operation lives in one place and the transports only
translate.  Layout of a workspace directory::

    DIR/projects/<name>/events/          the project's Engine (WAL, segments, dictionaries)
    DIR/projects/<name>/catalog.sqlite   its saved cohorts and their history

Decisions:

- Project names match ``[A-Za-z0-9_-]{1,64}``; a project is created on first use.
- Definitions are saved as canonical text (``to_text(parse(text))``), so
  comments and layout are not kept; the history keeps every version.
- ``in_cohort("X")`` resolves through the catalog at the same as-of time.
  Referencing an unknown cohort or creating a reference cycle is rejected with
  ``DefinitionError`` at create/update time (and for inline definitions).
  Archived cohorts still resolve, so archiving never breaks a dependent.
- Every non-archived saved cohort is kept current by incremental maintenance
  (``engine/maintain.py``): questions about "now" (``as_of=None``) are answered
  from its materialised members, one version per answer, after folding in any
  batch already acknowledged (read-your-writes).  Results at an explicit as-of
  time are cached per (cohort name, versions of the cohort and every cohort it
  references, engine data version, as-of ms, kernel) in a bounded LRU that is
  cleared when the data version moves on.
- ``last_evaluated_ms`` in the catalog records real evaluations (cache
  misses), not every cache hit, to keep SQLite writes off the hot path.
- ``check_membership`` returns one row per user, one column per cohort.
- ``overlap`` about now uses each cohort's maintained members (no re-evaluation)
  when all of them are maintained, else evaluates every cohort at one instant.
- Jaccard of two empty sets is 0.0.
- A saved definition that no longer checks (an older server saved it, a limit
  was lowered) does not stop the project from opening: that cohort (and any
  that reference it) is *broken*, listed in ``Project.broken`` with the reason,
  answers ``BrokenCohortError`` when asked about, and works again once updated.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pyroaring import BitMap

from cohortd import governance
from cohortd.analysis.migration import MigrationMethods
from cohortd.analysis.service import AnalysisMethods
from cohortd.audiences.project import AudienceMethods
from cohortd.engine.engine import CohortResult
from cohortd.engine.lint import LintWarning, conditions, lint
from cohortd.engine.maintain import ChangeSet, Maintainer
from cohortd.errors import AlreadyExistsError, BrokenCohortError, CohortError, DefinitionError, NotFoundError
from cohortd.lang.ast import Expr, InCohort
from cohortd.storage.catalog import Catalog, CohortRecord, CohortVersion

__all__ = [
    "PERCENTILE_INTERVAL_MS",
    "InvalidArgumentError",
    "Overlap",
    "Project",
    "Workspace",
    "parse_as_of",
]

PERCENTILE_INTERVAL_MS = 10_000
"""How often percentile cohorts (which depend on every user) are fully recomputed."""

MAX_IN_COHORT_DEPTH = 32
"""Saved cohorts referencing each other through in_cohort nest at most this deep (docs/cohort-language.md)."""

TOUCH_INTERVAL_MS = 1_000
"""How often a cohort's last-evaluated time is written to the catalog at most."""

CACHE_ENTRIES = 512
"""Cached cohort results per project (LRU)."""

PROJECT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

log = logging.getLogger("cohortd.workspace")

AsOf = int | datetime | str | None


class InvalidArgumentError(CohortError, ValueError):
    """A request argument that is malformed (project name, as-of time, missing cohort/definition)."""


def _wall_ms() -> int:
    return int(time.time() * 1000)


def parse_as_of(as_of: AsOf) -> int | None:
    """``None`` (now), epoch ms, a datetime (naive = UTC) or an ISO-8601 string → epoch ms."""
    if as_of is None or isinstance(as_of, int) and not isinstance(as_of, bool):
        return as_of
    if isinstance(as_of, str):
        text = as_of.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            as_of = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidArgumentError(
                f"as-of time {as_of!r} is not ISO-8601 (e.g. 2026-01-31T12:00Z)"
            ) from exc
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        return int(as_of.timestamp() * 1000)
    raise InvalidArgumentError(f"as-of time must be epoch ms, a datetime or ISO-8601 text, not {as_of!r}")


@dataclass(frozen=True)
class Overlap:
    """Pairwise overlap of saved cohorts; matrices are indexed like ``names``."""

    names: list[str]
    sizes: list[int]
    intersections: list[list[int]]
    jaccard: list[list[float]]
    as_of_ms: int


@dataclass
class _Saved:
    version: int
    text: str
    archived: bool
    expr: Expr | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Change:
    """Users (external ids) that entered and exited one saved cohort at one version."""

    cohort: str
    version: int
    time_ms: int
    entered: list[str]
    exited: list[str]

    @property
    def time(self) -> datetime:
        """When the membership was evaluated (UTC)."""
        return datetime.fromtimestamp(self.time_ms / 1000, tz=UTC)


def _refs(expr: Expr) -> list[str]:
    return [c.name for c, _ in conditions(expr) if isinstance(c, InCohort)]


class Project(AudienceMethods, AnalysisMethods, MigrationMethods):
    """One project's engine, catalog and result cache; safe to call from many threads."""

    def __init__(
        self, directory: Path, name: str, clock: Callable[[], int] | None = None, deliver: bool = False
    ) -> None:
        from cohortd import Engine

        self.name = name
        self.directory = directory
        self._clock = clock or _wall_ms
        from cohortd.storage.files import make_dirs

        make_dirs(directory)  # each new directory fsync'd into its parent (survives a power loss)
        self.max_active_cohorts: int | None = None  # see cohortd.governance
        self.engine = Engine.open(directory / "events", clock=clock)
        try:
            self.catalog = Catalog(directory / "catalog.sqlite", clock=self._clock)
        except BaseException:
            self.engine.close()
            raise
        from cohortd.analysis.know import KnowYourData

        self.know = KnowYourData(self)  # schema, data lint, breakdowns, population, audit
        self._write_lock = threading.RLock()  # catalog mutations + their validation
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._cache_dv = -1
        self._key_locks: dict[tuple, threading.Lock] = {}
        self._touched: dict[str, int] = {}
        self._masks: dict[str, tuple[BitMap, np.ndarray]] = {}
        self._saved: dict[str, _Saved] = {
            r.name: _Saved(r.version, r.definition, r.archived)
            for r in self.catalog.list(include_archived=True)
        }
        self.broken: dict[str, str] = {}
        """Saved cohorts whose definition no longer checks → why (they are not evaluated)."""
        self.maintainer = Maintainer(
            self.engine, self._resolve, percentile_interval_ms=PERCENTILE_INTERVAL_MS
        )
        self._track_saved(self._dependencies_first(sorted(self._saved)))
        self.maintainer.start()
        from cohortd.audiences.delivery import AudienceService

        self.audiences = AudienceService(self, deliver)  # deliver: workers run (the server)

    def _dependencies_first(self, names: Sequence[str]) -> list[str]:
        """``names`` ordered so every cohort comes after those it references through in_cohort.

        Tracking in this order evaluates each cohort once at open: a cohort tracked
        before one it references would be evaluated again when that one is tracked,
        which made long chains quadratic.
        """
        order: list[str] = []
        placed: set[str] = set()
        for root in names:
            stack = [(root, False)]
            while stack:
                current, expanded = stack.pop()
                if current in placed:
                    continue
                if expanded:
                    placed.add(current)
                    order.append(current)
                    continue
                stack.append((current, True))
                try:
                    refs = _refs(self._saved_expr(current))
                except CohortError:  # broken: tracking reports it
                    refs = []
                stack.extend((r, False) for r in refs if r in self._saved and r not in placed)
                if len(stack) > 4 * len(self._saved) + 8:
                    break  # a cycle in an old catalog: tracking reports the cohorts concerned
        wanted = set(names)
        return [n for n in order if n in wanted] + [n for n in names if n not in placed]

    def _track_saved(self, names: Sequence[str]) -> None:
        """Track these live saved cohorts; one whose definition fails is marked broken, not fatal."""
        for cohort in names:
            if self._saved[cohort].archived:
                continue
            try:
                depth = self._ref_depth(cohort)
                if depth > MAX_IN_COHORT_DEPTH:
                    raise DefinitionError(f"in_cohort references nested {depth} deep: the limit is "
                                          f"{MAX_IN_COHORT_DEPTH} (MAX_IN_COHORT_DEPTH)")  # fmt: skip
                self.maintainer.track(cohort, self._saved_expr(cohort))
            except CohortError as exc:
                self.broken[cohort] = str(exc)
                log.warning("project %s: cohort %r is broken: %s", self.name, cohort, exc)

    # ------------------------------------------------------------- data in
    def ingest(self, table: Any) -> Any:
        """Append events (pyarrow table/batch or list of dicts); returns the engine's report."""
        return self.engine.ingest(table)

    def upsert_user_properties(self, table: Any) -> Any:
        """Set current user properties (``user_id`` + property columns)."""
        return self.engine.upsert_user_properties(table)

    # -------------------------------------------------------- definitions
    def _expr(self, definition: str | Expr) -> Expr:
        from cohortd.lang import as_expr

        return as_expr(definition)

    def _saved_expr(self, name: str) -> Expr:
        saved = self._saved.get(name)
        if saved is None:
            raise NotFoundError(f"no cohort named {name!r}")
        if name in self.broken:
            raise BrokenCohortError(f"cohort {name!r} is broken ({self.broken[name]}); update its definition")
        if saved.expr is None:
            try:
                saved.expr = self._expr(saved.text)
            except CohortError as exc:
                raise BrokenCohortError(f"the saved definition of {name!r} no longer checks: {exc}") from None
        return saved.expr

    def _resolve(self, name: str) -> Expr | None:
        try:
            return self._saved_expr(name)
        except NotFoundError:
            return None

    def _check_refs(self, expr: Expr, name: str | None) -> None:
        """Reject references to unknown cohorts and cycles through ``name``."""
        for ref in _refs(expr):
            if ref != name and ref not in self._saved:
                raise DefinitionError(f"in_cohort({ref!r}): no saved cohort has that name")
        depth = 1 + max((self._ref_depth(r) for r in _refs(expr) if r != name), default=0)
        if depth > MAX_IN_COHORT_DEPTH:
            raise DefinitionError(
                f"in_cohort references nested {depth} deep: "
                f"the limit is {MAX_IN_COHORT_DEPTH} (MAX_IN_COHORT_DEPTH)"
            )
        if name is None:
            return
        # depth-first search from the new definition's references back to ``name``
        stack: list[tuple[str, list[str]]] = [(r, [name, r]) for r in _refs(expr)]
        seen: set[str] = set()
        while stack:
            current, path = stack.pop()
            if current == name:
                raise DefinitionError("in_cohort reference cycle: " + " -> ".join(path))
            if current in seen:
                continue
            seen.add(current)
            for nxt in _refs(self._saved_expr(current)):
                stack.append((nxt, [*path, nxt]))

    def _ref_depth(self, name: str) -> int:
        """Levels of in_cohort below and including ``name`` (1: it references none), without recursion."""
        depths: dict[str, int] = {}
        stack = [(name, False)]
        while stack:
            current, expanded = stack.pop()
            if current in depths:
                continue
            refs = [r for r in _refs(self._saved_expr(current)) if r in self._saved]
            if expanded:
                depths[current] = 1 + max((depths.get(r, 0) for r in refs), default=0)
            else:
                stack.append((current, True))
                stack.extend((r, False) for r in refs if r not in depths)
                if len(stack) > 4 * MAX_IN_COHORT_DEPTH * max(1, len(self._saved)):
                    break  # a cycle in an old catalog: the cycle check reports it
        return depths.get(name, MAX_IN_COHORT_DEPTH + 1)

    def _closure(self, name: str) -> tuple[tuple[str, int], ...]:
        """(name, version) of ``name`` and every cohort it references, transitively."""
        out: dict[str, int] = {}
        stack = [name]
        while stack:
            current = stack.pop()
            if current in out:
                continue
            saved = self._saved.get(current)
            if saved is None:
                raise NotFoundError(f"no cohort named {current!r}")
            out[current] = saved.version
            stack.extend(_refs(self._saved_expr(current)))
        return tuple(sorted(out.items()))

    def _prepare(self, name: str, definition: str | Expr) -> tuple[Expr, str]:
        from cohortd.lang import to_text

        if not name or not name.strip() or name != name.strip():
            raise InvalidArgumentError("cohort names must be non-empty without leading or trailing spaces")
        expr = self.engine.definition(definition)
        self._check_refs(expr, name)
        return expr, to_text(expr)

    # ------------------------------------------------------------- catalog
    def create_cohort(
        self, name: str, definition: str | Expr, description: str = "", note: str = ""
    ) -> tuple[CohortRecord, list[LintWarning]]:
        """Validate, lint and save a new cohort; warnings never block the save."""
        with self._write_lock:
            if name in self._saved:
                raise AlreadyExistsError(f"a cohort named {name!r} already exists")
            expr, text = self._prepare(name, definition)
            warnings = self._lint(expr, name, exclude=name)
            governance.check_cap(self)
            rec = self.catalog.create(name, text, description, note, governance.author())
            self._saved[name] = _Saved(rec.version, rec.definition, rec.archived, expr)
            self.maintainer.track(name, expr)
        return rec, warnings

    def update_cohort(
        self,
        name: str,
        definition: str | Expr | None = None,
        description: str | None = None,
        note: str = "",
    ) -> tuple[CohortRecord, list[LintWarning]]:
        """Change definition and/or description (a new version); lints a new definition."""
        with self._write_lock:
            if name not in self._saved:
                raise NotFoundError(f"no cohort named {name!r}")
            warnings: list[LintWarning] = []
            text = None
            expr = None
            if definition is not None:
                expr, text = self._prepare(name, definition)
                warnings = self._lint(expr, name, exclude=name)
            rec = self.catalog.update(name, text, description, note, governance.author())
            self._saved[name] = _Saved(
                rec.version,
                rec.definition,
                rec.archived,
                expr if text is not None else self._saved[name].expr,
            )
            if expr is not None and name in self.broken:  # fixed: it and its dependents work again
                retry, self.broken = sorted(self.broken), {}
                self._track_saved(retry)
            elif expr is not None and not rec.archived:
                self.maintainer.track(name, expr)
        return rec, warnings

    def get_cohort(self, name: str) -> CohortRecord:
        """The saved cohort's current record."""
        return self.catalog.get(name)

    def list_cohorts(self, include_archived: bool = False) -> list[CohortRecord]:
        """Saved cohorts sorted by name."""
        return self.catalog.list(include_archived)

    def archive_cohort(self, name: str) -> CohortRecord:
        """Hide a cohort from lists and user-cohort answers (it still resolves for in_cohort)."""
        with self._write_lock:
            rec = self.catalog.archive(name)
            self._saved[name].archived = True
            self.maintainer.untrack(name)
        return rec

    # ---------------------------------------------------------- governance
    def unarchive_cohort(self, name: str) -> CohortRecord:
        """Make an archived cohort active again (within the cap; ``cohortd.governance``)."""
        return governance.unarchive_cohort(self, name)

    def rename_cohort(self, old: str, new: str) -> tuple[CohortRecord, list[str]]:
        """Rename a cohort; the cohorts whose ``in_cohort`` followed are returned."""
        return governance.rename_cohort(self, old, new)

    def delete_cohort(self, name: str) -> None:
        """Delete a cohort and its history (refused while referenced)."""
        governance.delete_cohort(self, name)

    def cohort_changelog(self, name: str) -> list[governance.VersionChange]:
        """Every version with its author and a diff of the canonical text against the previous one."""
        return governance.history(self, name)

    def cohort_history(self, name: str) -> list[CohortVersion]:
        """Every version of the cohort, oldest first."""
        return self.catalog.history(name)

    # ------------------------------------------------------------- queries
    def _evaluate_saved(
        self, name: str, as_of: AsOf = None, kernel: str | None = None, viewed: bool = True
    ) -> CohortResult:
        if viewed and name in self._saved:  # a user read (not lint, audit or maintenance)
            self.know.viewed(name)
        ms = parse_as_of(as_of)
        if ms is None and kernel is None:
            current = self.maintainer.current(name)
            if current is not None:
                self._touch(name, current.as_of_ms)
                return CohortResult(current.members, current.as_of_ms, self.engine, current.version)
        closure = self._closure(name)
        dv = self.engine.data_version
        ms = self._clock() if ms is None else ms
        key = (name, closure, dv, ms, kernel)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:  # one evaluation per key at a time; the others wait and reuse it
                with self._cache_lock:
                    hit = self._cache.get(key)
                    if hit is not None:
                        return hit
                result = self.engine.evaluate(
                    self._saved_expr(name), as_of=ms, kernel=kernel, resolve=self._resolve
                )
                with self._cache_lock:
                    if dv > self._cache_dv:  # new data: every older entry is dead
                        self._cache.clear()
                        self._cache_dv = dv
                    if dv == self._cache_dv:
                        self._cache[key] = result
                        while len(self._cache) > CACHE_ENTRIES:
                            self._cache.popitem(last=False)
        finally:
            with self._cache_lock:
                self._key_locks.pop(key, None)
        self._touch(name, _wall_ms())
        return result

    def _touch(self, name: str, ms: int) -> None:
        """Record the last evaluation, at most once a second per cohort (keeps SQLite off the hot path)."""
        if ms - self._touched.get(name, -TOUCH_INTERVAL_MS) >= TOUCH_INTERVAL_MS:
            self._touched[name] = ms
            self.catalog.touch_evaluated(name, ms)

    # ------------------------------------------------------------- changes
    def changes(self, cohorts: Sequence[str], after_version: int, upto: int | None = None) -> list[Change]:
        """Entries and exits of saved cohorts after ``after_version`` (up to ``upto``), oldest first."""
        for c in cohorts:
            self._saved_expr(c)  # NOT_FOUND for unknown names
        return [self._external(c) for c in self.maintainer.changes(cohorts, after_version, upto)]

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
            self._saved_expr(c)
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
        self._check_refs(expr, None)
        ms = parse_as_of(as_of)
        return self.engine.evaluate(
            expr, as_of=self._clock() if ms is None else ms, kernel=kernel, resolve=self._resolve
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
            results = [self._evaluate_saved(c) for c in cohorts]
            return [r.bitmap for r in results], max(r.as_of_ms for r in results)
        if ms is None:
            ms = self._clock()  # an archived cohort is evaluated: one instant for every cohort
        results = [self._evaluate_saved(c, ms) for c in cohorts]
        return [r.bitmap for r in results], ms

    def is_member(self, user_id: str, cohort: str, as_of: AsOf = None) -> bool:
        """Whether the user is in the saved cohort at the as-of time (unknown users are in none)."""
        result = self._evaluate_saved(cohort, as_of)
        dense = self.engine.dense_id(str(user_id))
        return dense is not None and dense in result.bitmap

    def check_membership(
        self, user_ids: Sequence[str], cohorts: Sequence[str], as_of: AsOf = None
    ) -> list[list[bool]]:
        """Membership matrix: one row per user, one column per cohort."""
        return self.membership_matrix(user_ids, cohorts, as_of).tolist()

    def membership_matrix(
        self, user_ids: Sequence[str], cohorts: Sequence[str], as_of: AsOf = None
    ) -> np.ndarray:
        """``check_membership`` as a bool array, vectorised: one id lookup per user, one gather per cohort."""
        ms = parse_as_of(as_of)
        if ms is None and any(self.maintainer.membership(c) is None for c in cohorts):
            ms = self._clock()  # an archived cohort is evaluated: one instant for all of them
        ids = self.engine.dense_ids(user_ids)
        out = np.zeros((len(ids), len(cohorts)), bool)
        for j, cohort in enumerate(cohorts):
            mask = self._dense_mask(cohort, ms)
            inside = (ids >= 0) & (ids < len(mask))
            out[inside, j] = mask[ids[inside]]
        return out

    def _dense_mask(self, cohort: str, as_of: int | None) -> np.ndarray:
        """The members of a cohort as a bool array over dense ids, cached per result."""
        result = self._evaluate_saved(cohort, as_of)
        cached = self._masks.get(cohort)
        if cached is not None and cached[0] is result.bitmap:
            return cached[1]
        mask = np.zeros(len(self.engine.store.users), bool)
        mask[np.asarray(result.bitmap.to_array(), dtype=np.int64)] = True
        self._masks[cohort] = (result.bitmap, mask)
        return mask

    def user_cohorts(self, user_id: str, as_of: AsOf = None) -> list[str]:
        """Names (sorted) of every non-archived saved cohort the user is in."""
        dense = self.engine.dense_id(str(user_id))
        if dense is None:
            return []
        names = sorted(n for n, s in list(self._saved.items()) if not s.archived and n not in self.broken)
        return [n for n in names if dense in self._evaluate_saved(n, as_of).bitmap]

    def overlap(self, cohorts: Sequence[str], as_of: AsOf = None) -> Overlap:
        """Sizes, pairwise intersection sizes and Jaccard of saved cohorts at one as-of time."""
        if not cohorts:
            raise InvalidArgumentError("overlap needs at least one cohort")
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
        expr = self._saved_expr(name) if name is not None else self.engine.definition(definition)
        self._check_refs(expr, None)
        ms = parse_as_of(as_of)
        return self.engine.explain(expr, as_of=self._clock() if ms is None else ms, resolve=self._resolve)

    def personas(
        self, population: str = "all", window: str = "30d", k: str | int = "auto", **options: Any
    ) -> Any:
        """Behavioural groups of a population, explained, each with a rule (``cohortd.personas``)."""
        from cohortd.personas import discover

        return discover(self, population, window, k, **options)

    def _lint(self, expr: Expr, name: str | None, exclude: str | None) -> list[LintWarning]:
        ms = self._clock()
        members = self.engine.evaluate(expr, as_of=ms, resolve=self._resolve).bitmap
        others = {
            n: self._evaluate_saved(n, viewed=False).bitmap
            for n, s in sorted(self._saved.items())
            if not s.archived and n != exclude and n not in self.broken
        }
        vocabulary = self.know.vocabulary()
        return lint(expr, name, vocabulary=vocabulary, members=members, others=others)

    def lint(self, definition: str | Expr, name: str | None = None) -> list[LintWarning]:
        """Warnings for a definition (and a name for it) without saving anything."""
        expr = self.engine.definition(definition)
        self._check_refs(expr, name)
        return self._lint(expr, name, exclude=name)

    # ---------------------------------------------- know your data (analysis/know.py)
    def schema(self, top_values: int = 10) -> dict[str, Any]:
        """Event types, their properties and user properties, with counts and top values."""
        return self.know.schema(top_values)

    def warnings(self, name: str | None = None, definition: str | Expr | None = None) -> list[LintWarning]:
        """The lint carried by evaluate and explain answers (no naming or overlap rules)."""
        if (name is None) == (definition is None):
            raise InvalidArgumentError("give exactly one of a saved cohort name or a definition")
        expr = self._saved_expr(name) if name is not None else self.engine.definition(definition)
        return self.know.warnings(expr)

    def breakdown(
        self, name: str | None = None, definition: str | Expr | None = None, by: str | None = None, **kw: Any
    ) -> Any:
        """Members broken down by a property or by other cohorts (``analysis/breakdown.py``)."""
        return self.know.breakdown(name, definition, by, **kw)

    def population(self, name: str | None = None, definition: str | Expr | None = None, **kw: Any) -> Any:
        """Size at each step of a range (``analysis/population.py``)."""
        return self.know.population(name, definition, **kw)

    def audit(self, **kw: Any) -> dict[str, Any]:
        """Stale events, shrinking, unread, archived-but-referenced and near-duplicate saved cohorts."""
        return self.know.audit(**kw)

    def storage_status(self) -> Any:
        """The event store's health and sizes (``cohortd.client.storage.StorageStatus``)."""
        from cohortd.client.storage import StorageStatus

        return StorageStatus(**self.engine.store.status())

    def close(self) -> None:
        """Stop deliveries and maintenance, then flush and close the engine and the catalog."""
        try:
            self.audiences.close()
            self.maintainer.stop()
            self.engine.close()
        finally:
            self.know.close()
            self.catalog.close()


@dataclass
class _Opening:
    """A project being opened by one thread; others wait on ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    project: Project | None = None
    error: BaseException | None = None


class Workspace:
    """A data directory holding one or more isolated projects."""

    def __init__(
        self,
        data_dir: str | Path,
        clock: Callable[[], int] | None = None,
        deliver_audiences: bool = False,
        max_active_cohorts: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._clock = clock
        self.max_active_cohorts = max_active_cohorts  # per project; None: no cap (cohortd.governance)
        self.deliver_audiences = deliver_audiences
        self._projects: dict[str, Project] = {}
        self._opening: dict[str, _Opening] = {}
        self._lock = threading.Lock()  # guards the two dicts only: never held while a project opens
        self._closed = False
        self.on_loading: list[Callable[[str, bool], None]] = []
        """Called with (project name, True) when a project starts opening, (name, False) once open
        (a project that failed to open stays at True until an open succeeds)."""

    def project(self, name: str = "default") -> Project:
        """The named project, opened (and created) on first use.

        Projects open independently: the first caller opens it outside the
        workspace lock, later callers for the same project wait for that open,
        and callers for other projects are not held up at all.
        """
        if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
            raise InvalidArgumentError(f"project name {name!r} must match [A-Za-z0-9_-]{{1,64}}")
        with self._lock:
            if self._closed:
                raise CohortError("workspace is closed")
            proj = self._projects.get(name)
            if proj is not None:
                return proj
            opening = self._opening.get(name)
            leader = opening is None
            if opening is None:
                opening = self._opening[name] = _Opening()
        if not leader:
            opening.done.wait()
            if opening.error is not None:
                raise opening.error
            assert opening.project is not None
            return opening.project
        return self._open(name, opening)

    def _open(self, name: str, opening: _Opening) -> Project:
        self._notify(name, True)
        try:
            proj = Project(self.data_dir / "projects" / name, name, self._clock, self.deliver_audiences)
            proj.max_active_cohorts = self.max_active_cohorts
        except BaseException as exc:  # listeners keep "loading": the project is not ready
            opening.error = exc
            with self._lock:
                self._opening.pop(name, None)
            opening.done.set()
            raise
        with self._lock:
            self._opening.pop(name, None)
            closed = self._closed
            if not closed:
                self._projects[name] = proj
        if closed:  # closed while opening: do not leak it
            proj.close()
            opening.error = CohortError("workspace is closed")
        opening.project = proj
        opening.done.set()
        self._notify(name, False)
        if closed:
            raise CohortError("workspace is closed")
        return proj

    def _notify(self, name: str, loading: bool) -> None:
        for callback in list(self.on_loading):
            try:
                callback(name, loading)
            except Exception:  # a listener never breaks opening
                log.exception("on_loading listener failed for project %s", name)

    def project_names(self) -> list[str]:
        """Projects that exist on disk (sorted)."""
        root = self.data_dir / "projects"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and PROJECT_NAME.fullmatch(p.name))

    def close(self) -> None:
        """Close every open project."""
        with self._lock:
            self._closed = True
            projects, self._projects = list(self._projects.values()), {}
        errors = []
        for p in projects:
            try:
                p.close()
            except Exception as exc:  # close the others before reporting
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
