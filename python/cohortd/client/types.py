"""The values the SDK returns (re-exported from :mod:`cohortd.types`) and the errors it raises.

Errors are the package's own exception tree (defined in :mod:`cohortd.errors`) so SDK
users and the CLI handle embedded and remote failures alike: a ``NOT_FOUND``
status arrives as :class:`RemoteNotFoundError` (a ``NotFoundError``), a bad
definition as :class:`RemoteParseError` (a ``ParseError`` with ``line`` and
``column``), and so on.  Every one is a :class:`RemoteError` carrying the
gRPC ``code`` and ``details``.
"""

from __future__ import annotations

import grpc

from cohortd.errors import (
    RemoteAlreadyExistsError,
    RemoteDeadlineError,
    RemoteDefinitionError,
    RemoteError,
    RemoteLimitError,
    RemoteNotFoundError,
    RemoteParseError,
    RemotePermissionError,
    RemoteResyncRequired,
    RemoteUnauthenticatedError,
    RemoteUnavailableError,
)
from cohortd.types import (
    Change,
    ChangesResult,
    Cohort,
    CohortVersion,
    Evaluation,
    IngestResult,
    LintWarning,
    MemberSnapshot,
    Overlap,
    PlanStep,
    Rejection,
)

__all__ = [
    "Change",
    "ChangesResult",
    "Cohort",
    "CohortVersion",
    "Evaluation",
    "IngestResult",
    "LintWarning",
    "MemberSnapshot",
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
    "RemoteResyncRequired",
    "RemoteUnauthenticatedError",
    "RemoteUnavailableError",
]


ERROR_BY_CODE: dict[grpc.StatusCode, type[RemoteError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: RemoteDefinitionError,
    grpc.StatusCode.NOT_FOUND: RemoteNotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: RemoteAlreadyExistsError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RemoteLimitError,
    grpc.StatusCode.UNAUTHENTICATED: RemoteUnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: RemotePermissionError,
    grpc.StatusCode.DEADLINE_EXCEEDED: RemoteDeadlineError,
    grpc.StatusCode.UNAVAILABLE: RemoteUnavailableError,
    grpc.StatusCode.OUT_OF_RANGE: RemoteResyncRequired,
}
