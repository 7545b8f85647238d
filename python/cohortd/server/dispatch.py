"""Where each call runs: the event loop (idle streams), a cheap-read pool, or the work pool.

The server is grpc.aio (``app.py``): a call waiting on something (an idle
``Watch`` stream, a client-streaming upload between messages) is a suspended
coroutine and holds no thread.  The servicers stay plain synchronous code;
:class:`Dispatcher`, the innermost interceptor, runs each synchronous handler
on a thread pool chosen per call:

* cheap reads (``IsMember``, ``CheckMembership``, ``GetCohort``,
  ``ListCohorts``, ``Changes``, ``UserCohorts``, ``CohortHistory``, answered
  from materialised members or the catalog) run on their own small pool, so
  they never queue behind evaluations; the same calls with an explicit
  ``as_of`` evaluate, so they go to the work pool;
* everything else (evaluations, ingest, other services) runs on the work
  pool, which admits at most ``Limits.max_pending_calls`` calls at a time
  (running or queued); past that a call is refused at once with
  RESOURCE_EXHAUSTED naming the limit, instead of waiting without bound.

A method may also have an *inline* handler (``CohortdServicer.inline_handlers``:
``IsMember`` and ``CheckMembership``), tried first on the event loop itself: it
answers from maintained members in microseconds and never waits (no lock, no
I/O, no project opening), or returns None and the call goes to its pool as
above.  A thread hop costs more than such an answer.

Each call runs inside :func:`cohortd.engine.cancel.scope`, which evaluation
checks between kernel calls: a call whose deadline passed or whose client
cancelled stops at the next condition, and a condition needing more kernel
input than ``Limits.query_memory_bytes`` is RESOURCE_EXHAUSTED.  A request that protobuf cannot
decode (e.g. nested past its recursion limit) is INVALID_ARGUMENT.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import grpc

from cohortd.engine import cancel
from cohortd.errors import CancelledError, DeadlineExceededError, LimitExceededError

__all__ = ["CHEAP_METHODS", "Dispatcher", "SyncContext"]

CHEAP_METHODS = frozenset(
    f"/cohortd.v1.Cohortd/{m}"
    for m in ("IsMember", "CheckMembership", "GetCohort", "ListCohorts", "Changes", "UserCohorts",
              "CohortHistory")
)  # fmt: skip

_DONE = object()

log = logging.getLogger("cohortd.server")


class _Aborted(Exception):
    """``context.abort`` called by a synchronous handler; re-raised on the call's real context."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _Undecodable:
    """Stands in for a request message protobuf refused to decode."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _safe(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # DecodeError, recursion limit...
            return _Undecodable(exc)

    return decode


def _undecodable_details(request: _Undecodable) -> str:
    return (
        f"the request message could not be decoded ({type(request.error).__name__}); "
        "a message nested too deeply is refused: send and/or as chains (see expr.proto)"
    )


class SyncContext:
    """What a synchronous handler sees as its ``grpc.ServicerContext``, on a worker thread.

    Reads come from values captured on the loop; ``abort`` raises, and the
    dispatcher ends the real call with that status.
    """

    def __init__(
        self,
        context: grpc.aio.ServicerContext,
        cancelled: threading.Event,
        method: str,
        memory_bytes: int | None,
    ) -> None:
        self.method = method
        self.memory_bytes = memory_bytes
        self._metadata = context.invocation_metadata()
        self._peer = context.peer()
        self._timeout = context.time_remaining()
        self._started = asyncio.get_running_loop().time()
        self._loop = asyncio.get_running_loop()
        self._cancelled = cancelled
        self._callbacks: list[Callable[[], None]] = []
        self._code: grpc.StatusCode | None = None
        self.trailing: tuple[tuple[str, str | bytes], ...] | None = None

    # the subset of grpc.ServicerContext that handlers use
    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        raise _Aborted(code, details)

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_trailing_metadata(self, metadata: Any) -> None:
        self.trailing = tuple(metadata)

    def invocation_metadata(self) -> Any:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def time_remaining(self) -> float | None:
        if self._timeout is None:
            return None
        return self._timeout - (self._loop.time() - self._started)

    def is_active(self) -> bool:
        return not self._cancelled.is_set()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        if self._cancelled.is_set():
            return False
        self._callbacks.append(callback)
        return True

    def finished(self) -> None:
        """The call is over (done, cancelled or past its deadline): stop the work."""
        self._cancelled.set()
        for callback in self._callbacks:
            callback()

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        with (
            cancel.scope(self.time_remaining(), self._cancelled, self.memory_bytes),
            _logged_stop(self.method),
        ):
            cancel.check()
            return fn(*args, self)

    def step(self, items: Iterator[Any]) -> Any:
        with (
            cancel.scope(self.time_remaining(), self._cancelled, self.memory_bytes),
            _logged_stop(self.method),
        ):
            return next(items, _DONE)


@contextmanager
def _logged_stop(method: str) -> Iterator[None]:
    """Log work that stopped early (on the worker: the call's coroutine may already be gone)."""
    try:
        yield
    except (DeadlineExceededError, CancelledError) as exc:
        log.warning("%s stopped before the end: %s", method, exc)
        raise


def _blocking(requests: AsyncIterator[Any], loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    """A client stream as a plain iterator for a worker thread (each message fetched on the loop)."""
    while True:
        future = asyncio.run_coroutine_threadsafe(anext(requests, _DONE), loop)
        item = future.result()
        if item is _DONE:
            return
        if isinstance(item, _Undecodable):
            raise _Aborted(grpc.StatusCode.INVALID_ARGUMENT, _undecodable_details(item))
        yield item


class Dispatcher(grpc.aio.ServerInterceptor):
    """Runs synchronous handlers on the cheap or the work pool (see the module docstring)."""

    def __init__(
        self,
        cheap: ThreadPoolExecutor,
        work: ThreadPoolExecutor,
        max_pending: int,
        memory_bytes: int | None,
        inline: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self.cheap = cheap
        self.inline = dict(inline or {})
        self.work = work
        self.max_pending = max_pending
        self.memory_bytes = memory_bytes
        self.pending = 0  # work-pool calls admitted and not finished (touched on the loop only)
        self._cache: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        cached = self._cache.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None or not hasattr(handler, "_replace"):
            return handler
        wrapped = self.wrap(handler, method)
        self._cache[method] = wrapped
        return wrapped

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """``handler`` run as this dispatcher runs it (what ``intercept_service`` returns, without
        an interceptor's coroutine per call: ``server/app.py`` wraps each method once)."""
        if not hasattr(handler, "_replace"):
            return handler
        return self._wrap(handler, method)

    # ------------------------------------------------------------ routing
    def _pool(self, method: str, request: Any) -> ThreadPoolExecutor:
        if method in CHEAP_METHODS:
            as_of = getattr(request, "HasField", None)
            try:
                explicit = as_of is not None and as_of("as_of")
            except ValueError:  # no as_of field
                explicit = False
            if not explicit:
                return self.cheap
        return self.work

    def _admit(self, pool: ThreadPoolExecutor) -> None:
        if pool is self.work:
            if self.pending >= self.max_pending:
                raise LimitExceededError(
                    f"server busy: {self.pending:,} calls are running or waiting, "
                    f"the limit is {self.max_pending:,} (max_pending_calls); retry later"
                )
            self.pending += 1

    def _release(self, pool: ThreadPoolExecutor) -> None:
        if pool is self.work:
            self.pending -= 1

    # ----------------------------------------------------------- wrapping
    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        handler = handler._replace(request_deserializer=_safe(handler.request_deserializer))
        field = next(
            f for f in ("unary_unary", "unary_stream", "stream_unary", "stream_stream") if getattr(handler, f)
        )
        fn = getattr(handler, field)
        if asyncio.iscoroutinefunction(fn) or _is_async_gen(fn):
            return handler._replace(**{field: _checked_async(fn, field)})
        if field in ("unary_unary", "stream_unary"):
            return handler._replace(**{field: self._unary(fn, method, field == "stream_unary")})
        return handler._replace(**{field: self._stream(fn, method, field == "stream_stream")})

    async def _start(
        self, method: str, request: Any, context: grpc.aio.ServicerContext, streaming_in: bool
    ) -> tuple[ThreadPoolExecutor, SyncContext, Any]:
        if isinstance(request, _Undecodable):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _undecodable_details(request))
        pool = self._pool(method, None if streaming_in else request)
        self._admit(pool)
        sync = SyncContext(context, threading.Event(), method, self.memory_bytes)
        context.add_done_callback(lambda _ctx: sync.finished())
        arg = _blocking(request, asyncio.get_running_loop()) if streaming_in else request
        return pool, sync, arg

    async def _finish_abort(
        self, context: grpc.aio.ServicerContext, sync: SyncContext, exc: _Aborted
    ) -> None:
        if sync.trailing:
            context.set_trailing_metadata(sync.trailing)
        await context.abort(exc.code, exc.details)

    def _unary(self, fn: Callable[..., Any], method: str, streaming_in: bool) -> Callable[..., Any]:
        inline = self.inline.get(method)

        @functools.wraps(fn)
        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if inline is not None and not isinstance(request, _Undecodable):
                answer = inline(request)
                if answer is not None:
                    return answer
            pool, sync, arg = await self._start(method, request, context, streaming_in)
            try:
                # in a copy of this context: what outer wrappers set (e.g. the author) reaches the handler
                run = contextvars.copy_context().run
                return await asyncio.get_running_loop().run_in_executor(pool, run, sync.run, fn, arg)
            except _Aborted as exc:
                await self._finish_abort(context, sync, exc)
            finally:
                self._release(pool)

        return unary

    def _stream(self, fn: Callable[..., Any], method: str, streaming_in: bool) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            pool, sync, arg = await self._start(method, request, context, streaming_in)
            loop = asyncio.get_running_loop()
            try:
                run = contextvars.copy_context().run
                items = await loop.run_in_executor(pool, run, sync.run, fn, arg)
                while True:
                    item = await loop.run_in_executor(pool, run, sync.step, items)
                    if item is _DONE:
                        return
                    yield item
            except _Aborted as exc:
                await self._finish_abort(context, sync, exc)
            finally:
                self._release(pool)

        return stream


def _is_async_gen(fn: Any) -> bool:
    import inspect

    return inspect.isasyncgenfunction(fn)


def _checked_async(fn: Callable[..., Any], field: str) -> Callable[..., Any]:
    """An async handler, refusing an undecodable request first."""
    if field.endswith("_stream"):

        @functools.wraps(fn)
        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if isinstance(request, _Undecodable):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _undecodable_details(request))
            async for item in fn(request, context):
                yield item

        return stream

    @functools.wraps(fn)
    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, _Undecodable):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _undecodable_details(request))
        return await fn(request, context)

    return unary
