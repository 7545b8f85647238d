"""Public value types: what the embedded API and the SDK return.

Plain frozen dataclasses with no dependency on the engine, the storage layer
or gRPC, so ``import cohortd.client`` stays light and both transports hand
back the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cohortd.times import from_ms

__all__ = ["Change", "IngestReport", "LintWarning", "Overlap", "Rejection"]


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
class Overlap:
    """Pairwise overlap of saved cohorts; matrices are indexed like ``names``."""

    names: list[str]
    sizes: list[int]
    intersections: list[list[int]]
    jaccard: list[list[float]]
    as_of_ms: int


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

    def merge(self, other: IngestReport, row_offset: int = 0) -> None:
        self.accepted += other.accepted
        self.rejected.extend(Rejection(r.row + row_offset, r.field, r.reason) for r in other.rejected)
