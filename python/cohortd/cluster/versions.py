"""Cluster versions: one number per vector of shard change-log versions, kept on disk.

Each shard's maintainer numbers its own changes.  A client of the cluster sees
one version per answer and per Watch event; that number names the vector of
shard versions the answer was read at, recorded in ``versions.sqlite`` before
it is handed out.  Resuming from it reads, on every shard, the changes after
that shard's entry of the vector: nothing is lost or sent twice, across router
restarts too.  Numbers only grow (SQLite's AUTOINCREMENT), so a stream's
versions are monotonic.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cohortd.errors import ResyncRequired

__all__ = ["POLL_S", "REFRESH_S", "ClusterVersions"]

POLL_S = 0.05
"""How often waiting for a change re-reads the shards' versions."""

REFRESH_S = 1.0
"""How often waiting for a change also refreshes the watched percentile cohorts."""


class ClusterVersions:
    """The ``maintainer`` face of a cluster project: ``version``, ``wait`` and the vector map."""

    def __init__(
        self,
        path: Path,
        read_vector: Callable[[], tuple[int, ...]],
        membership: Callable[[str], Any] | None = None,
        refresh: Callable[[], None] | None = None,
    ) -> None:
        self._read = read_vector
        self._membership = membership
        self._refresh = refresh
        """Refreshes the watched percentile cohorts (``cluster/percentiles.py``) before a version is read."""
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS versions"
            " (version INTEGER PRIMARY KEY AUTOINCREMENT, vector TEXT NOT NULL)"
        )
        self._lock = threading.Lock()
        row = self._db.execute(
            "SELECT version, vector FROM versions ORDER BY version DESC LIMIT 1"
        ).fetchone()
        self._latest: tuple[int, tuple[int, ...]] | None = (
            None if row is None else (int(row[0]), tuple(json.loads(row[1])))
        )
        self.log_limit: int | None = None  # the servicer sets it; each shard keeps its own log

    def register(self, vector: Sequence[int], fresh: bool = False) -> int:
        """The cluster version naming ``vector`` (a new one unless it is the latest, or ``fresh``)."""
        vec = tuple(int(v) for v in vector)
        with self._lock:
            if not fresh and self._latest is not None and self._latest[1] == vec:
                return self._latest[0]
            cur = self._db.execute("INSERT INTO versions (vector) VALUES (?)", (json.dumps(vec),))
            version = int(cur.lastrowid or 0)
            self._latest = (version, vec)
            return version

    def vector(self, version: int) -> tuple[int, ...]:
        """The shard versions a cluster version names; ``ResyncRequired`` for one never handed out."""
        with self._lock:
            row = self._db.execute(
                "SELECT vector FROM versions WHERE version = ?", (int(version),)
            ).fetchone()
        if row is None:
            raise ResyncRequired(
                f"cluster version {version} is not one this cluster handed out; "
                "read the members again and watch from their version"
            )
        return tuple(json.loads(row[0]))

    @property
    def version(self) -> int:
        """The current cluster version (reads every shard's version, after a percentile refresh)."""
        if self._refresh is not None:
            self._refresh()
        return self.register(self._read())

    def membership(self, cohort: str) -> Any:
        """The cohort's members at a cluster version (``cohortd.cluster.audiences``), for deliveries."""
        assert self._membership is not None
        return self._membership(cohort)

    def wait(self, after_version: int, timeout: float) -> bool:
        """Block until some shard moved past the vector of ``after_version`` (or timeout)."""
        import time

        try:
            start = self.vector(after_version)
        except ResyncRequired:
            return True
        deadline = time.monotonic() + timeout
        refresh_at = time.monotonic() + REFRESH_S
        while True:
            try:
                if self._read() != start:
                    return True
                if self._refresh is not None and time.monotonic() >= refresh_at:
                    refresh_at = time.monotonic() + REFRESH_S
                    if self.version > after_version:  # a percentile cohort moved with the clock
                        return True
            except Exception:  # a shard restarting: keep waiting, the stream reports it when it reads
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)

    def close(self) -> None:
        self._db.close()
