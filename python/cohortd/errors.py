"""The package's exception tree; every error that leaves cohortd is one of these.

The gRPC layer maps each class to one status code (server/errors.py's one
table), the SDK maps status codes back to these classes, and the Rust kernel
raises one ``KernelError`` subclass per error kind (``KernelPartsError``,
``KernelRangeError``, ``KernelArgumentError``) through ``pyo3::import_exception!``.
Classes that also derive from a built-in (``ValueError``, ``TypeError``, ``TimeoutError``) do so
so that callers catching the built-in keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SDK's errors carry a gRPC status; this module imports nothing at run time
    from grpc import StatusCode


class CohortError(Exception):
    """Base class of every cohortd error."""


class ParseError(CohortError):
    """A cohort definition that does not parse or is invalid; carries line and column."""

    def __init__(self, message: str, line: int, column: int, expected: str | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.expected = expected
        detail = f"line {line}, column {column}: {message}"
        if expected:
            detail += f" (expected {expected})"
        super().__init__(detail)


class DefinitionError(CohortError):
    """A definition that parses but cannot be accepted (type mismatch, cycle, bad number)."""


class InvalidArgumentError(CohortError, ValueError):
    """A request argument that is malformed (project name, as-of time, missing cohort/definition)."""


class ArgumentTypeError(InvalidArgumentError, TypeError):
    """An argument of the wrong Python type (e.g. a bool where epoch milliseconds are expected)."""


class WireFormatError(CohortError, ValueError):
    """A message that does not describe a valid tree or row (the server maps it to INVALID_ARGUMENT)."""


class UsageError(CohortError):
    """A command line that cannot be acted on (the CLI reports it as one line, exit 2)."""


class NotFoundError(CohortError):
    """A named cohort, project or user that does not exist."""


class AlreadyExistsError(CohortError):
    """A cohort name already taken in the project."""


class ArchivedCohortError(CohortError):
    """A change asked of an archived cohort (unarchive it first)."""


class StorageError(CohortError):
    """The data directory is unreadable, inconsistent or not writable."""


class DataDirectoryLockedError(StorageError):
    """Another process holds the data directory open for writing (the message names its pid)."""


class ListenError(CohortError, OSError):
    """The server cannot listen on the address asked for (in use, or not an address of this host)."""


class IngestError(CohortError):
    """An input file or batch that cannot be read at all (nothing was written)."""


class KernelError(CohortError):
    """A kernel was called with inconsistent arguments (base of the kernel's typed errors)."""


class KernelPartsError(KernelError):
    """Column parts that do not fit together (part counts or lengths differ, a part not contiguous)."""


class KernelRangeError(KernelError):
    """An id (user, event type, matrix row or column) past the end of the table it indexes."""


class KernelArgumentError(KernelError):
    """A kernel parameter outside its domain (period, depth, steps, function name, bitmap bytes)."""


class LimitExceededError(CohortError):
    """A request past a configured size or batch limit."""


class BrokenCohortError(CohortError):
    """A saved cohort whose stored definition no longer passes the checks (fix it with an update)."""


class StorageFullError(StorageError, OSError):
    """The disk (or quota) is full: nothing of the batch was stored; retry once space returns."""


class DirSyncError(StorageError, OSError):
    """A commit file (the manifest) was renamed into place but its directory fsync failed.

    The new file is visible but may not survive a power loss: the store keeps the
    files of both the old and the new version until a later fsync succeeds.
    """


class CorruptionError(StorageError):
    """A file of the data directory is damaged (bad checksum, damaged log record, missing manifest)."""


class DeadlineExceededError(CohortError, TimeoutError):
    """The caller's deadline passed before the work was done (the work stopped)."""


class CancelledError(CohortError):
    """The caller went away (cancelled the call); the work stopped."""


class ResyncRequired(CohortError):
    """The change log no longer reaches back to the requested version."""


class ShuttingDown(CohortError):
    """The server is stopping; a long-running call (Watch) ends so the client can resume elsewhere."""


class ShardUnavailableError(CohortError):
    """A cluster shard the answer needs is down (restarting); retryable (``cohortd.cluster``)."""


class NotInClusterError(CohortError):
    """The operation is not available when the project is served by a cluster (yet)."""


class UnauthenticatedError(CohortError):
    """No API key (or console session), or one the server does not know."""


class LoginRequired(UnauthenticatedError):
    """A console page asked for without a valid session: the console answers with its login page."""


class PermissionDeniedError(CohortError, PermissionError):
    """A known API key used on a project it does not list, or a browser request refused
    (another origin, a missing or wrong CSRF token)."""


class ReferencedError(CohortError):
    """A cohort cannot be deleted or renamed while something refers to it (``cohortd.governance``)."""


class AudienceError(CohortError, ValueError):
    """A destination or audience request that cannot be accepted (bad option, bad name)."""


# ------------------------------------------------------------ the SDK's errors
# A status code from the server arrives as one of these (``cohortd.client`` maps the codes): each is
# the embedded error of the same meaning too, so a caller handles embedded and remote failures alike.
class RemoteError(CohortError):
    """A call that failed on the server or on the way; ``code`` is the gRPC status."""

    def __init__(self, code: StatusCode, details: str) -> None:
        self.code = code
        self.details = details
        super().__init__(f"{code.name}: {details}")


class RemoteParseError(ParseError, RemoteError):
    """INVALID_ARGUMENT for a definition that does not parse; ``line``/``column`` point at it."""

    def __init__(
        self, code: StatusCode, details: str, message: str, line: int, column: int, expected: str | None
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


class RemoteUnauthenticatedError(RemoteError, UnauthenticatedError):
    """UNAUTHENTICATED: no or an unknown API key."""


class RemotePermissionError(RemoteError, PermissionDeniedError):
    """PERMISSION_DENIED: the API key may not use this project."""


class RemoteDeadlineError(RemoteError, TimeoutError):
    """DEADLINE_EXCEEDED."""


class RemoteUnavailableError(RemoteError, ConnectionError):
    """UNAVAILABLE after every retry."""


class RemoteResyncRequired(RemoteError, ResyncRequired):
    """OUT_OF_RANGE from Watch/Changes: the change log no longer reaches back to the version;
    read the members again (``member_snapshot``) and watch from their version."""
