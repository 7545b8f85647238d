"""Wakes a project's idle Watch streams when its change log moves on.

One thread per watched project blocks on the maintainer's condition and, on
a new version, resolves the futures that the Watch coroutines await on the
event loop.  So an idle stream is a suspended coroutine: thousands of them
cost no thread and no polling.
"""

from __future__ import annotations

import asyncio
import threading

from cohortd.engine.maintain import Maintainer

__all__ = ["INLINE_WATCH_USERS", "VersionFeed"]

WAIT_S = 1.0
"""How long the feed thread blocks at a time (it also notices ``close`` this often)."""

INLINE_WATCH_USERS = 1024
"""A Watch decodes its next changes on the event loop when they name at most this many users
(well under a millisecond, and each set under the dictionary's direct-decode size, so never a
rebuild of its Arrow cache there); more go to the read pool."""


class VersionFeed:
    """The latest change-log version of one project, awaitable from the event loop."""

    def __init__(self, maintainer: Maintainer, loop: asyncio.AbstractEventLoop) -> None:
        self.maintainer = maintainer
        self.loop = loop
        self.version = maintainer.version
        self._waiters: set[asyncio.Future[None]] = set()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cohortd-watch-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = self.version
        while not self._closed.is_set():
            self.maintainer.wait(seen, WAIT_S)
            current = self.maintainer.version
            if current != seen:
                seen = current
                try:
                    self.loop.call_soon_threadsafe(self._publish, current)
                except RuntimeError:  # the loop is closed: the server is gone
                    return

    def _publish(self, version: int | None = None) -> None:
        if version is not None:
            self.version = version
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_past(self, version: int) -> None:
        """Return once the log is past ``version`` (or the feed is woken by ``wake``)."""
        if self.version > version:
            return
        waiter = self.loop.create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)

    def wake(self) -> None:
        """Wake every waiter now (from any thread), e.g. so streams notice a shutdown."""
        self.loop.call_soon_threadsafe(self._publish)

    def close(self) -> None:
        self._closed.set()
        self.wake()
