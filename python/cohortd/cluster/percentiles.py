"""Watch and Changes of percentile cohorts on a cluster: the router keeps their change log.

A shard's change log of a ``top P%`` cohort follows the shard's own threshold,
not the cluster's, so those logs cannot be merged.  The router keeps the log
instead: each *refresh* evaluates the cohort in two phases at one instant
(every shard's metric distribution, the global threshold, every shard's
selection), registers the cluster version of the shard versions read just
before, and records the difference from the previous refresh as one change
at that version (``percentiles.sqlite``: the last members and the log).

A refresh runs when the cohort is saved, when its members are read "now"
(Evaluate/Members answer with the refresh's version), and before every
Changes/Watch step that asks for it, so members at a version plus the changes
after it are the members of the latest refresh: nothing lost or repeated,
across router restarts too.  A version before the cohort's first refresh
is answered with ``ResyncRequired`` (read the members again).  As in one
process, where percentile cohorts are recomputed on a timer rather than per
event, a change shows at the next refresh, not at the event.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from cohortd.errors import ResyncRequired
from cohortd.types import Change

__all__ = ["PercentileLog"]


class PercentileLog:
    """The last refreshed members of each percentile cohort, and the changes between refreshes."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS members (cohort TEXT PRIMARY KEY, first INTEGER NOT NULL, "
            "version INTEGER NOT NULL, ids TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS changes (cohort TEXT NOT NULL, version INTEGER NOT NULL, "
            "time_ms INTEGER NOT NULL, entered TEXT NOT NULL, exited TEXT NOT NULL, "
            "PRIMARY KEY (cohort, version))"
        )
        self._lock = threading.Lock()

    def record(
        self, cohort: str, version: int, time_ms: int, members: list[str], fresh: Callable[[], int]
    ) -> int:
        """A refresh: ``members`` at ``version``; the difference from the last one is logged.

        Returns the version the members are at: ``fresh()`` (a new cluster version
        naming the same shard versions) when they changed but the shards did not move
        since the last refresh (the clock did: "now" is later).
        """
        with self._lock:
            row = self._db.execute("SELECT version, ids FROM members WHERE cohort = ?", (cohort,)).fetchone()
            self._db.execute("BEGIN IMMEDIATE")
            if row is None:
                self._db.execute(
                    "INSERT INTO members (cohort, first, version, ids) VALUES (?, ?, ?, ?)",
                    (cohort, version, version, json.dumps(members)),
                )
            else:
                before, now = set(json.loads(row[1])), set(members)
                entered, exited = sorted(now - before), sorted(before - now)
                if entered or exited:
                    if version <= row[0]:
                        version = fresh()
                    self._db.execute(
                        "INSERT INTO changes (cohort, version, time_ms, entered, exited) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (cohort, version, time_ms, json.dumps(entered), json.dumps(exited)),
                    )
                    self._db.execute(
                        "UPDATE members SET version = ?, ids = ? WHERE cohort = ?",
                        (version, json.dumps(members), cohort),
                    )
                elif version > row[0]:
                    # Unchanged, but now handed out at ``version``: a later change must be logged
                    # after it (a refresh that read the shard versions before an ingest moved them
                    # and the members after would otherwise log at a version a reader already holds).
                    self._db.execute("UPDATE members SET version = ? WHERE cohort = ?", (version, cohort))
            self._db.execute("COMMIT")
        return version

    def changes(self, cohort: str, after: int, upto: int) -> list[Change]:
        """The logged changes of ``cohort`` in ``(after, upto]``."""
        with self._lock:
            first = self._db.execute("SELECT first FROM members WHERE cohort = ?", (cohort,)).fetchone()
            rows = self._db.execute(
                "SELECT version, time_ms, entered, exited FROM changes WHERE cohort = ? AND version > ? "
                "AND version <= ? ORDER BY version",
                (cohort, after, upto),
            ).fetchall()
        if first is None or after < first[0]:
            since = first[0] if first else "its next refresh"
            raise ResyncRequired(
                f"cohort {cohort!r}: its changes on this cluster are logged from version {since}; "
                "read the members again and watch from their version"
            )
        return [Change(cohort, v, t, json.loads(e), json.loads(x)) for v, t, e, x in rows]

    def rename(self, old: str, new: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE members SET cohort = ? WHERE cohort = ?", (new, old))
            self._db.execute("UPDATE changes SET cohort = ? WHERE cohort = ?", (new, old))
            self._db.execute("COMMIT")

    def drop(self, cohort: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM members WHERE cohort = ?", (cohort,))
            self._db.execute("DELETE FROM changes WHERE cohort = ?", (cohort,))
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
