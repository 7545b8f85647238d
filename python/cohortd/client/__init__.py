"""The Python SDK: ``cohortd.Client`` and the plain values it returns."""

from __future__ import annotations

from cohortd.client.client import Client
from cohortd.client.types import (
    Cohort,
    CohortVersion,
    Evaluation,
    IngestResult,
    LintWarning,
    Overlap,
    PlanStep,
    Rejection,
    RemoteAlreadyExistsError,
    RemoteDeadlineError,
    RemoteDefinitionError,
    RemoteError,
    RemoteLimitError,
    RemoteNotFoundError,
    RemoteParseError,
    RemotePermissionError,
    RemoteUnauthenticatedError,
    RemoteUnavailableError,
)

__all__ = [
    "Client",
    "Cohort",
    "CohortVersion",
    "Evaluation",
    "IngestResult",
    "LintWarning",
    "Overlap",
    "PlanStep",
    "Rejection",
    "RemoteAlreadyExistsError",
    "RemoteDeadlineError",
    "RemoteDefinitionError",
    "RemoteError",
    "RemoteLimitError",
    "RemoteNotFoundError",
    "RemoteParseError",
    "RemotePermissionError",
    "RemoteUnauthenticatedError",
    "RemoteUnavailableError",
]
