"""What the current call may still spend: a deadline, a cancel flag and a memory budget.

The server opens a :func:`scope` around each request it runs on a worker
thread; evaluation calls :func:`check` between kernel calls, so a query whose
client gave up (deadline passed, call cancelled) stops at the next condition
instead of running to the end, and :func:`check_memory` before a kernel call,
so one condition cannot take more working memory than the per-query budget.
Outside a scope (embedded use) both are no-ops.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cohortd.errors import CancelledError, DeadlineExceededError, LimitExceededError

__all__ = ["Scope", "check", "check_memory", "scope"]


@dataclass(frozen=True)
class Scope:
    """When the current call must stop: a monotonic deadline (None: none) and a cancel event."""

    deadline: float | None
    cancelled: threading.Event
    memory_bytes: int | None = None

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceededError("the deadline passed before the work was done")
        if self.cancelled.is_set():
            raise CancelledError("the call was cancelled by its client")


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("cohortd_cancel", default=None)


@contextmanager
def scope(
    timeout_s: float | None, cancelled: threading.Event, memory_bytes: int | None = None
) -> Iterator[Scope]:
    """Run the body as one call that stops after ``timeout_s`` seconds or once ``cancelled`` is set,
    and whose conditions each get at most ``memory_bytes`` of kernel input (None: no budget)."""
    current = Scope(None if timeout_s is None else time.monotonic() + timeout_s, cancelled, memory_bytes)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def check() -> None:
    """Raise DeadlineExceededError / CancelledError when the current call must stop."""
    current = _current.get()
    if current is not None:
        current.check()


def check_memory(nbytes: int, what: str) -> None:
    """Raise LimitExceededError when ``what`` needs more than the current call's memory budget."""
    current = _current.get()
    if current is not None and current.memory_bytes is not None and nbytes > current.memory_bytes:
        mib = 1 << 20
        raise LimitExceededError(
            f"{what} needs about {nbytes / mib:,.0f} MiB of working memory, over the per-query budget "
            f"of {current.memory_bytes / mib:,.0f} MiB (query_memory_bytes); narrow its window or events"
        )
