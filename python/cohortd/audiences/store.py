"""Durable audience state in SQLite: destinations, audiences, what each destination holds, the sync log.

One ``audiences.sqlite`` per project directory, WAL journal with
``synchronous=NORMAL``: every committed transaction survives ``kill -9`` (it is in
the WAL file); a power loss can only drop the last few transactions, which makes
the worker resend batches (under the same keys, or as a fresh difference),
never skip one.  So delivery stays at-least-once without an fsync per batch.

Per audience the store keeps

- the **acknowledged** state: the version the destination has fully
  acknowledged and the member set it then holds (a serialised roaring bitmap
  of dense user ids), so after a restart the next delivery is the exact
  difference between the cohort now and what the destination holds;
- the **pending** delivery, written before its first batch is sent: its version,
  the added and removed sets and how many of its batches were acknowledged.
  After a crash the worker resends the remaining batches under the same
  idempotency keys, then commits ``acknowledged = (held - removed) | added``;
- the sync log: one row per attempt, deleted after 14 days.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroaring import BitMap

from cohortd.audiences.model import LOG_RETENTION_MS, DestinationInfo, SyncAttempt
from cohortd.errors import AlreadyExistsError, NotFoundError, StorageError

__all__ = ["AudienceRecord", "AudienceStore", "Pending", "has_audiences"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS destinations (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    url         TEXT NOT NULL,
    path        TEXT NOT NULL,
    format      TEXT NOT NULL,
    shape       TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audiences (
    name             TEXT PRIMARY KEY,
    uid              TEXT NOT NULL,
    cohort           TEXT NOT NULL,
    destination      TEXT NOT NULL REFERENCES destinations(name),
    identifier       TEXT NOT NULL,
    hashing          TEXT NOT NULL,
    mode             TEXT NOT NULL,
    batch_size       INTEGER NOT NULL,
    paused           INTEGER NOT NULL DEFAULT 0,
    created_ms       INTEGER NOT NULL,
    acked_version    INTEGER NOT NULL DEFAULT 0,
    acked_members    BLOB,
    last_success_ms  INTEGER,
    last_attempt_ms  INTEGER,
    failures         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    pending_version  INTEGER,
    pending_full     INTEGER,
    pending_added    BLOB,
    pending_removed  BLOB,
    pending_skipped  INTEGER,
    pending_of       INTEGER,
    pending_done     INTEGER,
    deliveries       INTEGER NOT NULL DEFAULT 0,
    holdout          REAL NOT NULL DEFAULT 0,
    holdout_members  BLOB
);
CREATE TABLE IF NOT EXISTS sync_log (
    id               INTEGER PRIMARY KEY,
    audience         TEXT NOT NULL,
    time_ms          INTEGER NOT NULL,
    from_version     INTEGER NOT NULL,
    to_version       INTEGER NOT NULL,
    full             INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    of               INTEGER NOT NULL,
    added            INTEGER NOT NULL,
    removed          INTEGER NOT NULL,
    skipped          INTEGER NOT NULL,
    skip_reason      TEXT NOT NULL,
    status           TEXT NOT NULL,
    http_status      INTEGER NOT NULL,
    error            TEXT NOT NULL,
    latency_ms       REAL NOT NULL,
    idempotency_key  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    audience    TEXT NOT NULL,
    user        INTEGER NOT NULL,
    entered_ms  INTEGER NOT NULL,
    held_out    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_audience ON entries (audience, entered_ms);
CREATE INDEX IF NOT EXISTS sync_log_audience ON sync_log (audience, id);
CREATE INDEX IF NOT EXISTS sync_log_time ON sync_log (time_ms);
"""

_AUDIENCE_COLUMNS = (
    "name, uid, cohort, destination, identifier, hashing, mode, batch_size, paused, created_ms, "
    "acked_version, last_success_ms, last_attempt_ms, failures, last_error, holdout"
)
_ADDED_COLUMNS = {  # columns added after the first release of the store: added to older files on open
    "deliveries": "INTEGER NOT NULL DEFAULT 0",
    "holdout": "REAL NOT NULL DEFAULT 0",
    "holdout_members": "BLOB",
}


@dataclass(frozen=True)
class AudienceRecord:
    """An audience's configuration and delivery counters (without the member sets)."""

    name: str
    uid: str
    cohort: str
    destination: str
    identifier: str
    hashing: str
    mode: str
    batch_size: int
    paused: bool
    created_ms: int
    acked_version: int
    last_success_ms: int | None
    last_attempt_ms: int | None
    failures: int
    last_error: str
    holdout: float = 0.0


