"""Public value types: what the embedded API (``cohortd.open``) and the SDK (``cohortd.Client``) return.

Plain dataclasses with no dependency on the engine, the storage layer or gRPC,
so ``import cohortd.client`` stays light and both transports hand back the
same objects (see :class:`cohortd.api.CohortService`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cohortd.lang.ast import Expr
from cohortd.times import from_ms

__all__ = [
    "Change",
    "ChangesResult",
    "Cohort",
    "CohortVersion",
    "Evaluation",
    "IngestReport",
    "IngestResult",
    "LintWarning",
    "MemberSnapshot",
    "Overlap",
    "PlanStep",
    "Rejection",
]


@dataclass(frozen=True)
class Cohort:
    """A saved cohort at its current version."""

    name: str
    description: str
    definition: str  # canonical text
    expr: Expr | None  # None when the cohort is broken (see ``error``)
    version: int
    created: datetime
    updated: datetime
    last_evaluated: datetime | None
    archived: bool
    error: str | None = None  # why the saved definition no longer checks (the cohort is broken)


@dataclass(frozen=True)
class CohortVersion:
    """One entry of a cohort's history."""

    version: int
    definition: str
    expr: Expr
    description: str
    note: str
    time: datetime


@dataclass(frozen=True)
class Evaluation:
    """The size of a cohort at one as-of time."""

    size: int
    as_of: datetime
    #: For a saved cohort at "now": the maintained version of the answer (watch from it); else 0.
    version: int = 0
    #: Lint of the definition against the project's data (unknown names and values, stale events, ...).
    warnings: list[LintWarning] = field(default_factory=list)


@dataclass(frozen=True)
class MemberSnapshot:
    """Every member of a saved cohort as of one maintained version: ``watch(from_version=version)``
    then continues from exactly this set."""

    members: list[str]
    version: int
    as_of: datetime


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
        return from_ms(self.time_ms)


@dataclass(frozen=True)
class ChangesResult:
    """Changes between two versions (oldest first); poll again from ``version``."""

    changes: list[Change]
    version: int


@dataclass(frozen=True)
class Overlap:
    """Sizes, pairwise intersections and Jaccard of saved cohorts; matrices are indexed like ``names``."""

    names: list[str]
    sizes: list[int]
    intersections: list[list[int]]
    jaccard: list[list[float]]
    as_of_ms: int | None = None  # the one instant every cohort of the answer was evaluated at

    @property
    def as_of(self) -> datetime | None:
        """``as_of_ms`` as a UTC datetime."""
        return None if self.as_of_ms is None else from_ms(self.as_of_ms)


@dataclass(frozen=True)
class PlanStep:
    """One node of an evaluated plan, for ``explain``."""

    text: str
    size: int
    millis: float
    depth: int


@dataclass(frozen=True)
class LintWarning:
    """One finding: a stable machine code and a sentence a person can act on."""

    code: str
    message: str


@dataclass(frozen=True)
class Rejection:
    """One bad input row: its 0-based index in the batch, the field at fault and why."""

    row: int
    field: str
    reason: str


@dataclass
class IngestReport:
    """Rows accepted and the rows turned away (with why) by one ingest."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def rejections(self) -> list[Rejection]:
        """``rejected`` under the name the SDK has always used."""
        return self.rejected

    def merge(self, other: IngestReport, row_offset: int = 0) -> None:
        self.accepted += other.accepted
        self.rejected.extend(Rejection(r.row + row_offset, r.field, r.reason) for r in other.rejected)


IngestResult = IngestReport
"""The SDK's name for :class:`IngestReport`."""
