"""The values the SDK returns (re-exported from :mod:`cohortd.types`) and the errors it raises.

Errors are the package's own exception tree (:mod:`cohortd.errors`) so SDK
users and the CLI handle embedded and remote failures alike: a ``NOT_FOUND``
status arrives as :class:`RemoteNotFoundError` (a ``NotFoundError``), a bad
definition as :class:`RemoteParseError` (a ``ParseError`` with ``line`` and
``column``), and so on.  Every one is a :class:`RemoteError` carrying the
gRPC ``code`` and ``details``.
"""

from __future__ import annotations

import grpc

from cohortd.errors import (
    AlreadyExistsError,
    CohortError,
    DefinitionError,
    LimitExceededError,
    NotFoundError,
    ParseError,
    ResyncRequired,
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


# ------------------------------------------------------------------ errors
class RemoteError(CohortError):
    """A call that failed on the server or on the way; ``code`` is the gRPC status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        self.details = details
        super().__init__(f"{code.name}: {details}")


class RemoteParseError(ParseError, RemoteError):
    """INVALID_ARGUMENT for a definition that does not parse; ``line``/``column`` point at it."""

    def __init__(
        self, code: grpc.StatusCode, details: str, message: str, line: int, column: int, expected: str | None
    ) -> None:
        # ParseError's attributes, RemoteError's attributes, the server's text as the message
        self.message, self.line, self.column, self.expected = message, line, column, expected
        self.code, self.details = code, details
        Exception.__init__(self, details)


class RemoteDefinitionError(RemoteError, DefinitionError):
    """INVALID_ARGUMENT: a definition or argument the server rejected."""


class RemoteNotFoundError(RemoteError, NotFoundError):
    """NOT_FOUND."""


class RemoteAlreadyExistsError(RemoteError, AlreadyExistsError):
    """ALREADY_EXISTS."""


class RemoteLimitError(RemoteError, LimitExceededError):
    """RESOURCE_EXHAUSTED: past a server limit (the details name it)."""


class RemoteUnauthenticatedError(RemoteError):
    """UNAUTHENTICATED: no or an unknown API key."""


class RemotePermissionError(RemoteError, PermissionError):
    """PERMISSION_DENIED: the API key may not use this project."""


class RemoteDeadlineError(RemoteError, TimeoutError):
    """DEADLINE_EXCEEDED."""


class RemoteUnavailableError(RemoteError, ConnectionError):
    """UNAVAILABLE after every retry."""


class RemoteResyncRequired(RemoteError, ResyncRequired):
    """OUT_OF_RANGE from Watch/Changes: the change log no longer reaches back to the version;
    read the members again (``member_snapshot``) and watch from their version."""


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
