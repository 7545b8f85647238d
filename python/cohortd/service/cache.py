"""Results of saved cohorts at explicit as-of times, cached per project.

Keyed by (cohort name, versions of the cohort and every cohort it references,
engine data version, as-of ms, kernel) in a bounded LRU that is cleared when
the data version moves on.  Concurrent requests for one key evaluate once:
the others wait for it and reuse the answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["CACHE_ENTRIES", "ResultCache"]

CACHE_ENTRIES = 512
"""Cached cohort results per project (LRU)."""


class ResultCache:
    """A bounded LRU of evaluation results for one engine data version at a time."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._lock = threading.Lock()
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._data_version = -1
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def get_or_compute(
        self, key: Hashable, data_version: int, compute: Callable[[], Any]
    ) -> tuple[Any, bool]:
        """(result, whether it was computed now) for ``key`` at ``data_version``."""
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit, False
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:  # one evaluation per key at a time; the others wait and reuse it
                with self._lock:
                    hit = self._cache.get(key)
                    if hit is not None:
                        return hit, False
                result = compute()
                with self._lock:
                    if data_version > self._data_version:  # new data: every older entry is dead
                        self._cache.clear()
                        self._data_version = data_version
                    if data_version == self._data_version:
                        self._cache[key] = result
                        while len(self._cache) > self.entries:
                            self._cache.popitem(last=False)
        finally:
            with self._lock:
                self._key_locks.pop(key, None)
        return result, True
