"""Partial answers on request: a client that sends ``cohortd-partial: 1`` accepts shards left out.

Without the header a read that needs a down shard fails UNAVAILABLE (never a
silently partial answer).  With it, Evaluate, Members and Overlap answer from
the shards that are up, and the call's trailing metadata
``cohortd-missing-shards`` lists the shards left out (e.g. ``"1,3"``).
The SDK sends the header with ``Client(..., partial=True)``.

The interceptor runs before the dispatcher, which runs the handler in a copy
of this context: the list set here is the one the router appends to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import grpc

__all__ = ["MISSING_HEADER", "PARTIAL", "PARTIAL_HEADER", "PartialInterceptor", "asked_partial", "missing"]

PARTIAL_HEADER = "cohortd-partial"
MISSING_HEADER = "cohortd-missing-shards"

PARTIAL: ContextVar[list[int] | None] = ContextVar("cohortd_partial", default=None)
"""In a call that accepts a partial answer: the shards left out so far (None: no partial answers)."""


def asked_partial() -> bool:
    """Whether the current call accepts a partial answer."""
    return PARTIAL.get() is not None


def missing(shards: list[int]) -> None:
    """Record shards left out of the current call's answer."""
    out = PARTIAL.get()
    if out is not None:
        out.extend(shards)


def _trailer(context: grpc.aio.ServicerContext, left_out: list[int]) -> None:
    if left_out:
        context.set_trailing_metadata(((MISSING_HEADER, ",".join(str(s) for s in sorted(set(left_out)))),))


class PartialInterceptor(grpc.aio.ServerInterceptor):
    """Marks calls carrying ``cohortd-partial: 1`` and reports the shards left out."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        metadata = handler_call_details.invocation_metadata or ()
        asked = any(k == PARTIAL_HEADER and str(v).lower() in ("1", "true") for k, v in metadata)
        if handler is None or not asked:
            return handler
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def partial_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                left_out: list[int] = []
                token = PARTIAL.set(left_out)
                try:
                    return await unary(request, context)
                finally:
                    PARTIAL.reset(token)
                    _trailer(context, left_out)

            return handler._replace(unary_unary=partial_unary)
        if handler.unary_stream is not None:
            stream = handler.unary_stream

            async def partial_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                left_out: list[int] = []
                PARTIAL.set(left_out)  # this call's own task context
                async for item in stream(request, context):
                    yield item
                _trailer(context, left_out)

            return handler._replace(unary_stream=partial_stream)
        return handler
