"""The one place where errors become gRPC status codes.

Every RPC handler runs inside :class:`ErrorInterceptor`; an exception of the
package's tree (:mod:`cohortd.errors`) leaving a handler becomes the status
code of :data:`STATUS_BY_ERROR` with the exception's message as details, so a
caller sees e.g. ``INVALID_ARGUMENT: line 2, column 7: unknown operator '=>'
(expected one of == != < <= > >=)``.  Anything else is a bug: it is logged
with its traceback and answered ``INTERNAL`` without leaking internals.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from cohortd.audiences.model import AudienceError
from cohortd.engine.maintain import ResyncRequired
from cohortd.errors import (
    AlreadyExistsError,
    CohortError,
    CorruptionError,
    DefinitionError,
    IngestError,
    KernelError,
    LimitExceededError,
    NotFoundError,
    ParseError,
    StorageError,
    StorageFullError,
)
from cohortd.wire import WireFormatError
from cohortd.workspace import InvalidArgumentError

__all__ = [
    "STATUS_BY_ERROR",
    "DeadlineExceeded",
    "ErrorInterceptor",
    "InvalidArgumentError",
    "ResyncRequired",
    "ShuttingDown",
    "status_for",
]

log = logging.getLogger("cohortd.server")


class DeadlineExceeded(TimeoutError):
    """The client's deadline passed before the work was done."""


class ShuttingDown(CohortError):
    """The server is stopping; a long-running call (Watch) ends so the client can resume elsewhere."""


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
    (LimitExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (StorageFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),  # disk full: nothing stored, retry later
    (CorruptionError, grpc.StatusCode.DATA_LOSS),  # a damaged file: the project refuses to open
    (StorageError, grpc.StatusCode.UNAVAILABLE),  # an I/O failure: nothing stored, retryable
    (KernelError, grpc.StatusCode.INTERNAL),
    # Watch / Changes: the change log no longer reaches back to the version asked for.  Like
    # Kafka's "offset out of range": reading before the start of the log; the client must
    # read the members again and watch from their version (the SDK raises ResyncRequired).
    (ResyncRequired, grpc.StatusCode.OUT_OF_RANGE),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),  # retryable: the SDK's watch resumes
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


def _abort(exc: Exception, context: grpc.ServicerContext, method: str) -> None:
    if context.code() is not None:  # already aborted (auth, limits): keep that status
        raise exc
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
        log.exception("unexpected error in %s", method)
        context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method} ({type(exc).__name__})")
    else:
        context.abort(*mapped)


def _wrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        fn = handler.unary_unary

        @functools.wraps(fn)
        def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return fn(request, context)
            except Exception as exc:
                _abort(exc, context, method)

        return handler._replace(unary_unary=unary_unary)
    if handler.stream_unary is not None:
        fn = handler.stream_unary

        @functools.wraps(fn)
        def stream_unary(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            try:
                return fn(requests, context)
            except Exception as exc:
                _abort(exc, context, method)

        return handler._replace(stream_unary=stream_unary)
    if handler.unary_stream is not None:
        fn = handler.unary_stream

        @functools.wraps(fn)
        def unary_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from fn(request, context)
            except Exception as exc:
                _abort(exc, context, method)

        return handler._replace(unary_stream=unary_stream)
    fn = handler.stream_stream

    @functools.wraps(fn)
    def stream_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from fn(requests, context)
        except Exception as exc:
            _abort(exc, context, method)

    return handler._replace(stream_stream=stream_stream)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Maps exceptions leaving any handler to status codes (wrapped handlers are cached per method)."""

    def __init__(self) -> None:
        self._cache: dict[str, grpc.RpcMethodHandler | None] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        try:
            return self._cache[method]
        except KeyError:
            pass
        handler = continuation(handler_call_details)
        wrapped = None if handler is None else _wrap(handler, method)
        if wrapped is not None and hasattr(handler, "_replace"):
            self._cache[method] = wrapped
        return wrapped