@dataclass(frozen=True)
class Pending:
    """A delivery that was started and not yet fully acknowledged."""

    version: int
    full: bool
    added: BitMap
    removed: BitMap
    skipped: int
    of: int
    done: int  # batches acknowledged so far (1..done)
    number: int = 0  # this audience's delivery counter: part of the idempotency keys


def has_audiences(path: Path) -> bool:
    """Whether the store file at ``path`` exists and holds at least one audience (read-only peek)."""
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute("SELECT 1 FROM audiences LIMIT 1").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return True  # unreadable here: let the project open it and report the problem


def _bitmap(blob: bytes | None) -> BitMap:
    return BitMap() if blob is None else BitMap.deserialize(blob)


class AudienceStore:
    """Thread-safe access to one project's ``audiences.sqlite``."""

    def __init__(self, path: Path, clock: Callable[[], int]) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            have = {r[1] for r in self._db.execute("PRAGMA table_info(audiences)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in have:
                    self._db.execute(f"ALTER TABLE audiences ADD COLUMN {column} {kind}")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, statements: list[tuple[str, tuple]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for sql, params in statements:
                    self._db.execute(sql, params)
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                self._db.execute("ROLLBACK")
                raise AlreadyExistsError(str(exc)) from exc
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"audience store {self.path}: {exc}") from exc

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --------------------------------------------------------- destinations
    def create_destination(self, info: DestinationInfo, secret: str) -> DestinationInfo:
        if self._rows("SELECT 1 FROM destinations WHERE name = ?", (info.name,)):
            raise AlreadyExistsError(f"a destination named {info.name!r} already exists")
        created = self._clock()
        self._tx(
            [
                (
                    "INSERT INTO destinations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (info.name, info.kind, info.url, info.path, info.format, info.shape, secret, created),
                )
            ]
        )
        return self.destination(info.name)

    def destination(self, name: str) -> DestinationInfo:
        rows = self._rows(
            "SELECT name, kind, url, path, format, shape, created_ms FROM destinations WHERE name = ?",
            (name,),
        )
        if not rows:
            raise NotFoundError(f"no destination named {name!r}")
        return DestinationInfo(*rows[0])

    def secret(self, name: str) -> str:
        rows = self._rows("SELECT secret FROM destinations WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"no destination named {name!r}")
        return str(rows[0][0])

    def destinations(self) -> list[DestinationInfo]:
        rows = self._rows(
            "SELECT name, kind, url, path, format, shape, created_ms FROM destinations ORDER BY name"
        )
        return [DestinationInfo(*r) for r in rows]

    def delete_destination(self, name: str) -> None:
        self.destination(name)
        users = self._rows("SELECT name FROM audiences WHERE destination = ? ORDER BY name", (name,))
        if users:
            from cohortd.errors import AudienceError

            names = ", ".join(repr(r[0]) for r in users)
            raise AudienceError(f"destination {name!r} is used by audience(s) {names}; delete them first")
        self._tx([("DELETE FROM destinations WHERE name = ?", (name,))])

    # ------------------------------------------------------------ audiences
    def create_audience(
        self,
        name: str,
        cohort: str,
        destination: str,
        identifier: str,
        hashing: str,
        mode: str,
        batch_size: int,
        holdout: float = 0.0,
    ) -> AudienceRecord:
        self.destination(destination)
        if self._rows("SELECT 1 FROM audiences WHERE name = ?", (name,)):
            raise AlreadyExistsError(f"an audience named {name!r} already exists")
        self._tx(
            [
                (
                    "INSERT INTO audiences (name, uid, cohort, destination, identifier, hashing, mode, "
                    "batch_size, created_ms, holdout) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        secrets.token_hex(6),
                        cohort,
                        destination,
                        identifier,
                        hashing,
                        mode,
                        batch_size,
                        self._clock(),
                        holdout,
                    ),
                )  # fmt: skip
            ]
        )
        return self.audience(name)

    def audience(self, name: str) -> AudienceRecord:
        rows = self._rows(f"SELECT {_AUDIENCE_COLUMNS} FROM audiences WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"no audience named {name!r}")
        return _record(rows[0])

    def audiences(self) -> list[AudienceRecord]:
        return [_record(r) for r in self._rows(f"SELECT {_AUDIENCE_COLUMNS} FROM audiences ORDER BY name")]

    def set_paused(self, name: str, paused: bool) -> AudienceRecord:
        self.audience(name)
        self._tx([("UPDATE audiences SET paused = ? WHERE name = ?", (int(paused), name))])
        return self.audience(name)

    def delete_audience(self, name: str) -> None:
        self.audience(name)
        self._tx(
            [
                ("DELETE FROM audiences WHERE name = ?", (name,)),
                ("DELETE FROM sync_log WHERE audience = ?", (name,)),
                ("DELETE FROM entries WHERE audience = ?", (name,)),
            ]
        )

    # ---------------------------------------------------------------- state
    def acknowledged(self, name: str) -> tuple[int, BitMap]:
        """(version, member set) the destination holds."""
        rows = self._rows("SELECT acked_version, acked_members FROM audiences WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"no audience named {name!r}")
        return int(rows[0][0]), _bitmap(rows[0][1])

    def pending(self, name: str) -> Pending | None:
        rows = self._rows(
            "SELECT pending_version, pending_full, pending_added, pending_removed, pending_skipped, "
            "pending_of, pending_done, deliveries FROM audiences WHERE name = ?",
            (name,),
        )
        if not rows or rows[0][0] is None:
            return None
        v, full, added, removed, skipped, of, done, number = rows[0]
        added_set, removed_set = _bitmap(added), _bitmap(removed)
        return Pending(
            int(v), bool(full), added_set, removed_set, int(skipped), int(of), int(done), int(number)
        )

    def begin(self, name: str, p: Pending) -> None:
        """Record a delivery before its first batch is sent (and count it: a new delivery number)."""
        self._tx(
            [
                (
                    "UPDATE audiences SET pending_version = ?, pending_full = ?, pending_added = ?, "
                    "pending_removed = ?, pending_skipped = ?, pending_of = ?, pending_done = 0, "
                    "deliveries = deliveries + 1 WHERE name = ?",
                    (
                        p.version,
                        int(p.full),
                        p.added.serialize(),
                        p.removed.serialize(),
                        p.skipped,
                        p.of,
                        name,
                    ),
                )
            ]
        )

    def attempt(self, a: SyncAttempt, acked_batch: bool) -> None:
        """Log one attempt; a success also records the batch as acknowledged (one transaction)."""
        log = (
            "INSERT INTO sync_log (audience, time_ms, from_version, to_version, full, seq, of, added, "
            "removed, skipped, skip_reason, status, http_status, error, latency_ms, idempotency_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a.audience, a.time_ms, a.from_version, a.to_version, int(a.full), a.seq, a.of, a.added,
             a.removed, a.skipped, a.skip_reason, a.status, a.http_status, a.error, a.latency_ms,
             a.idempotency_key),
        )  # fmt: skip
        counters: tuple[str, tuple[Any, ...]]
        if acked_batch:
            counters = (
                "UPDATE audiences SET pending_done = ?, failures = 0, last_error = '', last_attempt_ms = ?, "
                "last_success_ms = ? WHERE name = ?",
                (a.seq, a.time_ms, a.time_ms, a.audience),
            )
        else:
            counters = (
                "UPDATE audiences SET failures = failures + 1, last_error = ?, last_attempt_ms = ? "
                "WHERE name = ?",
                (a.error or f"HTTP {a.http_status}", a.time_ms, a.audience),
            )
        self._tx([log, counters])

    def commit(self, name: str, version: int, members: BitMap, entered: BitMap | None = None) -> None:
        """The whole pending delivery was acknowledged: the destination now holds ``members``.

        ``entered`` (audiences with a holdout): the users it added, recorded as entries at
        the delivery's version time.
        """
        self._tx(
            [
                *self._entry_rows(name, entered, version // 1000, held_out=False),
                (
                    "UPDATE audiences SET acked_version = ?, acked_members = ?, pending_version = NULL, "
                    "pending_full = NULL, pending_added = NULL, pending_removed = NULL, "
                    "pending_skipped = NULL, "
                    "pending_of = NULL, pending_done = NULL WHERE name = ?",
                    (version, members.serialize(), name),
                ),
            ]
        )

    @staticmethod
    def _entry_rows(name: str, users: BitMap | None, time_ms: int, held_out: bool) -> list[tuple[str, tuple]]:
        if not users:
            return []
        sql = "INSERT INTO entries (audience, user, entered_ms, held_out) VALUES (?, ?, ?, ?)"
        return [(sql, (name, int(u), time_ms, int(held_out))) for u in users]

    def forget_users(self, users: BitMap) -> None:
        """Remove purged (deleted) users from every audience's state, then rewrite the file.

        Called at the purge of a user deletion (``EventStore.purge_listeners``): the
        acknowledged, held-out and pending sets and the entry log lose them, and VACUUM plus a
        truncating WAL checkpoint leave no page of the old state in the file or its log.
        """
        if not users:
            return
        ids = sorted(int(u) for u in users)
        statements: list[tuple[str, tuple]] = []
        columns = ("acked_members", "holdout_members", "pending_added", "pending_removed")
        for row in self._rows(f"SELECT name, {', '.join(columns)} FROM audiences"):
            name, blobs = row[0], row[1:]
            for column, blob in zip(columns, blobs, strict=True):
                if blob is not None and _bitmap(blob).intersection_cardinality(users):
                    kept = _bitmap(blob) - users
                    statements.append(
                        (f"UPDATE audiences SET {column} = ? WHERE name = ?", (kept.serialize(), name))
                    )
        for lo in range(0, len(ids), 500):
            chunk = ids[lo : lo + 500]
            marks = ", ".join("?" * len(chunk))
            statements.append((f"DELETE FROM entries WHERE user IN ({marks})", tuple(chunk)))
        self._tx(statements)
        with self._lock:
            try:
                self._db.execute("VACUUM")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise StorageError(f"audience store {self.path}: {exc}") from exc

    def held_out(self, name: str) -> BitMap:
        """The held-out users currently in the cohort (as of the last sync)."""
        rows = self._rows("SELECT holdout_members FROM audiences WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"no audience named {name!r}")
        return _bitmap(rows[0][0])

    def hold_out(self, name: str, members: BitMap, entered: BitMap, time_ms: int) -> None:
        """Record the held-out members now, and the entries among them, in one transaction."""
        self._tx(
            [
                *self._entry_rows(name, entered, time_ms, held_out=True),
                ("UPDATE audiences SET holdout_members = ? WHERE name = ?", (members.serialize(), name)),
            ]
        )

    def entries(self, name: str, since_ms: int | None, until_ms: int | None) -> list[tuple[int, int, bool]]:
        """(user, entry time, held out) of every entry in ``[since, until)``, oldest first."""
        self.audience(name)
        rows = self._rows(
            "SELECT user, entered_ms, held_out FROM entries WHERE audience = ? AND entered_ms >= ? "
            "AND entered_ms < ? ORDER BY entered_ms, user",
            (name, -(2**62) if since_ms is None else since_ms, 2**62 if until_ms is None else until_ms),
        )
        return [(int(u), int(t), bool(h)) for u, t, h in rows]

    def advance(self, name: str, version: int) -> None:
        """Nothing to send for ``version`` (the destination already holds it)."""
        self._tx([("UPDATE audiences SET acked_version = ? WHERE name = ?", (version, name))])

    # ------------------------------------------------------------------ log
    def log(self, name: str, limit: int = 50) -> list[SyncAttempt]:
        """The latest attempts of an audience, newest first."""
        self.audience(name)
        rows = self._rows(
            "SELECT audience, time_ms, from_version, to_version, full, seq, of, added, removed, skipped, "
            "skip_reason, status, http_status, error, latency_ms, idempotency_key FROM sync_log "
            "WHERE audience = ? ORDER BY id DESC LIMIT ?",
            (name, max(int(limit), 0)),
        )
        return [SyncAttempt(*(r[:4] + (bool(r[4]),) + r[5:])) for r in rows]

    def recent_statuses(self, name: str, n: int) -> list[str]:
        return [r[0] for r in self._rows(
            "SELECT status FROM sync_log WHERE audience = ? ORDER BY id DESC LIMIT ?", (name, n)
        )]  # fmt: skip

    def prune(self, now_ms: int) -> int:
        """Delete log rows older than the retention (14 days); returns how many."""
        with self._lock:
            cur = self._db.execute("DELETE FROM sync_log WHERE time_ms < ?", (now_ms - LOG_RETENTION_MS,))
            return cur.rowcount


def _record(r: tuple) -> AudienceRecord:
    return AudienceRecord(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], int(r[7]), bool(r[8]), int(r[9]), int(r[10]),
        r[11], r[12], int(r[13]), r[14], float(r[15]),
    )  # fmt: skip
