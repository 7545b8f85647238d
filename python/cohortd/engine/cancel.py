"""Cooperative stopping of long work: a deadline and a cancel flag for the current call.

The server opens a :func:`scope` around each request it runs on a worker
thread; evaluation calls :func:`check` between kernel calls, so a query whose
client gave up (deadline passed, call cancelled) stops at the next condition
instead of running to the end.  Outside a scope (embedded use) ``check`` is
a no-op.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cohortd.errors import CancelledError, DeadlineExceededError

__all__ = ["Scope", "check", "scope"]


@dataclass(frozen=True)
class Scope:
    """When the current call must stop: a monotonic deadline (None: none) and a cancel event."""

    deadline: float | None
    cancelled: threading.Event

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceededError("the deadline passed before the work was done")
        if self.cancelled.is_set():
            raise CancelledError("the call was cancelled by its client")


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("cohortd_cancel", default=None)


@contextmanager
def scope(timeout_s: float | None, cancelled: threading.Event) -> Iterator[Scope]:
    """Run the body as one call that stops after ``timeout_s`` seconds or once ``cancelled`` is set."""
    current = Scope(None if timeout_s is None else time.monotonic() + timeout_s, cancelled)
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
