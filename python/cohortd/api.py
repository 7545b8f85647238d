"""The one public API of a cohortd project, whatever the transport.

:class:`CohortService` is what ``cohortd.open(path)`` (in process) and
``cohortd.Client(address)`` (over gRPC) both implement, returning the same
value types (:mod:`cohortd.types`), so code written against one runs against
the other, and the CLI takes either.  Transport-specific extras (``timeout=``
on the SDK, ``kernel=`` embedded) are keyword-only additions on top.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from cohortd.times import Instant
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

__all__ = ["AsOf", "ChangeStream", "CohortService", "Definition", "Rows"]

AsOf = Instant | None
"""An as-of time: epoch ms, a datetime (naive = UTC), ISO-8601 text, or None for now."""

Definition = Any
"""Cohort text, a tree (:mod:`cohortd.lang.ast`) or a builder object (:mod:`cohortd.lang`)."""

Rows = Any
"""A pyarrow table or record batch, or an iterable of dict rows."""


@runtime_checkable
class ChangeStream(Protocol):
    """An iterator of :class:`Change` that can be stopped from any thread."""

    def __iter__(self) -> Iterator[Change]: ...
    def __next__(self) -> Change: ...
    def close(self) -> None: ...


@runtime_checkable
class CohortService(Protocol):
    """Saved cohorts, questions about them and the data they are asked of, for one project."""

    # data in
    def ingest(self, events: Rows) -> IngestReport: ...
    def upsert_user_properties(self, users: Iterable[Mapping[str, Any]] | Any) -> IngestReport: ...

    # saved cohorts
    def create_cohort(
        self, name: str, definition: Definition, description: str = "", note: str = ""
    ) -> tuple[Cohort, list[LintWarning]]: ...
    def update_cohort(
        self, name: str, definition: Definition | None = None, description: str | None = None, note: str = ""
    ) -> tuple[Cohort, list[LintWarning]]: ...
    def get_cohort(self, name: str) -> Cohort: ...
    def list_cohorts(self, include_archived: bool = False) -> list[Cohort]: ...
    def archive_cohort(self, name: str) -> Cohort: ...
    def cohort_history(self, name: str) -> list[CohortVersion]: ...

    # questions
    def evaluate(
        self, cohort: str | None = None, definition: Definition | None = None, *, as_of: AsOf = None
    ) -> Evaluation: ...
    def members(
        self, cohort: str | None = None, definition: Definition | None = None, *, as_of: AsOf = None
    ) -> list[str]: ...
    def member_snapshot(self, cohort: str) -> MemberSnapshot: ...
    def is_member(self, user_id: str, cohort: str, *, as_of: AsOf = None) -> bool: ...
    def check_membership(
        self, user_ids: Sequence[str], cohorts: Sequence[str], *, as_of: AsOf = None
    ) -> list[list[bool]]: ...
    def user_cohorts(self, user_id: str, *, as_of: AsOf = None) -> list[str]: ...
    def overlap(self, cohorts: Sequence[str], *, as_of: AsOf = None) -> Overlap: ...
    def explain(
        self, cohort: str | None = None, definition: Definition | None = None, *, as_of: AsOf = None
    ) -> list[PlanStep]: ...
    def lint(self, definition: Definition, name: str | None = None) -> list[LintWarning]: ...

    # changes
    def changes(
        self, cohorts: str | Sequence[str], from_version: int, to_version: int | None = None
    ) -> ChangesResult: ...
    def watch(
        self,
        cohorts: str | Sequence[str],
        from_version: int | None = None,
        *,
        on_checkpoint: Callable[[int], None] | None = None,
    ) -> ChangeStream: ...

    def close(self) -> None: ...
