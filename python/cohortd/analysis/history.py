"""Per saved cohort: its daily size history and when a person or service last read it.

Kept in its own SQLite file next to the catalog (``cohort_stats.sqlite``) so
the catalog's schema stays the catalog's.

- Daily sizes are stored per definition version at UTC midnights, as the exact
  as-of evaluation gave them when first computed (a daily snapshot: later
  events about the past do not rewrite a recorded day).  They are written by
  the day's first ingested batch (``analysis/know.py``) and by population
  series.  A ``1d`` population
  series of a saved cohort whose days are all recorded is read from here.
- ``last_viewed`` is stamped by user reads only (evaluate, members,
  membership checks, overlap, breakdown, population), never by maintenance
  or lint; written at most once a minute per cohort to keep SQLite off the
  hot path (so it is precise to a minute).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from cohortd.errors import StorageError
from cohortd.times import DAY_MS

__all__ = ["DAY_MS", "CohortStats"]

VIEW_WRITE_INTERVAL_MS = 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS daily_sizes (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    day_ms  INTEGER NOT NULL,
    size    INTEGER NOT NULL,
    entered INTEGER,  -- since the day before; NULL when that day was not computed in the same pass
    exited  INTEGER,
    PRIMARY KEY (name, version, day_ms)
);
CREATE TABLE IF NOT EXISTS views (
    name           TEXT PRIMARY KEY,
    last_viewed_ms INTEGER NOT NULL
);
"""


class CohortStats:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._viewed: dict[str, int] = {}
        self._written: dict[str, int] = {}
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            for name, ms in self._db.execute("SELECT name, last_viewed_ms FROM views"):
                self._viewed[name] = self._written[name] = ms
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from exc

    # -------------------------------------------------------------- sizes
    def daily_sizes(
        self, name: str, version: int, days: list[int]
    ) -> dict[int, tuple[int, int | None, int | None]]:
        """Recorded (size, entered, exited) of the given UTC midnights (missing days are absent)."""
        if not days:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT day_ms, size, entered, exited FROM daily_sizes"
                " WHERE name = ? AND version = ? AND day_ms BETWEEN ? AND ?",
                (name, version, min(days), max(days)),
            ).fetchall()
        wanted = set(days)
        return {d: (s, e, x) for d, s, e, x in rows if d in wanted}

    def record_sizes(
        self, name: str, version: int, points: list[tuple[int, int, int | None, int | None]]
    ) -> None:
        """Record (day, size, entered, exited) points; a day's better-known entry/exit counts win."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO daily_sizes VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(name, version, day_ms) DO UPDATE SET"
                " entered = COALESCE(entered, excluded.entered), exited = COALESCE(exited, excluded.exited)",
                [(name, version, *pt) for pt in points],
            )
            self._db.execute("COMMIT")

    # -------------------------------------------------------------- views
    def viewed(self, name: str, ms: int) -> None:
        """Stamp a user read of ``name`` at wall time ``ms`` (persisted at most once a minute)."""
        if ms <= self._viewed.get(name, -1):
            return
        due = self.view_write_due(name, ms)
        self._viewed[name] = ms
        if due:
            self._written[name] = ms
            with self._lock:
                self._db.execute(
                    "INSERT INTO views VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET"
                    " last_viewed_ms = MAX(last_viewed_ms, excluded.last_viewed_ms)",
                    (name, ms),
                )

    def view_write_due(self, name: str, ms: int) -> bool:
        """Whether stamping a read of ``name`` at ``ms`` would write to SQLite (the membership fast
        path leaves such writes to a worker)."""
        return ms > self._viewed.get(name, -1) and ms >= self.next_view_write_ms(name)

    def next_view_write_ms(self, name: str) -> int:
        """The earliest wall time at which a read of ``name`` is written to SQLite again."""
        return self._written.get(name, -VIEW_WRITE_INTERVAL_MS) + VIEW_WRITE_INTERVAL_MS

    def viewed_in_memory(self, names: Iterable[str], ms: int) -> None:
        """``viewed`` for reads known to be before ``next_view_write_ms`` of each name (no write)."""
        viewed = self._viewed
        for name in names:
            if ms > viewed.get(name, -1):
                viewed[name] = ms

    def last_viewed(self, name: str) -> int | None:
        return self._viewed.get(name)

    def close(self) -> None:
        with self._lock:
            for name, ms in self._viewed.items():  # the stamps the throttle held back
                if ms != self._written.get(name):
                    self._db.execute(
                        "INSERT INTO views VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET"
                        " last_viewed_ms = MAX(last_viewed_ms, excluded.last_viewed_ms)",
                        (name, ms),
                    )
            self._db.close()
