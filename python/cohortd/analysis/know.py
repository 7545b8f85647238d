"""Know your data, for one project: schema, data-aware lint, breakdowns, population, audit.

The service layer's ``Project`` holds one :class:`KnowYourData` and delegates
to it, so transports (gRPC, CLI) see thin ``Project`` methods while the
meaning lives here and in the modules it calls (``engine/schema.py``,
``engine/lint.py``, ``analysis/breakdown.py``, ``analysis/population.py``,
``analysis/audit.py``, ``analysis/history.py``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap

from cohortd.analysis.audit import SHRINK_DAYS, AuditCohort, audit_report
from cohortd.analysis.breakdown import Breakdown, breakdown
from cohortd.analysis.history import DAY_MS, CohortStats
from cohortd.analysis.population import Point, Population, population, step_points
from cohortd.engine.lint import STALE_DAYS, LintWarning, data_problems, lint, stale_event_types
from cohortd.engine.schema import SchemaIndex, Vocabulary
from cohortd.errors import BrokenCohortError, DefinitionError, NotFoundError
from cohortd.lang.ast import Expr

if TYPE_CHECKING:
    from cohortd.service import Project

__all__ = ["KnowYourData"]


class KnowYourData:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.schema_index = SchemaIndex(project.engine.store, project.directory / "schema_stats")
        self.stats = CohortStats(project.directory / "cohort_stats.sqlite")
        self._recorded_day: int | None = None
        self._days: list[int] = []  # midnights waiting to be recorded
        self._recording = False
        self._recorder: threading.Thread | None = None
        self._days_lock = threading.Lock()
        self._stopping = threading.Event()
        project.engine.add_listener(self._on_ingest)

    # ------------------------------------------------- daily size history
    def _on_ingest(self, users: Any, event_types: Any, user_props: bool) -> None:
        """The day's first batch records every saved cohort's size at that UTC midnight (in a thread)."""
        day = self.project._clock() // DAY_MS * DAY_MS
        if day == self._recorded_day or self._stopping.is_set():
            return
        self._recorded_day = day
        with self._days_lock:
            self._days.append(day)
            if self._recording:
                return
            self._recording = True
            self._recorder = threading.Thread(
                target=self._record_days, name="cohortd-size-history", daemon=True
            )
            self._recorder.start()

    def _record_days(self) -> None:
        while True:
            with self._days_lock:
                if not self._days or self._stopping.is_set():
                    self._recording = False
                    return
                day = self._days.pop(0)
            self.record_day(day)

    def record_day(self, day_ms: int) -> None:
        """Record each non-archived saved cohort's exact size as of ``day_ms`` (once per version and day)."""
        p = self.project
        # the maintainer stops at each midnight: its members there are exact (maintenance equals a
        # full evaluation) and cost nothing more; only percentile and account cohorts, and a day
        # before this open, need a pass over every user
        maintained = p.maintainer.day_sizes(day_ms)
        for rec in p.catalog.list():
            if self._stopping.is_set():
                return
            if self.stats.daily_sizes(rec.name, rec.version, [day_ms]):
                continue
            try:
                expr = p._saved_expr(rec.name)
                known = maintained.get(rec.name)
                if known is not None and known[0] == expr:
                    size = known[1]
                else:  # a one-point series: exact, and no read of the cohort
                    size = population(p.engine, rec.name, expr, [day_ms], p._resolve).points[0].size
            except (NotFoundError, BrokenCohortError):
                continue  # it (or a cohort it reads) was deleted or renamed since the listing, or is broken
            self.stats.record_sizes(rec.name, rec.version, [(day_ms, size, None, None)])

    def wait_recorded(self, timeout: float = 60.0) -> None:
        """Wait until the days queued so far are recorded (for tests and orderly shutdown)."""
        recorder = self._recorder
        if recorder is not None:
            recorder.join(timeout)

    def stop(self) -> None:
        """Stop recording (called before the engine closes)."""
        self._stopping.set()
        if self._recorder is not None:
            self._recorder.join(timeout=60)

    # ------------------------------------------------------------ schema
    def schema(self, top: int = 10) -> dict[str, Any]:
        """The ``cohortd schema`` document."""
        return self.schema_index.describe(self.project._clock(), top)

    def vocabulary(self) -> Vocabulary:
        return self.schema_index.vocabulary()

    # -------------------------------------------------------------- lint
    def warnings(self, expr: Expr) -> list[LintWarning]:
        """The cheap lint of an evaluate/explain answer: no window, unknown names and values, stale types."""
        return lint(expr, vocabulary=self.vocabulary())

    def data_warnings(self, expr: Expr) -> list[LintWarning]:
        return data_problems(expr, self.vocabulary())

    # ------------------------------------------------------------ target
    def _target(self, name: str | None, definition: Any, viewed: bool = True) -> tuple[str, Expr, int | None]:
        """(label, tree, saved version or None) of a saved name or an inline definition.

        ``viewed=False``: not a person reading the cohort (the console's catalog), no stamp.
        """
        from cohortd.lang import to_text

        p = self.project
        if (name is None) == (definition is None):
            from cohortd.errors import InvalidArgumentError

            raise InvalidArgumentError("give exactly one of a saved cohort name or a definition")
        if name is not None:
            expr = p._saved_expr(name)
            if viewed:
                self.viewed(name)
            return name, expr, p._saved[name].version
        expr = p.engine.definition(definition)
        p._check_refs(expr, None)
        return to_text(expr), expr, None

    def viewed(self, name: str) -> None:
        self.stats.viewed(name, self.project._clock())

    # --------------------------------------------------------- breakdown
    def breakdown(
        self,
        name: str | None = None,
        definition: Any = None,
        by: str | None = None,
        *,
        window: str | None = None,
        pick: str = "last",
        top: int = 10,
        by_cohorts: list[str] | None = None,
        as_of: Any = None,
    ) -> Breakdown:
        from cohortd.lang.parser import parse_duration
        from cohortd.times import parse_as_of

        p = self.project
        label, expr, _ = self._target(name, definition)
        ms = parse_as_of(as_of)
        ms = p._clock() if ms is None else ms
        if name is not None:
            members = p._evaluate_saved(name, ms).bitmap
        else:
            members = p.engine.evaluate(expr, as_of=ms, resolve=p._resolve).bitmap
        others = None
        if by_cohorts:
            others = {c: p._evaluate_saved(c, ms).bitmap for c in by_cohorts}
        window_ms = parse_duration(window).ms if window else None
        return breakdown(
            p.engine, members, ms, label, by, window_ms=window_ms, pick=pick, top=top, cohorts=others
        )

    # -------------------------------------------------------- population
    def population(
        self,
        name: str | None = None,
        definition: Any = None,
        *,
        start: Any,
        end: Any,
        step: str = "1d",
        kernel: str | None = None,
        viewed: bool = True,
    ) -> Population:
        """Size at each step; a saved cohort's recorded daily sizes answer ``1d`` series at midnights."""
        from cohortd.lang.parser import parse_duration
        from cohortd.times import parse_as_of

        p = self.project
        label, expr, version = self._target(name, definition, viewed)
        lo, hi = parse_as_of(start), parse_as_of(end)
        if lo is None or hi is None:
            raise DefinitionError("population needs --from and --to")
        step_ms = parse_duration(step).ms
        points = step_points(lo, hi, step_ms)
        now = p._clock()
        daily = name is not None and version is not None and step_ms == DAY_MS and lo % DAY_MS == 0
        if daily and all(t <= now for t in points):
            assert name is not None and version is not None
            recorded = self.stats.daily_sizes(name, version, points)
            if len(recorded) == len(points) and all(recorded[t][1] is not None for t in points[1:]):
                first = Point(points[0], recorded[points[0]][0], 0, 0)
                rest = [Point(t, *recorded[t]) for t in points[1:]]  # type: ignore[arg-type]
                return Population(label, [first, *rest])
        series = population(p.engine, label, expr, points, p._resolve, kernel)
        if daily:
            assert name is not None and version is not None
            done = [
                (pt.as_of_ms, pt.size, None if i == 0 else pt.entered, None if i == 0 else pt.exited)
                for i, pt in enumerate(series.points)
                if pt.as_of_ms <= now
            ]
            self.stats.record_sizes(name, version, done)
        return series

    # ------------------------------------------------------------- audit
    def audit(
        self, stale_days: int = STALE_DAYS, shrink_percent: float = 20.0, unread_days: int = 60
    ) -> dict[str, Any]:
        """The ``cohortd audit`` report over every saved cohort (archived ones included)."""
        p = self.project
        vocab = self.vocabulary()
        now = p._clock()
        cohorts = []
        for rec in p.catalog.list(include_archived=True):
            expr = p._saved_expr(rec.name)
            size_now = size_before = None
            members: BitMap | None = None
            if not rec.archived:
                members = p._evaluate_saved(rec.name, now, viewed=False).bitmap
                size_now = len(members)
                size_before = len(
                    p._evaluate_saved(rec.name, now - SHRINK_DAYS * DAY_MS, viewed=False).bitmap
                )
            cohorts.append(
                AuditCohort(
                    rec.name,
                    expr,
                    rec.archived,
                    rec.created_ms,
                    self.stats.last_viewed(rec.name),
                    size_now,
                    size_before,
                    members,
                )
            )
        stale = stale_event_types(vocab, stale_days)
        return audit_report(
            cohorts, stale, now, vocab.latest_event_ms, shrink_percent=shrink_percent, unread_days=unread_days
        )

    def close(self) -> None:
        self.stats.close()
