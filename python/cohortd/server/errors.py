"""The one place where errors become gRPC status codes.

Every RPC handler runs inside :class:`ErrorInterceptor` (a grpc.aio interceptor); an exception of the
package's tree (:mod:`cohortd.errors`) leaving a handler becomes the status
code of :data:`STATUS_BY_ERROR` with the exception's message as details, so a
caller sees e.g. ``INVALID_ARGUMENT: line 2, column 7: unknown operator '=>'
(expected one of == != < <= > >=)``.  Anything else is a bug: it is logged
with its traceback and answered ``INTERNAL`` without leaking internals.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from cohortd.errors import (
    AlreadyExistsError,
    ArchivedCohortError,
    AudienceError,
    BrokenCohortError,
    CancelledError,
    CohortError,
    CorruptionError,
    DefinitionError,
    IngestError,
    InvalidArgumentError,
    KernelError,
    LimitExceededError,
    NotFoundError,
    NotInClusterError,
    ParseError,
    PermissionDeniedError,
    ReferencedError,
    ResyncRequired,
    ShardUnavailableError,
    ShuttingDown,
    StorageError,
    StorageFullError,
    UnauthenticatedError,
    WireFormatError,
)

__all__ = [
    "STATUS_BY_ERROR",
    "ErrorInterceptor",
    "abort_for",
    "status_for",
    "wrap_errors",
]

log = logging.getLogger("cohortd.server")


# Checked in order: the first class the exception is an instance of wins.
STATUS_BY_ERROR: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (ParseError, grpc.StatusCode.INVALID_ARGUMENT),
    (DefinitionError, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
    (AudienceError, grpc.StatusCode.INVALID_ARGUMENT),  # bad destination / audience option
    (WireFormatError, grpc.StatusCode.INVALID_ARGUMENT),
    (IngestError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED),  # the HTTP API's key and session checks
    (PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (LimitExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (CancelledError, grpc.StatusCode.CANCELLED),
    (BrokenCohortError, grpc.StatusCode.FAILED_PRECONDITION),  # fixed by updating the definition
    (ArchivedCohortError, grpc.StatusCode.FAILED_PRECONDITION),  # fixed by unarchiving it
    (ReferencedError, grpc.StatusCode.FAILED_PRECONDITION),  # fixed by removing the references first
    (StorageFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),  # disk full: nothing stored, retry later
    (CorruptionError, grpc.StatusCode.DATA_LOSS),  # a damaged file: the project refuses to open
    (StorageError, grpc.StatusCode.UNAVAILABLE),  # an I/O failure: nothing stored, retryable
    (KernelError, grpc.StatusCode.INTERNAL),
    # Watch / Changes: the change log no longer reaches back to the version asked for.  Like
    # Kafka's "offset out of range": reading before the start of the log; the client must
    # read the members again and watch from their version (the SDK raises ResyncRequired).
    (ResyncRequired, grpc.StatusCode.OUT_OF_RANGE),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),  # retryable: the SDK's watch resumes
    (ShardUnavailableError, grpc.StatusCode.UNAVAILABLE),  # a cluster shard is restarting: retryable
    (NotInClusterError, grpc.StatusCode.UNIMPLEMENTED),
    (CohortError, grpc.StatusCode.FAILED_PRECONDITION),  # e.g. "workspace is closed" while draining
)


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """(status code, details) for a domain error; None for an unexpected exception."""
    for cls, code in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return code, str(exc) or cls.__name__
    return None


#: Trailing metadata on INVALID_ARGUMENT for a ParseError, so clients can point at the spot.
LINE_KEY, COLUMN_KEY, EXPECTED_KEY, MESSAGE_KEY = (
    "cohortd-error-line",
    "cohortd-error-column",
    "cohortd-error-expected-bin",  # -bin: UTF-8 bytes (the text may be any Unicode)
    "cohortd-error-message-bin",
)


async def abort_for(exc: BaseException, context: grpc.aio.ServicerContext, method: str) -> None:
    """End the call with the status of ``exc`` (always raises)."""
    if isinstance(exc, ParseError):
        md: list[tuple[str, str | bytes]] = [
            (LINE_KEY, str(exc.line)),
            (COLUMN_KEY, str(exc.column)),
            (MESSAGE_KEY, exc.message.encode()),
        ]
        if exc.expected:
            md.append((EXPECTED_KEY, exc.expected.encode()))
        context.set_trailing_metadata(md)
    mapped = status_for(exc)
    if mapped is None:
        log.error("unexpected error in %s", method, exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method} ({type(exc).__name__})")
    else:
        await context.abort(*mapped)


def _wrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """The handler (async: see ``server/dispatch.py``) with exceptions mapped to status codes."""
    if handler.unary_unary is not None or handler.stream_unary is not None:
        field = "unary_unary" if handler.unary_unary is not None else "stream_unary"
        fn = getattr(handler, field)

        @functools.wraps(fn)
        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await fn(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_for(exc, context, method)

        return handler._replace(**{field: unary})
    field = "unary_stream" if handler.unary_stream is not None else "stream_stream"
    fn = getattr(handler, field)

    @functools.wraps(fn)
    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            async for item in fn(request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_for(exc, context, method)

    return handler._replace(**{field: stream})


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps exceptions leaving any handler to status codes (wrapped handlers are cached per method)."""

    def __init__(self) -> None:
        self._cache: dict[str, grpc.RpcMethodHandler | None] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        try:
            return self._cache[method]
        except KeyError:
            pass
        handler = await continuation(handler_call_details)
        wrapped = None if handler is None else _wrap(handler, method)
        if wrapped is not None and hasattr(handler, "_replace"):
            self._cache[method] = wrapped
        return wrapped


def wrap_errors(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """``handler`` with exceptions mapped to status codes, as :class:`ErrorInterceptor` returns it
    (``server/app.py`` wraps each method once instead of intercepting every call)."""
    if not hasattr(handler, "_replace"):
        return handler
    return _wrap(handler, method)
