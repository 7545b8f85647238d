"""One project: its engine, catalog of saved cohorts, maintenance and queries.

Decisions:

- Definitions are saved as canonical text (``to_text(parse(text))``), so
  comments and layout are not kept; the history keeps every version.
- ``in_cohort("X")`` resolves through the catalog at the same as-of time.
  Referencing an unknown cohort or creating a reference cycle is rejected with
  ``DefinitionError`` at create/update time (and for inline definitions).
  Archived cohorts still resolve, so archiving never breaks a dependent.
- Every non-archived saved cohort is kept current by incremental maintenance
  (``engine/maintain.py``); see :mod:`cohortd.service.queries` for how
  questions are answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cohortd import governance
from cohortd.analysis.migration import MigrationMethods
from cohortd.analysis.service import AnalysisMethods
from cohortd.audiences.project import AudienceMethods
from cohortd.engine.lint import lint
from cohortd.engine.maintain import Maintainer
from cohortd.errors import (
    AlreadyExistsError,
    ArchivedCohortError,
    CohortError,
    InvalidArgumentError,
    NotFoundError,
)
from cohortd.lang.ast import Expr
from cohortd.service.queries import Queries
from cohortd.service.registry import Registry, Saved
from cohortd.storage.catalog import Catalog, CohortRecord, CohortVersion
from cohortd.times import wall_ms
from cohortd.types import LintWarning

__all__ = ["PERCENTILE_INTERVAL_MS", "Project"]

PERCENTILE_INTERVAL_MS = 10_000
"""How often percentile cohorts (which depend on every user) are fully recomputed."""

log = logging.getLogger("cohortd.service")


class Project(AudienceMethods, AnalysisMethods, MigrationMethods, Queries):
    """One project's engine, catalog and result cache; safe to call from many threads."""

    def __init__(
        self,
        directory: Path,
        name: str,
        clock: Callable[[], int] | None = None,
        deliver: bool = False,
    ) -> None:
        from cohortd import Engine

        self.name = name
        self.directory = directory
        self._clock = clock or wall_ms
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
        self._init_queries()
        self.registry = Registry(
            (r.name, Saved(r.version, r.definition, r.archived))
            for r in self.catalog.list(include_archived=True)
        )
        self.maintainer = Maintainer(
            self.engine, self.registry.resolve, percentile_interval_ms=PERCENTILE_INTERVAL_MS
        )
        self._track_saved(self.registry.dependencies_first(sorted(self.registry.saved)))
        self.maintainer.start()
        from cohortd.audiences.delivery import AudienceService

        self.audiences = AudienceService(self, deliver)  # deliver: workers run (the server)

    @property
    def broken(self) -> dict[str, str]:
        """Saved cohorts whose definition no longer checks -> why (see the registry)."""
        return self.registry.broken

    def _track_saved(self, names: Sequence[str]) -> None:
        """Track these live saved cohorts; one whose definition fails is marked broken, not fatal."""
        checked: list[tuple[str, Expr]] = []
        failed: dict[str, CohortError] = {}
        for cohort in names:
            saved = self.registry.get(cohort)
            if saved is None or saved.archived:
                continue
            try:
                self.registry.check_depth(cohort)
                checked.append((cohort, self.registry.expr(cohort)))
            except CohortError as exc:
                failed[cohort] = exc
        failed.update(self.maintainer.track_saved(checked))
        for cohort, error in failed.items():
            self.registry.broken[cohort] = str(error)
            log.warning("project %s: cohort %r is broken: %s", self.name, cohort, error)

    # ------------------------------------------------------------ settings
    @property
    def time_zone(self) -> str:
        """The IANA zone of calendar windows and ``active_days`` (UTC unless set)."""
        return self.engine.time_zone

    def set_time_zone(self, name: str) -> str:
        """Store the project's time zone and re-evaluate every saved cohort in it (Watch sees changes)."""
        with self._write_lock:
            self.engine.set_time_zone(name)
            self._track_saved(self.registry.dependencies_first(sorted(self.registry.saved)))
        return self.engine.time_zone

    # ------------------------------------------------------------- data in
    def ingest(self, table: Any) -> Any:
        """Append events (pyarrow table/batch or list of dicts); returns the engine's report."""
        return self.engine.ingest(table)

    def ingest_chunks(
        self, chunks: Any, users: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> Any:
        """Bulk-load an opened event (or, with ``users``, user-property) file (``Engine.ingest_chunks``)."""
        return self.engine.ingest_chunks(chunks, users=users, progress=progress)

    def prepare_ingest(self, table: Any) -> Any:
        """Validate a batch ahead, outside the store lock (``Engine.prepare_ingest``)."""
        return self.engine.prepare_ingest(table)

    def ingest_prepared(self, prepared: Any) -> Any:
        """Store a batch from ``prepare_ingest``; returns the engine's report."""
        return self.engine.ingest_prepared(prepared)

    def delete_users(self, user_ids: list[str], compact: bool = False) -> Any:
        """Delete users (GDPR/CCPA; see cohortd.storage.deletion): gone from every answer now,
        purged from the files at the next compaction (``compact=True``: now); audited."""
        from cohortd.storage.deletion import delete_and_audit

        return delete_and_audit(self.engine, self.directory / "audit" / "deletions.jsonl", user_ids, compact)

    def upsert_user_properties(self, table: Any) -> Any:
        """Set current user properties (``user_id`` + property columns)."""
        return self.engine.upsert_user_properties(table)

    # -------------------------------------------------------- definitions
    def _prepare(self, name: str, definition: str | Expr) -> tuple[Expr, str]:
        from cohortd.lang import to_text

        if not name or not name.strip() or name != name.strip():
            raise InvalidArgumentError("cohort names must be non-empty without leading or trailing spaces")
        expr = self.engine.definition(definition)
        self.registry.check_refs(expr, name)
        return expr, to_text(expr)

    # ------------------------------------------------------------- catalog
    def create_cohort(
        self, name: str, definition: str | Expr, description: str = "", note: str = ""
    ) -> tuple[CohortRecord, list[LintWarning]]:
        """Validate, lint and save a new cohort; warnings never block the save."""
        self.engine.require_writer()
        with self._write_lock:
            if name in self.registry:
                existing = self.registry.get(name)
                archived = " (archived; names stay taken: unarchive, rename or delete it)"
                suffix = archived if existing is not None and existing.archived else ""
                raise AlreadyExistsError(f"a cohort named {name!r} already exists{suffix}")
            expr, text = self._prepare(name, definition)
            warnings = self._lint(expr, name, exclude=name)
            governance.check_cap(self)
            rec = self.catalog.create(name, text, description, note, governance.author())
            self.registry.set(name, Saved(rec.version, rec.definition, rec.archived, expr))
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
        self.engine.require_writer()
        with self._write_lock:
            previous = self.registry.get(name)
            if previous is None:
                raise NotFoundError(f"no cohort named {name!r}")
            if previous.archived:
                raise ArchivedCohortError(
                    f"cohort {name!r} is archived: unarchive it first (`cohortd cohort unarchive {name!r}`) "
                    "to change its definition or description"
                )
            warnings: list[LintWarning] = []
            text = None
            expr = None
            if definition is not None:
                expr, text = self._prepare(name, definition)
                warnings = self._lint(expr, name, exclude=name)
            rec = self.catalog.update(name, text, description, note, governance.author())
            self.registry.set(
                name,
                Saved(rec.version, rec.definition, rec.archived, expr if text is not None else previous.expr),
            )
            if expr is not None and name in self.registry.broken:  # fixed: it and its dependents work again
                retry = sorted(self.registry.broken)
                self.registry.broken.clear()
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
        self.engine.require_writer()
        with self._write_lock:
            rec = self.catalog.archive(name)
            saved = self.registry.get(name)
            assert saved is not None  # the catalog just archived it
            saved.archived = True
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

    def personas(
        self, population: str = "all", window: str = "30d", k: str | int = "auto", **options: Any
    ) -> Any:
        """Behavioural groups of a population, explained, each with a rule (``cohortd.personas``)."""
        from cohortd.personas import discover

        return discover(self, population, window, k, **options)

    # ---------------------------------------------------------------- lint
    def _lint(self, expr: Expr, name: str | None, exclude: str | None) -> list[LintWarning]:
        ms = self._clock()
        members = self.engine.evaluate(expr, as_of=ms, resolve=self.registry.resolve).bitmap
        others = {
            n: self._evaluate_saved(n, viewed=False).bitmap
            for n in self.registry.live_names()
            if n != exclude
        }
        vocabulary = self.know.vocabulary()
        return lint(expr, name, vocabulary=vocabulary, members=members, others=others)

    def lint(self, definition: str | Expr, name: str | None = None) -> list[LintWarning]:
        """Warnings for a definition (and a name for it) without saving anything."""
        expr = self.engine.definition(definition)
        self.registry.check_refs(expr, name)
        return self._lint(expr, name, exclude=name)

    # ---------------------------------------------- know your data (analysis/know.py)
    def schema(self, top_values: int = 10) -> dict[str, Any]:
        """Event types, their properties and user properties, with counts and top values."""
        return self.know.schema(top_values)

    def warnings(self, name: str | None = None, definition: str | Expr | None = None) -> list[LintWarning]:
        """The lint carried by evaluate and explain answers (no naming or overlap rules)."""
        if (name is None) == (definition is None):
            raise InvalidArgumentError("give exactly one of a saved cohort name or a definition")
        expr = self.registry.expr(name) if name is not None else self.engine.definition(definition)
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

    # ------------------------------------------ old private names (session shim; lead removes)
    def _saved_expr(self, name: str) -> Expr:
        return self.registry.expr(name)

    def _resolve(self, name: str) -> Expr | None:
        return self.registry.resolve(name)

    def _check_refs(self, expr: Expr, name: str | None) -> None:
        self.registry.check_refs(expr, name)

    @property
    def _saved(self) -> dict[str, Saved]:
        return self.registry.saved

    def close(self) -> None:
        """Stop deliveries and maintenance, then flush and close the engine and the catalog."""
        try:
            self.know.stop()
            self.audiences.close()
            self.maintainer.stop()
            self.engine.close()
        finally:
            self.know.close()
            self.catalog.close()
