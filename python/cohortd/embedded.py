"""``cohortd.open(path)``: a project of a data directory, in this process.

The embedded twin of ``cohortd.Client``: the same methods (:class:`cohortd.api.CohortService`)
returning the same value types, over the service layer (:mod:`cohortd.service`)
instead of gRPC.  Methods other areas add to the service-layer ``Project``
(schema, analyses, audiences, personas) are reachable here too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cohortd.api import AsOf, Definition, Rows
from cohortd.errors import CohortError, InvalidArgumentError
from cohortd.service import Project, Workspace
from cohortd.storage.catalog import CohortRecord
from cohortd.storage.catalog import CohortVersion as CatalogVersion
from cohortd.times import from_ms, parse_as_of
from cohortd.types import (
    Change,
    ChangesResult,
    Cohort,
    CohortVersion,
    Evaluation,
    IngestReport,
    LintWarning,
    MemberSnapshot,
    Overlap,
    PlanStep,
)

__all__ = ["EmbeddedProject", "EmbeddedWatch", "open_project"]


def open_project(
    path: str | Path,
    project: str = "default",
    *,
    create: bool = False,
    clock: Callable[[], int] | None = None,
) -> EmbeddedProject:
    """Open ``project`` of the data directory ``path`` (see :func:`cohortd.open`)."""
    workspace = Workspace(path, clock=clock, create=create)
    try:
        return EmbeddedProject(workspace, workspace.project(project, create=create))
    except BaseException:
        workspace.close()
        raise


def _names(cohorts: str | Sequence[str]) -> list[str]:
    return [cohorts] if isinstance(cohorts, str) else list(cohorts)


class EmbeddedProject:
    """One project of a data directory, in process; implements :class:`cohortd.api.CohortService`."""

    def __init__(self, workspace: Workspace, project: Project) -> None:
        self.workspace = workspace
        self.service = project
        self.project = project.name

    def __enter__(self) -> EmbeddedProject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # area methods added to the service-layer Project (schema, breakdown, audiences, ...)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.service, name)

    def close(self) -> None:
        """Flush and close the data directory."""
        self.workspace.close()

    # ------------------------------------------------------------- values
    def _cohort(self, rec: CohortRecord) -> Cohort:
        error = self.service.broken.get(rec.name)
        expr = None
        if error is None:
            try:
                expr = self.service.registry.expr(rec.name)
            except CohortError as exc:
                error = str(exc)
        return Cohort(
            name=rec.name,
            description=rec.description,
            definition=rec.definition,
            expr=expr,
            version=rec.version,
            created=from_ms(rec.created_ms),
            updated=from_ms(rec.updated_ms),
            last_evaluated=None if rec.last_evaluated_ms is None else from_ms(rec.last_evaluated_ms),
            archived=rec.archived,
            error=error,
        )

    @staticmethod
    def _version(v: CatalogVersion) -> CohortVersion:
        from cohortd.lang import as_expr

        return CohortVersion(
            v.version, v.definition, as_expr(v.definition), v.description, v.note, from_ms(v.created_ms)
        )

    # ------------------------------------------------------------ data in
    def ingest(self, events: Rows) -> IngestReport:
        """Append events (pyarrow table/batch or dict rows); durable on return."""
        return self.service.ingest(events)

    def upsert_user_properties(self, users: Rows) -> IngestReport:
        """Set current user properties: ``user_id`` plus one column / key per property."""
        return self.service.upsert_user_properties(users)

    # ------------------------------------------------------------ catalog
    def create_cohort(
        self, name: str, definition: Definition, description: str = "", note: str = ""
    ) -> tuple[Cohort, list[LintWarning]]:
        """Save a new cohort; returns it and the linter's warnings (which never block the save)."""
        rec, warnings = self.service.create_cohort(name, definition, description, note)
        return self._cohort(rec), warnings

    def update_cohort(
        self, name: str, definition: Definition | None = None, description: str | None = None, note: str = ""
    ) -> tuple[Cohort, list[LintWarning]]:
        """New definition and/or description (a new version when anything changed)."""
        rec, warnings = self.service.update_cohort(name, definition, description, note)
        return self._cohort(rec), warnings

    def get_cohort(self, name: str) -> Cohort:
        return self._cohort(self.service.get_cohort(name))

    def list_cohorts(self, include_archived: bool = False) -> list[Cohort]:
        return [self._cohort(r) for r in self.service.list_cohorts(include_archived)]

    def archive_cohort(self, name: str) -> Cohort:
        return self._cohort(self.service.archive_cohort(name))

    def cohort_history(self, name: str) -> list[CohortVersion]:
        return [self._version(v) for v in self.service.cohort_history(name)]

    # ------------------------------------------------------------ queries
    def evaluate(
        self,
        cohort: str | None = None,
        definition: Definition | None = None,
        *,
        as_of: AsOf = None,
        kernel: str | None = None,
    ) -> Evaluation:
        """Size of a saved cohort (by name) or an inline definition at ``as_of`` (default now)."""
        result = self.service.evaluate(cohort, definition, parse_as_of(as_of), kernel=kernel)
        warnings = self.service.warnings(cohort, definition)
        return Evaluation(int(result.size), from_ms(result.as_of_ms), result.version or 0, warnings)

    def members(
        self, cohort: str | None = None, definition: Definition | None = None, *, as_of: AsOf = None
    ) -> list[str]:
        """Every member id, sorted."""
        return [str(m) for m in self.service.members(cohort, definition, parse_as_of(as_of))]

    def member_snapshot(self, cohort: str) -> MemberSnapshot:
        """Every member of a saved cohort now, with the maintained version they were read at."""
        result = self.service.evaluate(cohort)
        return MemberSnapshot(result.members(), result.version or 0, from_ms(result.as_of_ms))

    def is_member(self, user_id: str, cohort: str, *, as_of: AsOf = None) -> bool:
        return self.service.is_member(user_id, cohort, parse_as_of(as_of))

    def check_membership(
        self, user_ids: Sequence[str], cohorts: Sequence[str], *, as_of: AsOf = None
    ) -> list[list[bool]]:
        return self.service.check_membership(user_ids, cohorts, parse_as_of(as_of))

    def user_cohorts(self, user_id: str, *, as_of: AsOf = None) -> list[str]:
        return self.service.user_cohorts(user_id, parse_as_of(as_of))

    def overlap(self, cohorts: Sequence[str], *, as_of: AsOf = None) -> Overlap:
        return self.service.overlap(list(cohorts), parse_as_of(as_of))

    def explain(
        self, cohort: str | None = None, definition: Definition | None = None, *, as_of: AsOf = None
    ) -> list[PlanStep]:
        return list(self.service.explain(cohort, definition, parse_as_of(as_of)))

    def lint(self, definition: Definition, name: str | None = None) -> list[LintWarning]:
        return self.service.lint(definition, name)

    # ------------------------------------------------------------ changes
    def changes(
        self, cohorts: str | Sequence[str], from_version: int, to_version: int | None = None
    ) -> ChangesResult:
        """Entries and exits with ``from_version < version <= to_version`` (default: now), oldest first."""
        names = _names(cohorts)
        upto = current = self.service.maintainer.version
        if to_version is not None:
            if to_version < from_version:
                raise InvalidArgumentError(f"to_version {to_version} is before from_version {from_version}")
            upto = min(to_version, current)
        return ChangesResult(self.service.changes(names, from_version, upto), upto)

    def watch(
        self,
        cohorts: str | Sequence[str],
        from_version: int | None = None,
        *,
        on_checkpoint: Callable[[int], None] | None = None,
    ) -> EmbeddedWatch:
        """Every change of saved ``cohorts`` after ``from_version`` (None: from now on), as it happens."""
        names = _names(cohorts)
        start = self.service.maintainer.version if from_version is None else from_version
        self.service.changes(names, start, upto=start)  # unknown names, versions the log lost: fail now
        if on_checkpoint is not None:
            on_checkpoint(start)
        return EmbeddedWatch(self.service, names, start)


class EmbeddedWatch:
    """Iterator of :class:`Change` from :meth:`EmbeddedProject.watch`; ``close()`` from any thread."""

    def __init__(self, project: Project, cohorts: list[str], start: int) -> None:
        self.cohorts = cohorts
        self.version: int | None = start
        self._stop = threading.Event()
        self._it = project.watch(cohorts, start, stop=self._stop, poll_s=0.2)

    def __iter__(self) -> Iterator[Change]:
        return self

    def __next__(self) -> Change:
        change = next(self._it)
        self.version = change.version
        return change

    def __enter__(self) -> EmbeddedWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
